"""The verifier's ``idle.burst`` check against a real local gateway (uvicorn, the real upstream
pool) in front of a keep-alive backend whose idle connections the test closes - the event a
keep-alive timeout is - instead of sleeping."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from emulator.gateway.upstream import UpstreamPool
from mcp_server.config import KEEP_ALIVE_S
from orchestrator.verify.idle import BURST, IDLE_S, WARM, check_idle_burst, idle_seconds
from orchestrator.verify.model import Outcome
from tests.emulator.gateway.support import (
    KeepAliveBackend,
    Lab,
    keepalive_backend,
    make_context,
    serve,
    until_closed_by_peer,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[str, KeepAliveBackend, UpstreamPool]]:
    async with keepalive_backend() as (backend, url):
        lab = Lab(make_context(tmp_path))
        lab.backend("mcp-server", url)  # an MCP API forwards to its backendId, as APIM stores it
        lab.api("mcp", "mcp", api_type="mcp", backend_id="mcp-server")
        app, _, services = lab.app()
        pool = UpstreamPool(ssl.create_default_context())
        services.upstream = pool
        async with serve(app) as port:
            yield f"http://127.0.0.1:{port}/mcp", backend, pool
        await pool.aclose()


def test_the_idle_wait_is_tied_to_the_backends_keep_alive() -> None:
    import inspect

    import mcp_server.__main__ as server
    from emulator.gateway.upstream import KEEPALIVE_EXPIRY_S
    from emulator.ports import APP_KEEP_ALIVE_S
    from mcp_server.config import Settings

    assert "timeout_keep_alive=settings.keep_alive_s" in inspect.getsource(server.main)
    base = {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "REQUIRED_SCOPE": "s"}
    assert Settings.from_env(base).keep_alive_s == KEEP_ALIVE_S  # Azure: the server's default
    local = Settings.from_env({**base, "HTTP_KEEP_ALIVE_S": str(APP_KEEP_ALIVE_S)})  # as the runner sets
    for keep_alive, server_keeps in ((None, KEEP_ALIVE_S), (APP_KEEP_ALIVE_S, local.keep_alive_s)):
        # longer than the keep-alive the server really has, and bounded
        assert server_keeps < idle_seconds(keep_alive) <= server_keeps + 2
    assert idle_seconds(None) == IDLE_S
    # the gateway's pool gives a connection up a second at least before the local apps close it
    assert KEEPALIVE_EXPIRY_S + 1 <= APP_KEEP_ALIVE_S < KEEP_ALIVE_S
    assert WARM >= 2 * BURST  # a stale connection for the first try and for a retry of each


async def test_passes_through_a_gateway_that_never_reuses_a_closed_connection(
    gateway: tuple[str, KeepAliveBackend, UpstreamPool],
) -> None:
    url, backend, pool = gateway

    async def keep_alive_expires() -> None:
        await backend.expire_idle()
        await until_closed_by_peer(pool)

    async with httpx.AsyncClient(timeout=10) as http:
        result = await check_idle_burst(http, url, "token", wait_idle=keep_alive_expires)
    assert result.outcome is Outcome.PASS, result.detail
    assert len(backend.requests) == WARM + BURST


async def test_fails_when_the_gateway_reuses_closed_connections(
    gateway: tuple[str, KeepAliveBackend, UpstreamPool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check has teeth: with the pool's liveness check removed (the issue's gateway), the
    burst meets the connections the backend closed and the check fails."""
    from emulator.gateway import upstream

    monkeypatch.setattr(upstream._Connection, "reusable", lambda self, now, expiry: True)
    url, backend, pool = gateway

    async def keep_alive_expires() -> None:
        await backend.expire_idle()
        await until_closed_by_peer(pool)

    async with httpx.AsyncClient(timeout=10) as http:
        result = await check_idle_burst(http, url, "token", wait_idle=keep_alive_expires)
    assert result.outcome is Outcome.FAIL
    assert "500" in result.detail


async def test_skips_without_a_token() -> None:
    async with httpx.AsyncClient() as http:
        result = await check_idle_burst(http, "http://127.0.0.1:1/mcp", None)
    assert result.outcome is Outcome.SKIP


@pytest.mark.parametrize(
    ("status", "challenge"),
    [
        (b"403 Forbidden", 'Bearer error="insufficient_scope", scope="files.read.all"'),
        (b"401 Unauthorized", 'Bearer error="invalid_token"'),
    ],
)
async def test_fails_when_the_server_refuses_every_authorized_call(
    gateway: tuple[str, KeepAliveBackend, UpstreamPool], status: bytes, challenge: str
) -> None:
    """A burst of refusals shows nothing about the pool: the check fails on the warm-up, naming
    the answers and the refusal's challenge, and never idles (it used to PASS, "all 403")."""
    url, backend, _ = gateway
    backend.status = status
    backend.headers = b"WWW-Authenticate: %s\r\n" % challenge.encode()

    async def never() -> None:
        raise AssertionError("the check idled although the warm-up was refused")

    async with httpx.AsyncClient(timeout=10) as http:
        result = await check_idle_burst(http, url, "token", wait_idle=never)
    assert result.outcome is Outcome.FAIL, result.detail
    code = status.split()[0].decode()
    assert f"must all succeed, they answered {WARM}×{code} ({challenge})" in result.detail
    assert len(backend.requests) == WARM


async def test_fails_when_the_burst_is_refused_after_the_pause(
    gateway: tuple[str, KeepAliveBackend, UpstreamPool],
) -> None:
    url, backend, pool = gateway

    async def refuse_from_now_on() -> None:
        await backend.expire_idle()
        await until_closed_by_peer(pool)
        backend.status = b"403 Forbidden"

    async with httpx.AsyncClient(timeout=10) as http:
        result = await check_idle_burst(http, url, "token", wait_idle=refuse_from_now_on)
    assert result.outcome is Outcome.FAIL, result.detail
    assert (
        f"{BURST} of {BURST} concurrent requests answered [403, 403, 403, 403] instead of 200"
        in result.detail
    )
    assert "stopped succeeding after the pause" in result.detail
