"""The ``prmlab`` command line: the only place that prints and picks exit codes.

Subcommands live in ``orchestrator.commands.<name>`` and are imported only when run,
so ``prmlab --help`` never pays for the Azure SDK imports. Every ``PrmlabError`` is
printed as one clear message (no traceback) with its own exit code; Ctrl-C exits 130.

Exit codes: 0 success; 1 failure (a resource, the target, verification); 2 lab.yaml is
invalid — or, with ``reconcile --detailed-exitcode``, changes are pending; 130 interrupted.
"""

from __future__ import annotations

import importlib
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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _library_logs_as_one_line()
    try:
        code = cli.main(args=argv, prog_name="prmlab", standalone_mode=False)
    except PrmlabError as exc:
        # Server-sent text may hold control characters, or a URL with a code in it.
        message = redact(printable(exc.message, keep="\n"))
        click.echo(f"Error: {message}" if exc.exit_code != 2 else message, err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
