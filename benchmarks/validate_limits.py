"""``prmlab validate`` on hostile input: exit code, wall time and peak memory per case; then the
seeded lab.yaml fuzz (tracebacks, hangs, located issues, time per mutant).

Run: ``.venv/bin/python benchmarks/validate_limits.py [--fuzz-count 1200] [--no-fuzz]``.

Part 1 starts ``python -m orchestrator validate -f <file>`` once per case (the issue 17 item 12
list: impossible date, bad ``!!int``/``!!bool``/``!!float``, 5,000 digits, ``<<: foo``, a
self-merging mapping, 1,200-deep nesting, a 300-character ``server.source``, ``${V}`` that
expands to an impossible date, a NUL byte, a FIFO, ``/dev/urandom``, a 2 MB file of 200,000
unknown keys; and the worst cases under the caps: 24,000 unknown keys in 0.7 MB, 50,000 list
items) and prints the exit code, whether stderr has a traceback, the first line, the wall time
and the child's peak RSS (``wait4``). A case still running after 60 s is killed and reported as
a hang. Part 2 loads ``--fuzz-count`` mutants (``tests/orchestrator/spec/mutants.py``, the
fuzz test's seed) in process and counts outcomes: loaded, refused with located issues,
tracebacks (by exception type); and the median / max time per mutant.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE = (ROOT / "lab.yaml").read_text(encoding="utf-8")


def _cases(folder: Path) -> dict[str, Callable[[], Path]]:
    def text(name: str, body: str) -> Callable[[], Path]:
        def make() -> Path:
            path = folder / f"{name}.yaml"
            path.write_text(body, encoding="utf-8")
            return path

        return make

    def fifo() -> Path:
        path = folder / "fifo.yaml"
        os.mkfifo(path)
        return path

    return {
        "name: 2001-13-45": text("date", BASE.replace("name: mcp-prm-oauth\n", "name: 2001-13-45\n", 1)),
        "!!int abc": text("int", BASE.replace("  port: 8000", "  port: !!int abc")),
        "!!bool maybe": text(
            "bool", BASE.replace("subscription_required: false   #", "subscription_required: !!bool maybe #")
        ),
        "!!float abc": text("float", BASE.replace("  cpu: 0.5", "  cpu: !!float abc")),
        "5,000-digit integer": text("digits", BASE.replace("  port: 8000", "  port: " + "9" * 5000)),
        "<<: foo": text("merge", BASE.replace("  port: 8000", "  port: 8000\n  <<: foo")),
        "self-merge": text(
            "selfmerge", BASE.replace("managed_identities:\n", "managed_identities: &m\n  <<: *m\n")
        ),
        "1,200-deep nesting": text("deep", BASE + "x: " + "[" * 1200 + "]" * 1200 + "\n"),
        "300-char server.source": text(
            "source", BASE.replace("  source: ./mcp_server", "  source: ./" + "a" * 300)
        ),
        "${V} -> 2001-13-45": text("envdate", BASE.replace("name: mcp-prm-oauth\n", "name: ${V}\n", 1)),
        "NUL byte": text("nul", BASE.replace("  port: 8000", "  port: 80\x0000")),
        "FIFO": fifo,
        "/dev/urandom": lambda: Path("/dev/urandom"),
        "2 MB, 200k unknown keys": text(
            "bigkeys", BASE + "extra:\n" + "".join(f"  k{i}: 1\n" for i in range(200_000))
        ),
        "0.7 MB, 24k unknown keys": text(
            "k24", BASE + "".join(f"unknown_key_number_{i:06d}: 1\n" for i in range(24_000))
        ),
        "50k list items": text("items", BASE + "x: [" + ", ".join("1" for _ in range(50_000)) + "]\n"),
    }


def _run(path: Path, timeout: float = 60.0) -> tuple[int | str, bool, str, float, int]:
    """(exit code or 'hang', traceback?, first stderr line, seconds, peak RSS KB) of one validate."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "validate", "-f", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=path.parent if path.parent.exists() else ROOT,
            # this checkout's code, whatever the virtualenv's editable install points at
            env={**os.environ, "V": "2001-13-45", "PYTHONPATH": str(ROOT)},
        )
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.send_signal(signal.SIGKILL)
                _, status, usage = os.wait4(child.pid, 0)
                child.returncode = -9
                err.seek(0)
                return "hang", False, "(killed after 60 s)", time.perf_counter() - start, usage.ru_maxrss
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    first = stderr.strip().splitlines()[-1 if "Traceback" in stderr else 0] if stderr.strip() else ""
    return child.returncode, "Traceback" in stderr, first[:110], elapsed, usage.ru_maxrss


def hostile() -> None:
    print(f"{'case':<26} {'exit':>4} {'tb':>3} {'time s':>7} {'peak MB':>8}  first line of stderr")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "mcp_server").symlink_to(ROOT / "mcp_server")
        for name, make in _cases(folder).items():
            code, tb, first, elapsed, rss = _run(make())
            shown = first.replace(str(folder) + "/", "")
            print(
                f"{name:<26} {code!s:>4} {'yes' if tb else 'no':>3} {elapsed:7.2f} {rss / 1024:8.0f}  {shown}"
            )


def fuzz(count: int) -> None:
    from orchestrator.errors import SpecError
    from orchestrator.graph import build_graph
    from orchestrator.render.environment import variables_of
    from orchestrator.spec import parse_lab
    from tests.orchestrator.spec.mutants import ENV, mutants
    from tests.orchestrator.spec.test_fuzz_lab import SEED

    outcomes: Counter[str] = Counter()
    crashes: Counter[str] = Counter()
    times: list[float] = []
    for _, text, folder in mutants(SEED, count):
        start = time.perf_counter()
        try:
            lab, _ = parse_lab(
                text, file="lab.yaml", env=ENV, base_dir=ROOT / folder, template_variables=variables_of
            )
            build_graph(lab)
            outcomes["loaded"] += 1
        except SpecError as exc:
            located = all(i.line >= 1 and i.column >= 1 for i in exc.issues)
            outcomes["refused, located" if located else "refused, not located"] += 1
        except Exception as exc:
            outcomes["traceback"] += 1
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            crashes[f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"] += 1
        times.append(time.perf_counter() - start)
    print(f"\nfuzz: {count} mutants (seed {SEED})")
    for name in ("loaded", "refused, located", "refused, not located", "traceback"):
        print(f"  {name:<22} {outcomes[name]}")
    for crash, n in crashes.most_common():
        print(f"    {n:5d} x {crash}")
    print(
        f"  time per mutant: median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.0f} ms, total {sum(times):.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fuzz-count", type=int, default=1200)
    parser.add_argument("--no-fuzz", action="store_true")
    args = parser.parse_args()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    hostile()
    if not args.no_fuzz:
        fuzz(args.fuzz_count)


if __name__ == "__main__":
    main()
