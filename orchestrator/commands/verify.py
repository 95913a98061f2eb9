"""``prmlab verify``: prove the deployed lab works (the same flow reconcile runs after apply).

Reads what the lab owns (``engine.read_outputs``: a reconcile's read step), derives the MCP
URL, the app, the server URL and the test user, then runs ``orchestrator.verify``. Exit codes:
0 no check failed and at least one passed, 1 a check failed, none ran, or the lab is not
deployed, 2 lab.yaml is invalid or ``--check`` names an unknown group. ``--output json``: one
document (``output.json_doc.verify_document``; a failure before the checks ran is a diagnostics
document, printed by ``cli``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option


def _known_groups(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """An unknown group is a usage error (exit 2, the groups listed), before anything runs."""
    from orchestrator.spec.values import CHECK_GROUPS

    unknown = sorted({v for v in value if v.split(".")[0] not in CHECK_GROUPS})
    if unknown:
        raise click.BadParameter(
            f"unknown check group {', '.join(repr(u) for u in unknown)}: the groups are "
            f"{', '.join(CHECK_GROUPS)} (or one check of a group, e.g. client.sign_in)"
        )
    return value


@click.command("verify")
@lab_file_option("The lab to verify.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--token",
    "tokens",
    envvar="PRMLAB_TOKEN",
    multiple=True,
    metavar="[API=]TOKEN",
    help="An access token for an MCP API's client (skips its browser sign-in on an Azure target). "
    "API=TOKEN: for that MCP API; a bare TOKEN: for every MCP API, when they all accept one app's "
    "tokens. Repeatable. Env: PRMLAB_TOKEN (whitespace-separated).",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    callback=_known_groups,
    help="Run only these checks or groups (discovery, client, idle, forged, bypass, gateway); repeatable.",
)
def command(lab_file: Path, output: str, tokens: tuple[str, ...], checks: tuple[str, ...]) -> int:
    """Prove the deployed lab works: discovery, sign-in, tool call, forged tokens refused."""
    import anyio

    from orchestrator.engine import read_outputs
    from orchestrator.labfile import complete, load
    from orchestrator.target import TargetSettings
    from orchestrator.verify.after_reconcile import run_for_lab, write_report
    from orchestrator.verify.targeting import tokens_per_api

    lab, _ = load(lab_file)
    settings = TargetSettings.for_lab(lab)
    lab, graph = complete(lab, settings.subscription_id)
    try:
        per_api = tokens_per_api(lab, tokens)
    except ValueError as exc:  # a usage error (exit 2), before anything runs
        raise click.BadParameter(str(exc), param_hint="'--token'") from exc

    async def main() -> int:
        outputs = await read_outputs(lab, graph, settings)
        report = await run_for_lab(
            lab,
            outputs,
            settings,
            tokens=per_api,
            checks=frozenset(checks) if checks else None,
            progress=sys.stderr,  # the live lines; stdout is the report
        )
        code = 0 if report.ok else 1
        if output == "json":
            from orchestrator.output.json_doc import verify_document

            doc = verify_document(lab.name, settings.kind, report.as_json(), code)
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        else:
            write_report(report, sys.stdout, output)
        return code

    return anyio.run(main)
