"""``prmlab logs [server|gateway|emulator|metrics] [-f]``: the local lab's logs in one place.

The files and their formatting are ``orchestrator.logsources``: the MCP server's output, the
gateways' access log (method, path, status, duration, the API and operation that matched), the
emulator's log, the custom metrics the gateways emitted (llm-emit-token-metric); health-check
noise left out unless ``--all``. Without a source every log is
shown, each line prefixed with its source. ``-f`` follows (Ctrl-C stops: exit 130). Local
target only: Azure's logs are in Log Analytics / ``az containerapp logs show``. Exit codes: 0;
1 there is no log yet.
"""

from __future__ import annotations

from pathlib import Path

import click

HELP = """Print the local lab's logs: the MCP server's output (server), the gateway's
access log (gateway: method, path, status, duration, the API and operation that matched) and
the emulator's log (emulator) and the custom metrics the gateways sent to Application Insights
(metrics: e.g. Total Tokens of llm-emit-token-metric); every one without SOURCE. Health checks
are left out unless --all.

\b
prmlab logs gateway -f        follow the gateway's requests
prmlab logs server -n 200     the MCP server's last 200 lines
prmlab logs metrics           the token metrics of the AI-gateway policies
"""


@click.command("logs", help=HELP)
@click.argument("source", required=False, type=click.Choice(["server", "gateway", "emulator", "metrics"]))
@click.option(
    "--file",
    "lab_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("lab.yaml"),
    show_default=True,
    help="The lab whose logs to print (its state lives in <lab dir>/.prmlab/).",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("-n", "--lines", type=click.IntRange(0), default=50, show_default=True, help="Lines per log.")
@click.option("--all", "everything", is_flag=True, help="Keep the health-check lines too.")
def command(source: str | None, lab_file: Path, follow: bool, lines: int, everything: bool) -> int:
    from orchestrator import logsources
    from orchestrator.target import state_dir_for

    state = state_dir_for(lab_file)
    logs = logsources.files(state, source)
    if not logs:
        what = f"no {source} log" if source else "no log"
        click.echo(
            f"{what} yet in {state}: has the lab run on the local target? "
            "(On Azure: az containerapp logs show --follow, and the APIM logger's Application Insights.)",
            err=True,
        )
        return 1
    prefixed = len(logs) > 1
    for log in logs:
        shown = logsources.last_lines(log, lines, everything=everything)
        for line in shown:
            click.echo(f"{log.label} | {line}" if prefixed else line)
    if follow:
        for log, line in logsources.follow(logs, everything=everything):
            click.echo(f"{log.label} | {line}" if prefixed else line)
    return 0
