"""Cost of the gateway-mode client store: /register and /authorize through the local gateway.

Issue 8 moved client registrations from the APIM cache into a table (Azure Table Storage, the
emulator's Table service locally): ``/register`` inserts an entity with APIM's managed identity,
``/authorize`` reads it (then caches it for 5 minutes). This script prices those round trips.

It copies ``labs/gateway.yaml`` into a temporary folder, runs ``prmlab reconcile --yes`` there
(emulator start, every resource, the verification flow), then, on one keep-alive connection:

1. ``POST /register`` N times (each: a managed-identity token — cached by the gateway — and a
   Table insert), latency p50/p95;
2. ``GET /authorize`` once for each of those N fresh clients (cache miss: a Table read), then
   again for each (cache hit), latency p50/p95 and the miss/hit ratio.

The lab's registration budget (``registrations_per_minute``) is raised to n + 10 in the copy.
Every answer is checked (201 with an ``mcp_`` id; 200 consent page): a refusal is not counted.
Run: ``.venv/bin/python benchmarks/gateway_client_store.py [-n 200]``; the lab is destroyed
and the emulator stopped at the end.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PRMLAB = [sys.executable, "-m", "orchestrator"]
REDIRECT = "http://127.0.0.1:33418/callback"


def _prmlab(args: list[str], cwd: Path) -> str:
    proc = subprocess.run([*PRMLAB, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"prmlab {' '.join(args)} failed (exit {proc.returncode})")
    return proc.stdout + proc.stderr


def _timed(n: int, call: Callable[[int], None]) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _summary(name: str, ms: list[float]) -> float:
    p50 = statistics.median(ms)
    p95 = statistics.quantiles(ms, n=20)[-1]
    print(f"{name:<38} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   (n={len(ms)})")
    return p50


def measure(issuer: str, ca: Path, n: int) -> None:
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    ids: list[str] = []
    with httpx.Client(verify=str(ca), timeout=30) as http:

        def register(_: int) -> None:
            resp = http.post(f"{issuer}/register", json={"redirect_uris": [REDIRECT], "client_name": "bench"})
            if resp.status_code != 201 or not resp.json()["client_id"].startswith("mcp_"):
                raise SystemExit(f"/register answered {resp.status_code}: {resp.text[:300]}")
            ids.append(resp.json()["client_id"])

        def authorize(i: int) -> None:
            params = {
                "response_type": "code",
                "client_id": ids[i],
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "s",
            }
            resp = http.get(f"{issuer}/authorize", params=params)
            if resp.status_code != 200:
                raise SystemExit(f"/authorize answered {resp.status_code}: {resp.text[:300]}")

        register(0)  # warm-up: the gateway's first managed-identity token
        ids.clear()
        _summary("POST /register (Table insert)", _timed(n, register))
        miss = _summary("GET /authorize, first (Table read)", _timed(n, authorize))
        hit = _summary("GET /authorize, again (cache hit)", _timed(n, authorize))
    print(f"store read costs {miss - hit:.2f} ms p50 per first /authorize (miss/hit {miss / hit:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-n", type=int, default=200, help="registrations (and authorizations) to time")
    n = parser.parse_args().n
    folder = Path(tempfile.mkdtemp(prefix="prmlab-store-"))
    lab = folder / "labs" / "gateway.yaml"
    try:
        lab.parent.mkdir()
        # One address registers n clients here, far beyond a person's budget: raise it.
        text = (ROOT / "labs" / "gateway.yaml").read_text()
        lab.write_text(
            text.replace("registrations_per_minute: 20", f"registrations_per_minute: {min(n + 10, 1000)}")
        )
        shutil.copy(ROOT / "lab.schema.json", folder / "lab.schema.json")
        os.symlink(ROOT / "mcp_server", folder / "mcp_server")
        started = time.perf_counter()
        out = _prmlab(["reconcile", "-f", str(lab), "--yes"], folder)
        print(f"reconcile labs/gateway.yaml from empty (+verify): {time.perf_counter() - started:.2f} s")
        match = re.search(r"MCP endpoint: (https://127\.0\.0\.1:\d+)/mcp", out)
        if match is None:
            raise SystemExit("no MCP endpoint in the reconcile output")
        measure(f"{match.group(1)}/oauth", lab.parent / ".prmlab" / "ca.pem", n)
        _prmlab(["reconcile", "-f", str(lab), "--destroy", "--yes"], folder)
    finally:
        subprocess.run(
            [*PRMLAB, "local", "stop", "-f", str(lab)], cwd=folder, capture_output=True, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
