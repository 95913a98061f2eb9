"""``prmlab local start|stop|status|logs``: manage the local Azure emulator of a lab.

``-f lab.yaml`` picks the lab; its state folder ``<lab dir>/.prmlab/`` holds the emulator's
database, CA, logs and pid. The work is done by ``orchestrator.local``.
"""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option

_LAB = lab_file_option("The lab whose emulator to manage (its state lives in <lab dir>/.prmlab/).")


@click.group(help="Manage the local Azure emulator (start, stop, status, logs).")
def command() -> None:
    """Subcommands below."""


@command.command(help="Start the emulator in the background (no-op when it is already running).")
@_LAB
@click.option(
    "--port",
    type=int,
    default=0,
    help="Main HTTPS port on 127.0.0.1 (default: previous port, else any free one).",
)
def start(lab_file: Path, port: int) -> int:
    from orchestrator import local
    from orchestrator.target import state_dir_for

    state_dir = state_dir_for(lab_file)
    before = local.status(state_dir)
    info = local.start(state_dir, port=port)
    verb = "already running" if before.state == "running" else "started"
    click.echo(f"emulator {verb}: {info.base_url} (pid {info.pid})")
    click.echo(f"  tenant {info.tenant_id}, subscription {info.subscription_id}")
    click.echo(f"  CA {info.ca_file}; state {state_dir}")
    return 0


@command.command(help="Stop the emulator.")
@_LAB
def stop(lab_file: Path) -> int:
    from orchestrator import local
    from orchestrator.target import state_dir_for

    pid = local.stop(state_dir_for(lab_file))
    click.echo(f"emulator stopped (pid {pid})" if pid else "emulator is not running")
    return 0


@command.command(help="Show whether the emulator runs and answers (exit 1 when it does not).")
@_LAB
def status(lab_file: Path) -> int:
    from orchestrator import local
    from orchestrator.target import state_dir_for

    current = local.status(state_dir_for(lab_file))
    click.echo(current.message)
    if current.info is not None and current.state == "running":
        click.echo(
            f"  tenant {current.info.tenant_id}, subscription {current.info.subscription_id}, CA {current.info.ca_file}"
        )
    return 0 if current.state == "running" else 1


@command.command(help="Print the emulator's log (or its request log, or the custom metrics).")
@_LAB
@click.option("-n", "--lines", type=int, default=50, show_default=True, help="How many lines.")
@click.option("--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--requests", "request_log", is_flag=True, help="The JSON-lines request log instead.")
@click.option(
    "--metrics",
    "metrics_log",
    is_flag=True,
    help="The custom metrics the local gateways sent to Application Insights (JSON lines, e.g. Total Tokens).",
)
def logs(lab_file: Path, lines: int, follow: bool, request_log: bool, metrics_log: bool) -> int:
    from orchestrator import local
    from orchestrator.target import state_dir_for
    from redaction import redact

    state_dir = state_dir_for(lab_file)
    if request_log and metrics_log:
        click.echo("--requests and --metrics: choose one", err=True)
        return 2
    name = local.REQUEST_LOG if request_log else local.METRICS_LOG if metrics_log else local.LOG_FILE
    path = state_dir / name
    if not path.exists():
        click.echo(f"no log yet at {path}", err=True)
        return 1
    # Redacted again on the way out: a log written before redaction existed may hold credentials.
    text = local.tail(path, lines)
    if text:
        click.echo(redact(text))
    if follow:
        for line in local.follow(path):
            click.echo(redact(line))
    return 0
