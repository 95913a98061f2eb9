"""``prmlab reconcile``: make the target match lab.yaml (plan, confirm, apply, verify).

The work is done by ``orchestrator.engine``; this module only parses options and sets up the
terminal. Exit codes (also in the command's help):

* 0 — success (with ``--detailed-exitcode``: success and no changes);
* 1 — failure: a resource failed or was skipped, the target or the lock refused, verification
  failed, or the confirmation was declined;
* 2 — lab.yaml is invalid or the command line is wrong; with ``--detailed-exitcode`` 2 means
  success with changes (pending for ``--dry-run``, applied otherwise) and nothing else: the
  errors that would exit 2 exit 1 (``cli.main``);
* 130 — interrupted (Ctrl-C); the next run converges from where this one stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option

HELP = """Make the target match lab.yaml: read what the lab owns, print a plan
(+ create, ~ update, - delete, -/+ replace), ask for confirmation on a terminal, apply it
concurrently, then verify the lab with a real MCP client.

\b
Exit codes:
  0    success (with --detailed-exitcode: no changes)
  1    failure (a resource, the target, the lock, verification, declined)
  2    lab.yaml is invalid; with --detailed-exitcode: changes pending/applied
       (and only that: an invalid lab then exits 1)
  130  interrupted (run again to converge)
"""


def _confirm(question: str) -> bool:
    answer: str = click.prompt(question, default="", show_default=False, err=True)
    return answer.strip().lower() == "yes"


@click.command("reconcile", help=HELP)
@lab_file_option("The lab to reconcile.")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop; change nothing.")
@click.option(
    "--destroy", is_flag=True, help="Delete every resource the lab owns (reverse dependency order)."
)
@click.option("--yes", "-y", is_flag=True, help="Apply without asking for confirmation.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 256),
    default=10,
    show_default=True,
    help="Maximum number of concurrent calls to the target.",
)
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: print one machine-readable document (plan + result) on stdout.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are (pending or applied), 1 on any failure.",
)
@click.option("--no-verify", is_flag=True, help="Skip the verification after apply.")
def command(
    lab_file: Path,
    dry_run: bool,
    destroy: bool,
    yes: bool,
    parallelism: int,
    output: str,
    detailed_exitcode: bool,
    no_verify: bool,
) -> int:
    from orchestrator.engine import ReconcileOptions, Terminal, reconcile

    options = ReconcileOptions(
        lab_file=lab_file,
        dry_run=dry_run,
        destroy=destroy,
        yes=yes,
        parallelism=parallelism,
        output="json" if output == "json" else "text",
        detailed_exitcode=detailed_exitcode,
        verify=not no_verify,
    )
    term = Terminal(
        out=sys.stdout,
        err=sys.stderr,
        interactive=sys.stdin.isatty(),
        rich=sys.stdout.isatty(),
        confirm=_confirm,
    )
    return reconcile(options, term)
