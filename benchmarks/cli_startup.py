"""Wall time of ``prmlab --help``, ``validate`` and ``graph`` (fresh processes, median of several runs).

Run: ``.venv/bin/python benchmarks/cli_startup.py [--runs N] [--lab lab.yaml]``. Each command is
started as a new process (as a user would run it) so interpreter start-up and imports are
counted; ``python -c pass`` is printed as the floor. Goal: ``--help`` under 0.5 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _prmlab() -> list[str]:
    script = Path(sys.executable).parent / "prmlab"
    if script.exists():
        return [str(script)]
    found = shutil.which("prmlab")
    return [found] if found else [sys.executable, "-m", "orchestrator"]


def measure(argv: list[str], runs: int, expect: int) -> list[float]:
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, check=False, cwd=ROOT, timeout=120)
        times.append(time.perf_counter() - start)
        if done.returncode != expect:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--lab", default=str(ROOT / "lab.yaml"))
    args = parser.parse_args()
    prmlab = _prmlab()
    cases = [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        ("prmlab --help", [*prmlab, "--help"]),
        ("prmlab validate", [*prmlab, "validate", "-f", args.lab]),
        ("prmlab validate --json", [*prmlab, "validate", "--json", "-f", args.lab]),
        ("prmlab graph", [*prmlab, "graph", "-f", args.lab]),
        ("prmlab graph --format mermaid", [*prmlab, "graph", "--format", "mermaid", "-f", args.lab]),
    ]
    measure(cases[1][1], 1, 0)  # warm the file cache
    print(f"{'command':<30} {'median':>8} {'min':>8} {'max':>8}   ({args.runs} runs)")
    for name, argv in cases:
        times = measure(argv, args.runs, 0)
        print(f"{name:<30} {statistics.median(times):>7.3f}s {min(times):>7.3f}s {max(times):>7.3f}s")


if __name__ == "__main__":
    main()
