"""``prmlab verify``: prove the deployed lab works (the same flow reconcile runs after apply).

Reads what the lab owns (``engine.read_outputs``: a reconcile's read step), derives the MCP
URL, the app, the server URL and the test user, then runs ``orchestrator.verify``. Exit codes:
0 every check passed (or was skipped), 1 a check failed or the lab is not deployed, 2 lab.yaml
is invalid.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("verify")
@click.option(
    "-f",
    "--file",
    "lab_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("lab.yaml"),
    show_default=True,
    help="The lab to verify.",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--token",
    envvar="PRMLAB_TOKEN",
    default=None,
    help="Azure target: an access token for the MCP API (skips the browser sign-in). Env: PRMLAB_TOKEN.",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    help="Run only these checks or groups (discovery, client, forged, bypass); repeatable.",
)
def command(lab_file: Path, output: str, token: str | None, checks: tuple[str, ...]) -> int:
    """Prove the deployed lab works: discovery, sign-in, tool call, forged tokens refused."""
    import anyio

    from orchestrator.engine import read_outputs
    from orchestrator.labfile import load
    from orchestrator.target import TargetSettings
    from orchestrator.verify.after_reconcile import run_for_lab, write_report

    lab, graph = load(lab_file)
    settings = TargetSettings.for_lab(lab)

    async def main() -> bool:
        outputs = await read_outputs(lab, graph, settings)
        report = await run_for_lab(
            lab, outputs, settings, token=token, checks=frozenset(checks) if checks else None
        )
        write_report(report, sys.stdout, output)
        return report.ok

    return 0 if anyio.run(main) else 1
