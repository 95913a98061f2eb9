"""Overhead of the local APIM gateway: a validate-azure-ad-token policy vs the backend directly.

Run: ``.venv/bin/python benchmarks/gateway_overhead.py [--duration 5] [--connections 16]``.

Three processes on loopback, all started (and stopped) by this script:

* a trivial backend (uvicorn, plain HTTP, answers ``ok``);
* the gateway (``emulator.gateway.server.GatewayManager``, HTTPS on its own port) serving an
  API whose policy is the lab's own ``mcp-api-entra`` template: ``choose`` on the
  Authorization header, two ``validate-azure-ad-token`` (the second with a ``scp``
  required-claim), ``forward-request buffer-response="false"``;
* the load generator (keep-alive HTTP/1.1 connections, closed loop; bounded by count and time).

It prints, in one run: latency with one connection (p50/p99, direct vs through the gateway,
and the p50 overhead), then throughput with ``--connections`` connections (requests/s, p50/p99).
Every gateway response is checked (200 and the backend's body): a rejected token would not
be counted as a success. Goal: <= 2 ms p50 overhead, >= 1500 requests/s through the gateway.
``--policy retry-rate-limit`` runs the same measures with a ``rate-limit-by-key`` +
``llm-token-limit`` + ``retry`` (around ``forward-request``) policy instead of the lab's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "6b1c7f0e-2d4a-4c59-9a8e-1f2b3c4d5e6f"
SERVICE = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/bench/providers/Microsoft.ApiManagement/service/bench"
START_TIMEOUT_S = 30.0


# ---------------------------------------------------------------------------- roles


async def _backend_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


def run_backend(port: int) -> None:
    import uvicorn

    uvicorn.run(
        _backend_app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )


def _context(state: Path) -> Any:
    from emulator.context import EmulatorContext
    from emulator.store import Store
    from emulator.tls import ensure_tls

    files = ensure_tls(state)
    return EmulatorContext(
        state_dir=state,
        store=Store(state / "emulator.sqlite"),
        base_url="https://127.0.0.1:1",
        ca_file=files.ca_file,
        cert_file=files.cert_file,
        key_file=files.key_file,
        tenant_id=TENANT,
        subscription_id="00000000-0000-0000-0000-000000000000",
    )


# ``--policy retry-rate-limit``: a rate-limit-by-key (a limit never reached: every request counts),
# an llm-token-limit (a limit never reached: the answer is read for its usage, so it is buffered)
# and a retry around forward-request (the backend answers 200: the condition is evaluated once,
# nothing is re-sent).
RETRY_RATE_LIMIT = """<policies>
  <inbound>
    <base />
    <rate-limit-by-key calls="100000000" renewal-period="3600" counter-key="@(context.Request.IpAddress)"
        remaining-calls-variable-name="remaining" />
    <llm-token-limit counter-key="@(context.Request.IpAddress)" tokens-per-minute="100000000"
        estimate-prompt-tokens="false" remaining-tokens-variable-name="remainingTokens" />
  </inbound>
  <backend>
    <retry condition="@(context.Response.StatusCode &gt;= 500)" count="3" interval="1" delta="1"
        max-interval="10" first-fast-retry="true">
      <forward-request buffer-response="false" />
    </retry>
  </backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>"""
POLICIES = ("lab", "retry-rate-limit")


def seed(state: Path, gateway_port: int, backend_port: int, policy: str = "lab") -> None:
    """Store the service, API, operation and policy exactly as the ARM layer would."""
    from emulator.gateway.check import check_policy
    from emulator.gateway.config import (
        KIND_API,
        KIND_API_POLICY,
        KIND_NAMED_VALUE,
        KIND_OPERATION,
        KIND_SERVICE,
    )
    from orchestrator.render import NamedValueRef
    from orchestrator.render.policy import render_policy

    ctx = _context(state)
    store = ctx.store
    sid = SERVICE.lower()
    gateway = f"https://127.0.0.1:{gateway_port}"
    store.put(
        KIND_SERVICE,
        sid,
        {"id": SERVICE, "name": "bench", "properties": {"gatewayUrl": gateway}},
        SERVICE.rsplit("/providers", 1)[0].lower(),
    )
    for name, value in (("McpTenantId", TENANT), ("McpClientId", CLIENT_ID)):
        store.put(
            KIND_NAMED_VALUE,
            f"{sid}/namedvalues/{name.lower()}",
            {"name": name, "properties": {"displayName": name, "value": value, "secret": False}},
            sid,
        )
    api = f"{sid}/apis/mcp"
    store.put(
        KIND_API,
        api,
        {
            "name": "mcp",
            "properties": {
                "path": "mcp",
                "serviceUrl": f"http://127.0.0.1:{backend_port}/mcp",
                "subscriptionRequired": False,
                "protocols": ["https"],
            },
        },
        sid,
    )
    store.put(
        KIND_OPERATION,
        f"{api}/operations/get",
        {"name": "get", "properties": {"method": "GET", "urlTemplate": "/*"}},
        api,
    )
    xml = (
        RETRY_RATE_LIMIT
        if policy == "retry-rate-limit"
        else render_policy(
            "mcp-api-entra",
            {
                "tenant_id": NamedValueRef("McpTenantId"),
                "audience": NamedValueRef("McpClientId"),
                "scope": f"{CLIENT_ID}/user_impersonate",
                "resource_metadata_url": f"{gateway}/.well-known/oauth-protected-resource/mcp",
            },
        )
    )
    stored = check_policy(xml, ["McpTenantId", "McpClientId"])
    store.put(
        KIND_API_POLICY,
        f"{api}/policies/policy",
        {"name": "policy", "properties": {"value": stored, "format": "xml"}},
        api,
    )
    store.close()


def mint_token(state: Path) -> str:
    from emulator.identity.keys import sign

    ctx = _context(state)
    now = int(time.time())
    claims = {
        "aud": CLIENT_ID,
        "iss": ctx.issuer(TENANT),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": TENANT,
        "scp": "user_impersonate",
        "sub": "bench",
        "ver": "2.0",
    }
    return sign(ctx, claims)


def run_gateway(state: Path) -> None:
    from emulator.gateway.server import GatewayManager

    async def main() -> None:
        await GatewayManager(_context(state)).run()

    anyio.run(main)


# ---------------------------------------------------------------------------- load generator


async def _one_connection(
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
    request: bytes,
    until: float,
    limit: int,
    out: list[float],
    errors: list[str],
) -> None:
    from anyio.streams.buffered import BufferedByteReceiveStream

    stream: Any
    if tls is not None:
        stream = await anyio.connect_tcp(host, port, ssl_context=tls, tls_standard_compatible=False)
    else:
        stream = await anyio.connect_tcp(host, port)
    async with stream:
        reader = BufferedByteReceiveStream(stream)
        n = 0
        while n < limit and time.perf_counter() < until:
            t0 = time.perf_counter()
            await stream.send(request)
            head = await reader.receive_until(b"\r\n\r\n", 65536)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            length = 0
            chunked = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
            if chunked:
                body = b""
                while True:
                    size = int((await reader.receive_until(b"\r\n", 64)).split(b";")[0], 16)
                    chunk = await reader.receive_exactly(size + 2)
                    body += chunk[:-2]
                    if size == 0:
                        break
            else:
                body = await reader.receive_exactly(length) if length else b""
            out.append(time.perf_counter() - t0)
            if status != 200 or body != b"ok":
                errors.append(f"{status} {body[:80]!r}")
            n += 1


def run_load(
    url: str, token: str, ca_file: str, connections: int, duration: float, limit: int
) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 443
    tls = ssl.create_default_context(cafile=ca_file) if parts.scheme == "https" else None
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\nAccept: */*\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> float:
        # warm-up: connections, TLS, first-request caches (verified token, compiled pipeline)
        await _one_connection(host, port, tls, request, time.perf_counter() + 5, 50, [], [])
        start = time.perf_counter()
        until = start + duration
        per_connection = max(1, limit // connections)
        async with anyio.create_task_group() as tg:
            for _ in range(connections):
                tg.start_soon(
                    _one_connection, host, port, tls, request, until, per_connection, latencies, errors
                )
        return time.perf_counter() - start

    elapsed = anyio.run(main)
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "elapsed_s": elapsed,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan"),
    }


# ---------------------------------------------------------------------------- orchestration


def _free_port() -> int:
    from emulator.ports import allocate_port

    return allocate_port()


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a benchmark server exited early (code {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} did not open within {START_TIMEOUT_S} s")


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, *args], start_new_session=True)


def _load(
    url: str, token: str, ca_file: str, connections: int, duration: float, limit: int
) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--role", "load", "--url", url, "--token-file", token, "--ca", ca_file,
         "--connections", str(connections), "--duration", str(duration), "--limit", str(limit)],
        capture_output=True, check=True, timeout=duration * 4 + 60,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--role", choices=["main", "backend", "gateway", "load"], default="main")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", default="")
    parser.add_argument("--url", default="")
    parser.add_argument("--token-file", default="")
    parser.add_argument("--ca", default="")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--limit", type=int, default=100_000)
    parser.add_argument("--latency-requests", type=int, default=2000)
    parser.add_argument(
        "--policy", choices=POLICIES, default="lab", help="the API's policy (default: the lab's)"
    )
    args = parser.parse_args()
    if args.role == "backend":
        run_backend(args.port)
        return
    if args.role == "gateway":
        run_gateway(Path(args.state))
        return
    if args.role == "load":
        token = Path(args.token_file).read_text().strip() if args.token_file else ""
        print(json.dumps(run_load(args.url, token, args.ca, args.connections, args.duration, args.limit)))
        return

    with tempfile.TemporaryDirectory(prefix="prmlab-gw-bench-") as tmp:
        state = Path(tmp)
        backend_port, gateway_port = _free_port(), _free_port()
        seed(state, gateway_port, backend_port, args.policy)
        token_file = state / "token"
        token_file.write_text(mint_token(state))
        ca_file = str(state / "ca.pem")
        procs = [
            _spawn("--role", "backend", "--port", str(backend_port)),
            _spawn("--role", "gateway", "--state", str(state)),
        ]
        try:
            _wait_port(backend_port, procs[0])
            _wait_port(gateway_port, procs[1])
            direct = f"http://127.0.0.1:{backend_port}/mcp"
            through = f"https://127.0.0.1:{gateway_port}/mcp"
            lat_direct = _load(direct, str(token_file), ca_file, 1, args.duration, args.latency_requests)
            lat_gateway = _load(through, str(token_file), ca_file, 1, args.duration, args.latency_requests)
            tp_direct = _load(direct, str(token_file), ca_file, args.connections, args.duration, args.limit)
            tp_gateway = _load(through, str(token_file), ca_file, args.connections, args.duration, args.limit)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    cpus = os.cpu_count()
    described = {
        "lab": "lab mcp-api-entra (2x validate-azure-ad-token)",
        "retry-rate-limit": "rate-limit-by-key + llm-token-limit + retry around forward-request",
    }[args.policy]
    print(f"gateway overhead — policy: {described}, {cpus} CPUs, loopback")
    print(f"{'phase':<34}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
    rows = [
        ("latency, 1 connection, direct", lat_direct),
        ("latency, 1 connection, gateway", lat_gateway),
        (f"throughput, {args.connections} conns, direct", tp_direct),
        (f"throughput, {args.connections} conns, gateway", tp_gateway),
    ]
    for label, r in rows:
        print(
            f"{label:<34}{r['requests']:>9}{r['errors']:>8}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
        )
    overhead = lat_gateway["p50_ms"] - lat_direct["p50_ms"]
    print(
        f"p50 overhead of the gateway (1 connection): {overhead:.2f} ms  (goal <= 2 ms: {'met' if overhead <= 2 else 'NOT met'})"
    )
    print(
        f"gateway throughput: {tp_gateway['rps']:.0f} req/s  (goal >= 1500: {'met' if tp_gateway['rps'] >= 1500 else 'NOT met'})"
    )
    for label, r in rows:
        if r["errors"]:
            print(f"WARNING {label}: {r['errors']} failed responses, first: {r['first_error']}")


if __name__ == "__main__":
    main()
