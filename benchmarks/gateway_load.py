"""Load through the local gateway with idle gaps between bursts (issue 17's acceptance).

Brings the default lab up on the local target in a fresh temporary folder (``prmlab reconcile
--yes --no-verify``: emulator, every resource, the MCP server), then sends MCP ``initialize``
POSTs to the gateway's MCP URL: ``--requests`` in all (2,000), over ``--connections`` (16)
concurrent connections, in ``--bursts`` (8) bursts separated by ``--gap`` seconds (6: longer
than the MCP server's keep-alive, ``mcp_server.config.KEEP_ALIVE_S``, and the gateway's, so every
burst starts on connections the other side has closed). Half the requests carry a valid token
(signed by the local identity service for the app, with the scope), the other half cycle through
the verifier's forged tokens (``orchestrator.verify.forged``: none, garbage, expired, not yet
valid, wrong audience / issuer / tenant, bad signature, ``alg: none``, HS256 with the public key,
unknown ``kid``, missing scope).

Prints the counts the issue names - responses 5xx, valid tokens refused (not 200), invalid tokens
accepted (not the 401/403 expected) - with latency percentiles and the wall time; exit 1 when
any count is not 0. Run: ``.venv/bin/python benchmarks/gateway_load.py [--requests N]
[--connections N] [--bursts N] [--gap S]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parent.parent
PRMLAB = [sys.executable, "-m", "orchestrator"]


@dataclass(frozen=True, slots=True)
class Shot:
    kind: str  # "valid" or the forgery's name
    token: str | None
    expect: int


@dataclass
class Tally:
    statuses: Counter[int]
    server_errors: int = 0
    valid_refused: int = 0
    invalid_accepted: int = 0
    transport_errors: int = 0


def reconcile(folder: Path, lab_file: Path, *args: str) -> None:
    proc = subprocess.run(
        [*PRMLAB, "reconcile", "-f", str(lab_file), "--yes", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"reconcile {' '.join(args)} failed (exit {proc.returncode})")


async def shots(lab_file: Path) -> tuple[str, Any, list[Shot]]:
    """The MCP URL, the CA file and the token mix: one valid token, every buildable forgery."""
    from orchestrator.engine import read_outputs
    from orchestrator.labfile import load
    from orchestrator.target import TargetSettings
    from orchestrator.verify.after_reconcile import local_minter, wait_for_server
    from orchestrator.verify.forged import base_claims, forgeries
    from orchestrator.verify.http import client
    from orchestrator.verify.targeting import build_target

    lab, graph = load(lab_file)
    settings = TargetSettings.for_lab(lab)
    outputs = await read_outputs(lab, graph, settings)
    target = build_target(
        lab, outputs, settings.outputs(), local=True, ca_file=settings.ca_file, minter=local_minter(settings)
    )
    if target.server_url is None or target.minter is None or target.token_issuer is None:
        raise SystemExit("the default lab on the local target has a server, a minter and an issuer")
    await wait_for_server(target.server_url.removesuffix("/mcp"), target.ca_file)
    issuer = target.token_issuer
    valid = await target.minter({}, base_claims(target, issuer))
    async with client(target.ca_file) as http:
        jwks_uri = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()["jwks_uri"]
        jwks = (await http.get(jwks_uri)).json()
    forged = [Shot(f.name, await f.build(), f.expect) for f in forgeries(target, issuer, valid, jwks)]
    return target.mcp_url, target.ca_file, [Shot("valid", valid, 200), *forged]


async def load(
    url: str, ca_file: Any, mix: list[Shot], requests: int, connections: int, bursts: int, gap: float
) -> tuple[Tally, list[float], float]:
    from orchestrator.verify.discovery import post_mcp
    from orchestrator.verify.http import ssl_context

    valid = [s for s in mix if s.kind == "valid"]
    invalid = itertools.cycle([s for s in mix if s.kind != "valid"])
    plan = [valid[0] if i % 2 == 0 else next(invalid) for i in range(requests)]
    tally = Tally(Counter())
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    started = time.perf_counter()
    async with httpx.AsyncClient(verify=ssl_context(ca_file), timeout=30.0, limits=limits) as http:
        per_burst = -(-requests // bursts)
        for b in range(bursts):
            if b:
                await anyio.sleep(gap)  # idle: every keep-alive connection on the way expires
            queue = iter(plan[b * per_burst : (b + 1) * per_burst])

            async def worker(queue: Any = queue) -> None:
                for shot in queue:
                    t0 = time.perf_counter()
                    try:
                        resp = await post_mcp(http, url, shot.token)
                    except httpx.HTTPError:
                        tally.transport_errors += 1
                        continue
                    latencies.append(time.perf_counter() - t0)
                    status = resp.status_code
                    tally.statuses[status] += 1
                    tally.server_errors += status >= 500
                    if shot.kind == "valid":
                        tally.valid_refused += status != 200
                    else:
                        tally.invalid_accepted += status != shot.expect

            async with anyio.create_task_group() as tg:
                for _ in range(connections):
                    tg.start_soon(worker)
    return tally, latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--bursts", type=int, default=8)
    parser.add_argument("--gap", type=float, default=6.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="prmlab-load-"))
    lab_file = folder / "lab.yaml"
    try:
        shutil.copy(ROOT / "lab.yaml", lab_file)
        shutil.copy(ROOT / "lab.schema.json", folder / "lab.schema.json")
        os.symlink(ROOT / "mcp_server", folder / "mcp_server")
        reconcile(folder, lab_file, "--no-verify")
        url, ca_file, mix = anyio.run(shots, lab_file)
        print(f"lab: default (entra mode), local target; MCP URL {url}")
        print(
            f"load: {args.requests} requests, {args.connections} connections, {args.bursts} bursts, "
            f"{args.gap:g} s idle between bursts; half valid, half forged ({len(mix) - 1} kinds)"
        )
        tally, latencies, wall = anyio.run(
            load, url, ca_file, mix, args.requests, args.connections, args.bursts, args.gap
        )
        latencies.sort()

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

        print(f"statuses: {dict(sorted(tally.statuses.items()))}")
        print(f"responses 5xx:           {tally.server_errors}")
        print(f"valid tokens refused:    {tally.valid_refused}")
        print(f"invalid tokens accepted: {tally.invalid_accepted}")
        print(f"transport errors:        {tally.transport_errors}")
        print(
            f"latency p50 {pct(0.5):.1f} ms, p95 {pct(0.95):.1f} ms, p99 {pct(0.99):.1f} ms; wall {wall:.1f} s"
        )
        bad = tally.server_errors + tally.valid_refused + tally.invalid_accepted + tally.transport_errors
        if bad:
            raise SystemExit(1)
    finally:
        subprocess.run(
            [*PRMLAB, "reconcile", "-f", str(lab_file), "--destroy", "--yes"],
            cwd=folder,
            capture_output=True,
            check=False,
        )
        subprocess.run(
            [*PRMLAB, "local", "stop", "-f", str(lab_file)], cwd=folder, capture_output=True, check=False
        )
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
