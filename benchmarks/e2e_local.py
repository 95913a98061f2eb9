"""Wall time from nothing to a verified lab on the local target (issue 7's measurement).

Copies the default lab.yaml into a fresh temporary folder (so the emulator's state starts
empty), then times, as a user would run them:

1. ``prmlab reconcile --yes`` from empty — emulator start, every resource created through the
   SDKs, the MCP server started, the whole verification flow;
2. the same command again (a no-op plan; verification runs again);
3. ``prmlab reconcile --destroy --yes``.

Run: ``.venv/bin/python benchmarks/e2e_local.py [LAB]`` (default ``lab.yaml``; e.g.
``labs/gateway.yaml`` for gateway mode, whose verification adds the gateway's own suite). The
lab is copied to the same relative place in the temporary folder, so its ``../mcp_server``-style
paths still resolve. The emulator runs with its defaults, the RBAC propagation delay included
(``--rbac-propagation-seconds``, 2 s: a role assignment takes effect on the data planes that
long after it was made); the waits the engine reported for it are printed under their step.
Prints seconds per step, each step's phases (``PHASES``: start-up, read + plan, apply, before
the checks, checks) and the load average before and after (a busy machine's figures are not
the lab's); exit 1 if a step failed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PRMLAB = [sys.executable, "-m", "orchestrator"]


# Where a run's time goes, from the moments its progress lines appear (in this order):
# start-up (the CLI, the emulator's start when it was not running), reading the target and
# planning, the apply, the steps before the checks (test users, the MCP server's health), the
# checks.
PHASES = (
    ("start-up", "Reading the target"),
    ("read + plan", "Plan:"),
    ("apply", "Apply complete"),
    ("before the checks", "Verifying the lab"),
    ("checks", "verified:"),
)


def run(step: str, args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    seen: dict[str, float] = {}
    lines: list[str] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [*PRMLAB, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:  # stamped as it arrives: the phases below
            lines.append(line)
            for _, marker in PHASES:
                if marker not in seen and marker in line:
                    seen[marker] = time.perf_counter() - started
    elapsed = time.perf_counter() - started
    status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    print(f"{step:<34} {elapsed:7.2f} s  {status}")
    if proc.returncode != 0:
        sys.stdout.write("".join(lines)[-8000:])
        raise SystemExit(1)
    last = 0.0
    parts = []
    for name, marker in PHASES:
        if marker in seen:
            parts.append(f"{name} {seen[marker] - last:.2f}")
            last = seen[marker]
    print(f"{'':<36}{' | '.join(parts)} s")
    # Waits for a role assignment to take effect (the emulator's RBAC propagation delay, 2 s by
    # default: emulator.rbac), as the progress reported them.
    for line in lines:
        if "waiting for" in line or "writable after" in line:
            print(f"{'':<36}{line.strip()[:150]}")
    return elapsed


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} CPUs)"


def _log(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def propagation_slack(state: Path) -> None:
    """How much room the RBAC propagation delay had, from the request logs of the first run:
    each role assignment's creation to the first call that needed it (the container app's PUT
    for AcrPull; the gateway's first client registration for the client store's role), and the
    refusals met meanwhile (400 pull refused / 503 registration not stored)."""
    arm = _log(state / "requests.jsonl")
    gateway = _log(state / "gateway.jsonl")

    def created(marker: str) -> float | None:
        for e in arm:
            path = str(e.get("path", "")).lower()
            if (
                e.get("method") == "PUT"
                and marker in path
                and "roleassignments" in path
                and e["status"] < 300
            ):
                return float(e["ts"])
        return None

    pull = created("/microsoft.containerregistry/registries/")
    apps = [
        e
        for e in arm
        if e.get("method") == "PUT" and "/microsoft.app/containerapps/" in str(e.get("path", "")).lower()
    ]
    if pull is not None and apps:
        refused = sum(1 for e in apps if e["status"] == 400)
        print(
            f"{'':<36}AcrPull granted -> first container app PUT: {float(apps[0]['ts']) - pull:.2f} s; pull refused {refused}x"
        )
    store = created("/microsoft.storage/storageaccounts/")
    registers = [
        e for e in gateway if e.get("method") == "POST" and str(e.get("path", "")).endswith("/register")
    ]
    if store is not None and registers:
        refused = sum(1 for e in registers if e["status"] == 503)
        print(
            f"{'':<36}store role granted -> first registration: {float(registers[0]['ts']) - store:.2f} s; not stored {refused}x"
        )


def main() -> None:
    lab = Path(sys.argv[1] if len(sys.argv) > 1 else "lab.yaml")
    folder = Path(tempfile.mkdtemp(prefix="prmlab-e2e-"))
    target = folder / lab
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / lab, target)
        shutil.copy(ROOT / "lab.schema.json", folder / "lab.schema.json")
        os.symlink(ROOT / "mcp_server", folder / "mcp_server")
        print(f"lab: {target}")
        print(f"before: {load()}")
        file = ["-f", str(target)]
        run("reconcile from empty (+verify)", ["reconcile", *file, "--yes"], folder)
        propagation_slack(target.parent / ".prmlab")
        run("reconcile again (no-op, +verify)", ["reconcile", *file, "--yes"], folder)
        run("reconcile --destroy", ["reconcile", *file, "--destroy", "--yes"], folder)
        print(f"after: {load()}")
    finally:
        subprocess.run(
            [*PRMLAB, "local", "stop", *["-f", str(target)]], cwd=folder, capture_output=True, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
