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
paths still resolve. Prints seconds; exit 1 if a step failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRMLAB = [sys.executable, "-m", "orchestrator"]


def run(step: str, args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run([*PRMLAB, *args], cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    print(f"{step:<34} {elapsed:7.2f} s  {status}")
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(1)
    return elapsed


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
        file = ["-f", str(target)]
        run("reconcile from empty (+verify)", ["reconcile", *file, "--yes"], folder)
        run("reconcile again (no-op, +verify)", ["reconcile", *file, "--yes"], folder)
        run("reconcile --destroy", ["reconcile", *file, "--destroy", "--yes"], folder)
    finally:
        subprocess.run(
            [*PRMLAB, "local", "stop", *["-f", str(target)]], cwd=folder, capture_output=True, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
