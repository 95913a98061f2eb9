"""The ``prmlab`` command line: the only place that prints and picks exit codes.

Subcommands live in ``orchestrator.commands.<name>`` and are imported only when run,
so ``prmlab --help`` never pays for the Azure SDK imports. Every ``PrmlabError`` is
printed as one clear message (no traceback) with its own exit code; Ctrl-C exits 130.

Exit codes: 0 success; 1 failure (a resource, the target, verification); 2 lab.yaml is
invalid or the command line is wrong; 130 interrupted. With ``--detailed-exitcode`` (Terraform's
rule) 2 means changes and nothing else: an error that would exit 2 exits 1.

JSON mode (``--output json`` or ``--json`` on the command line): stdout carries exactly one JSON
document; a failure is a diagnostics document (``output.diagnostics``), not text on stderr.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys

import click

from orchestrator.errors import PrmlabError, printable
from redaction import RedactingFormatter, redact

# name -> (module, one-line help). The module defines ``command: click.Command``.
_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("orchestrator.commands.validate", "Check lab.yaml and report every problem at once."),
    "render": ("orchestrator.commands.render", "Render every policy of the lab to APIM policy XML."),
    "schema": ("orchestrator.commands.schema", "Write lab.schema.json (JSON Schema of lab.yaml)."),
    "reconcile": ("orchestrator.commands.reconcile", "Make the target match lab.yaml, then verify it."),
    "verify": ("orchestrator.commands.verify", "Prove the deployed lab works with a real MCP client."),
    "output": ("orchestrator.commands.output", "Print the lab's outputs (MCP URL, PRM URL, client ids...)."),
    "graph": ("orchestrator.commands.graph", "Draw the lab's dependency graph (DOT, Mermaid, JSON)."),
    "state": ("orchestrator.commands.state", "List what the lab owns on its target, with ids."),
    "doctor": ("orchestrator.commands.doctor", "Check the target first: sign-in, providers, rights, names."),
    "trace": (
        "orchestrator.commands.trace",
        "Trace one request through the gateway: each policy element's decision.",
    ),
    "logs": (
        "orchestrator.commands.logs",
        "Print the local lab's logs: MCP server, gateway access log, emulator.",
    ),
    "local": ("orchestrator.commands.local", "Manage the local Azure emulator (start, stop, status, logs)."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # `prmlab --help` lists commands from the table: it imports no command module.
        with formatter.section("Commands"):
            formatter.write_dl([(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prmlab")
def cli() -> None:
    """prmlab: provision and prove an OAuth-protected MCP server (RFC 9728 PRM lab) from lab.yaml."""


class _OneLine(RedactingFormatter):
    """A log record as one line: libraries log failures prmlab reports itself (the MCP SDK logs
        "OAuth flow error" with the whole traceback before raising it to the verifier, which turns it
        into a failed check) — the user sees the report, never a library's traceback; credentials in
    the line are redacted (``redaction``)."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(
            {**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None}
        )
        return super().format(record).splitlines()[0] if record.getMessage() else ""


def _library_logs_as_one_line() -> None:
    root = logging.getLogger()
    if root.handlers:  # somebody (a test harness, an embedding program) configured logging
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_OneLine("%(name)s: %(levelname)s: %(message)s"))
    root.addHandler(handler)


# Commands whose ``--output`` (graph: ``--format``) takes json (render's ``-o/--output`` is a folder).
_JSON_OUTPUT_COMMANDS = frozenset({"reconcile", "verify", "validate", "output", "state", "graph", "trace"})


def _command_name(args: list[str]) -> str:
    return next((a for a in args if not a.startswith("-")), "")


def _json_mode(args: list[str]) -> bool:
    """Did the command line ask for JSON? Read from the arguments themselves, so that even a
    usage error (an unknown option, a bad value) is answered with a JSON document."""
    if _command_name(args) not in _JSON_OUTPUT_COMMANDS:
        return False
    json_mode = False  # the last of --json / --output X wins, as click decides
    for arg, following in zip(args, [*args[1:], ""], strict=True):
        if arg == "--json":
            json_mode = True
        elif arg.startswith(("--output=", "--format=")):
            json_mode = arg.endswith("=json")
        elif arg in ("--output", "--format"):
            json_mode = following == "json"
    return json_mode


def _fail(args: list[str], code: int, kind: str, message: str, exc: PrmlabError | None = None) -> None:
    """Report a failure (text on stderr, or the JSON document on stdout) and exit."""
    if code == 2 and "--detailed-exitcode" in args:
        code = 1  # 2 means "changes" and nothing else
    if _json_mode(args):
        from orchestrator.output.diagnostics import diagnostic, diagnostics_of, error_document

        def clean(text: str) -> str:
            return redact(printable(text, keep="\n"))

        found = diagnostics_of(exc, clean) if exc is not None else [diagnostic(kind, clean(message))]
        doc = error_document(_command_name(args), found, code)
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(message, err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _library_logs_as_one_line()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="prmlab", standalone_mode=False)
    except PrmlabError as exc:
        # Server-sent text may hold control characters, or a URL with a code in it.
        message = redact(printable(exc.message, keep="\n"))
        _fail(args, exc.exit_code, "error", f"Error: {message}" if exc.exit_code != 2 else message, exc)
    except click.exceptions.Abort:
        _fail(args, 130, "interrupted", "Aborted.")
    except KeyboardInterrupt:
        _fail(args, 130, "interrupted", "Interrupted.")
    except click.ClickException as exc:
        if _json_mode(args):
            _fail(args, exc.exit_code, "usage", exc.format_message())
        exc.show()  # click's own text: usage line, hint, "Error: ..."
        sys.exit(1 if exc.exit_code == 2 and "--detailed-exitcode" in args else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
