"""``python -m emulator --state-dir DIR [--port 0] ...``: run the local Azure in the foreground.

``prmlab local start`` runs this as a background process; the test fixture runs it as a
subprocess. Exit codes: 0 stopped cleanly, 3 the port is taken, 4 another emulator already runs
on this state folder (``emulator.lock``), 5 the state folder's database is damaged (the last
line of stderr, ``emulator: <what and how to recover>``, says so), 1 any other start failure.

Without ``--port`` the emulator reuses the port of its previous run (``emulator.port`` in the
state folder) when it is free: the issuer URL (``https://127.0.0.1:<port>/login/...``) is written
into federated credentials and container apps, so it must not change between restarts.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import sys
from pathlib import Path
from typing import IO

import anyio

from emulator.arm import ArmSettings, ThrottleSettings
from emulator.context import Faults
from emulator.ports import PortInUseError, bind_listener
from emulator.rbac import DEFAULT_PROPAGATION_S
from emulator.server import PORT_FILE, ServerOptions, serve
from emulator.statedir import PRIVATE_UMASK, make_private
from emulator.store import StateError
from redaction import redact_stdio

EXIT_PORT_TAKEN = 3
EXIT_STATE_LOCKED = 4
EXIT_STATE_CORRUPT = 5
LOCK_FILE = "emulator.lock"


def parse_args(argv: list[str] | None = None) -> ServerOptions:
    p = argparse.ArgumentParser(prog="python -m emulator", description="prmlab local Azure emulator")
    p.add_argument("--state-dir", type=Path, required=True, help="state folder (CA, SQLite, logs)")
    p.add_argument("--port", type=int, default=0, help="main HTTPS port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--apim-create-seconds", type=float, default=1.0, help="duration of an APIM create")
    p.add_argument("--page-size", type=int, default=100, help="items per page of ARM and Graph lists")
    p.add_argument("--api-write-seconds", type=float, default=0.0, help="how long an API write holds the API")
    p.add_argument("--latency-ms", type=float, default=0.0, help="fault: added latency per call")
    p.add_argument("--throttle-rate", type=float, default=0.0, help="fault: share of calls answered 429")
    p.add_argument("--error-rate", type=float, default=0.0, help="fault: share of calls answered 500/503")
    p.add_argument("--replication-delay", type=float, default=0.0, help="fault: Graph replication delay (s)")
    p.add_argument(
        "--rbac-propagation-seconds",
        type=float,
        default=DEFAULT_PROPAGATION_S,
        help="how long a new role assignment takes to take effect on the data planes (Azure: up to "
        f"10 minutes); default {DEFAULT_PROPAGATION_S:g}",
    )
    p.add_argument("--seed", type=int, default=None, help="fault: random seed (deterministic faults)")
    p.add_argument(
        "--arm-throttling",
        choices=["on", "off"],
        default="on",
        help="ARM's subscription token buckets (Azure's documented numbers unless scaled); default on",
    )
    p.add_argument(
        "--arm-throttling-scale",
        type=float,
        default=1.0,
        help="multiply Azure's bucket sizes and refill rates (tests)",
    )
    a = p.parse_args(argv)
    if a.rbac_propagation_seconds < 0:
        p.error("--rbac-propagation-seconds must be >= 0")
    if a.page_size < 1:
        p.error("--page-size must be >= 1")
    for name in ("throttle_rate", "error_rate"):
        if not 0 <= getattr(a, name) <= 1:
            p.error(f"--{name.replace('_', '-')} must be between 0 and 1")
    try:
        throttling = ThrottleSettings().configure(
            {"enabled": a.arm_throttling == "on", "scale": a.arm_throttling_scale}
        )
    except ValueError as exc:
        p.error(f"--arm-throttling-scale: {exc}")
    return ServerOptions(
        state_dir=a.state_dir,
        port=a.port,
        arm=ArmSettings(
            apim_create_seconds=a.apim_create_seconds,
            page_size=a.page_size,
            api_write_seconds=a.api_write_seconds,
        ),
        graph_page_size=a.page_size,
        faults=Faults(
            latency_ms=a.latency_ms,
            throttle_rate=a.throttle_rate,
            error_rate=a.error_rate,
            replication_delay_s=a.replication_delay,
            rbac_propagation_s=a.rbac_propagation_seconds,
            seed=a.seed,
        ),
        throttling=throttling,
    )


def _previous_port(state_dir: Path) -> int:
    """The port of the last run (kept so that issuer URLs and base URLs stay stable), else 0."""
    try:
        port = int((state_dir / PORT_FILE).read_text().strip())
    except (OSError, ValueError):
        return 0
    return port if 0 < port < 65536 else 0


def _hold_state_lock(state_dir: Path) -> IO[str] | None:
    """One emulator per state folder: an exclusive lock held for the life of the process."""
    f = (state_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        print(f"emulator: another emulator already runs on {state_dir} (pid {holder})", file=sys.stderr)
        return None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    return f


def main(argv: list[str] | None = None) -> int:
    redact_stdio()  # emulator.log is this process's output: no credential reaches it
    options = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.umask(PRIVATE_UMASK)  # everything this process (and the apps it starts) creates is private
    make_private(options.state_dir)
    lock = _hold_state_lock(options.state_dir)
    if lock is None:
        return EXIT_STATE_LOCKED
    try:
        sock = bind_listener(options.port or _previous_port(options.state_dir))
    except PortInUseError as exc:
        if options.port:
            print(f"emulator: {exc}", file=sys.stderr)
            return EXIT_PORT_TAKEN
        sock = bind_listener(0)  # the previous port is taken now: any free port
    try:
        anyio.run(serve, options, sock)
    except StateError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return EXIT_STATE_CORRUPT
    return 0


if __name__ == "__main__":
    sys.exit(main())
