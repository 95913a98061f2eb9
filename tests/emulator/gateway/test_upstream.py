"""The forward-request client against a real HTTP server on loopback: framing (length, chunked,
until-close), streamed request bodies, keep-alive reuse, a stale pooled connection, and the
failures that must surface as ``UpstreamError``."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from emulator.gateway.upstream import UpstreamError, UpstreamPool
from emulator.ports import bind_listener
from tests.emulator.gateway.support import KeepAliveBackend, keepalive_backend, serve, until_closed_by_peer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    path = scope["path"]
    if path == "/chunks":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for i in range(3):
            await send({"type": "http.response.body", "body": f"data: {i}\n\n".encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    reply = f"{scope['method']} {path} {len(body)} {body[:20].decode()}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(reply)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": reply})


async def gen(parts: list[bytes]) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


async def test_framing_streaming_and_reuse() -> None:
    pool = UpstreamPool(ssl.create_default_context())
    async with serve(app) as port:
        base = f"http://127.0.0.1:{port}"
        r = await pool.request("GET", f"{base}/hello?x=1", [("X-A", "1")], None)
        assert r.status == 200
        assert await r.read() == b"GET /hello 0 "
        r2 = await pool.request("POST", f"{base}/echo", [], b"payload")
        assert await r2.read() == b"POST /echo 7 payload"
        assert sum(len(v) for v in pool._idle.values()) == 1  # the same connection went back twice
        r3 = await pool.request("PUT", f"{base}/stream", [], gen([b"ab", b"", b"cd"]))
        assert await r3.read() == b"PUT /stream 4 abcd"
        r4 = await pool.request("PUT", f"{base}/sized", [], gen([b"ab", b"cd"]), content_length=4)
        assert await r4.read() == b"PUT /sized 4 abcd"
        events = await pool.request("GET", f"{base}/chunks", [], None)
        got = [c async for c in events.chunks()]
        assert b"".join(got) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
        empty = await pool.request("GET", f"{base}/empty", [], None)
        assert empty.status == 204
        assert await empty.read() == b""
        # a half-read response closes its connection instead of returning it to the pool
        partial = await pool.request("GET", f"{base}/chunks", [], None)
        await partial.aclose()
    await pool.aclose()


async def test_stale_pooled_connection_is_retried_and_failures_are_named() -> None:
    pool = UpstreamPool(ssl.create_default_context())
    async with serve(app) as port:
        url = f"http://127.0.0.1:{port}/x"
        assert (await (await pool.request("GET", url, [], None)).read()).startswith(b"GET")
    # the server is gone: the pooled connection is dead, and a fresh one is refused
    with pytest.raises(UpstreamError):
        await pool.request("GET", url, [], None)
    with pytest.raises(UpstreamError):
        await pool.request("GET", "ftp://127.0.0.1/x", [], None)
    await pool.aclose()


async def test_garbage_from_the_backend() -> None:
    listener = bind_listener(0)
    port = listener.getsockname()[1]
    pool = UpstreamPool(ssl.create_default_context())

    async with anyio.create_task_group() as tg:

        async def answer() -> None:
            conn, _ = await anyio.to_thread.run_sync(listener.accept)
            with conn:
                # blocking socket calls run in a thread: in the event loop they could wait for a
                # request the (blocked) loop never gets to send
                await anyio.to_thread.run_sync(conn.recv, 65536)
                await anyio.to_thread.run_sync(conn.sendall, b"NOT HTTP\r\n\r\n")

        tg.start_soon(answer)
        with pytest.raises(UpstreamError), anyio.fail_after(10):
            await pool.request("GET", f"http://127.0.0.1:{port}/", [], None)
    listener.close()
    await pool.aclose()


async def test_https_backend_trusting_the_emulator_ca(tmp_path: Any) -> None:
    from emulator.gateway.services import outbound_ssl
    from tests.emulator.gateway.support import make_context

    ctx = make_context(tmp_path)
    pool = UpstreamPool(outbound_ssl(str(ctx.ca_file)))
    async with serve(app, ssl_ctx=ctx) as port:
        r = await pool.request("POST", f"https://127.0.0.1:{port}/tls", [], b"x")
        assert await r.read() == b"POST /tls 1 x"
        untrusting = UpstreamPool(ssl.create_default_context())
        with pytest.raises(UpstreamError):
            await untrusting.request("GET", f"https://127.0.0.1:{port}/tls", [], None)
        await untrusting.aclose()
    await pool.aclose()


@pytest.fixture
async def keepalive() -> AsyncIterator[tuple[KeepAliveBackend, str]]:
    async with keepalive_backend() as served:
        yield served


async def _burst(pool: UpstreamPool, method: str, url: str, n: int) -> list[bytes | UpstreamError]:
    results: list[bytes | UpstreamError] = [b""] * n

    async def one(i: int) -> None:
        try:
            results[i] = await (
                await pool.request(method, f"{url}/{i}", [], b"b" if method == "POST" else None)
            ).read()
        except UpstreamError as exc:
            results[i] = exc

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    return results


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_burst_after_the_backend_closed_idle_connections_never_fails(
    keepalive: tuple[KeepAliveBackend, str], method: str
) -> None:
    """Issue 17 item 1: after the backend's keep-alive timeout, a burst through the gateway got
    500s - the pool handed out connections the backend had closed, and retried once on
    another, equally stale, pooled one. Now a closed pooled connection is never used."""
    backend, url = keepalive
    pool = UpstreamPool(ssl.create_default_context())
    warm = await _burst(pool, method, url, 12)  # earlier traffic left more connections than the burst
    assert all(isinstance(r, bytes) for r in warm)
    assert sum(len(v) for v in pool._idle.values()) == 12
    await backend.expire_idle()
    await until_closed_by_peer(pool)
    got = await _burst(pool, method, url, 6)
    assert [r for r in got if isinstance(r, UpstreamError)] == []
    assert sorted(r for r in got if isinstance(r, bytes)) == sorted(
        f"{method} /{i} HTTP/1.1 {'b' if method == 'POST' else ''}".encode() for i in range(6)
    )
    await pool.aclose()


async def test_idle_connections_expire_before_the_backends_keep_alive(
    keepalive: tuple[KeepAliveBackend, str],
) -> None:
    backend, url = keepalive
    reusing = UpstreamPool(ssl.create_default_context())
    for _ in range(3):
        await (await reusing.request("GET", url, [], None)).read()
    assert backend.accepted == 1
    expiring = UpstreamPool(ssl.create_default_context(), keepalive_expiry=0.0)
    for _ in range(3):
        await (await expiring.request("GET", url, [], None)).read()
    assert backend.accepted == 4  # each request found its pooled connection expired
    await reusing.aclose()
    await expiring.aclose()


async def test_a_connection_closed_in_flight_is_retried_on_a_new_one_when_safe(
    keepalive: tuple[KeepAliveBackend, str],
) -> None:
    """The race the liveness check cannot see: the backend closes a reused connection just as
    the request arrives. An idempotent request is sent again once, on a NEW connection (two
    pooled connections both closing used to fail it); a POST is not (RFC 9110 9.2.2)."""
    backend, url = keepalive
    pool = UpstreamPool(ssl.create_default_context())
    await _burst(pool, "GET", url, 2)  # two pooled connections
    backend.drop_on_reused = True
    accepted = backend.accepted
    assert await (await pool.request("GET", f"{url}/again", [], None)).read() == b"GET /again HTTP/1.1 "
    assert backend.accepted == accepted + 1  # the retry opened its own connection
    assert backend.requests[-2:] == ["GET /again HTTP/1.1"] * 2
    seen = len(backend.requests)
    with pytest.raises(UpstreamError):
        await pool.request("POST", f"{url}/once", [], b"x")
    assert backend.requests[seen:] == ["POST /once HTTP/1.1"]  # never sent twice
    with pytest.raises(UpstreamError):
        await pool.request("PUT", f"{url}/stream", [], gen([b"a"]))  # a consumed stream cannot be replayed
    await pool.aclose()


async def test_idle_time_counts_from_the_request_not_from_a_late_read(
    keepalive: tuple[KeepAliveBackend, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend's keep-alive clock starts when it has sent its response; the gateway may read
    that response much later (a streamed body read at a slow client's pace, a loaded machine).
    The pool used to count idleness from the end of its reading: a connection the backend had
    idled past its keep-alive looked fresh, was reused as the backend closed it, and a POST
    (never sent twice) answered 500 - MCP Inspector's flow under load. Now it counts from when
    the request was sent, an upper bound of the backend's idle time. The clock is the test's."""
    from emulator.gateway import upstream

    backend, url = keepalive
    now = [1000.0]
    monkeypatch.setattr(upstream, "time", SimpleNamespace(monotonic=lambda: now[0]))  # the pool's clock only
    pool = UpstreamPool(ssl.create_default_context(), keepalive_expiry=4.0)
    response = await pool.request("POST", f"{url}/first", [], b"x")  # sent at t = 1000
    now[0] += 3.5  # the response is read 3.5 s later (the backend has idled since it sent it)
    assert await response.read() == b"POST /first HTTP/1.1 x"
    now[0] += 1.0  # 1 s after the read, 4.5 s after the backend answered: past the 4 s expiry
    assert await (await pool.request("POST", f"{url}/second", [], b"y")).read() == b"POST /second HTTP/1.1 y"
    assert backend.accepted == 2  # a new connection, never the one the backend was closing
    now[0] += 1.0  # sent 1 s ago and read at once: well within the expiry, reused
    assert await (await pool.request("POST", f"{url}/third", [], b"z")).read() == b"POST /third HTTP/1.1 z"
    assert backend.accepted == 2
    await pool.aclose()


async def test_every_pool_drops_idle_connections_before_the_server_would() -> None:
    """The gateway's send-request client kept idle connections 30 s against the emulator's own
    listeners' 5 s (uvicorn's default): under load a store write raced the server's close
    ("Server disconnected without sending a response") and /register answered 503. The
    emulator's listeners now keep idle connections far longer than any pool of the project."""
    import httpx

    from emulator.gateway.services import make_client
    from emulator.gateway.upstream import KEEPALIVE_EXPIRY_S
    from emulator.ports import SERVER_KEEP_ALIVE_S

    client = make_client(None)
    outbound = client._transport._pool._keepalive_expiry  # type: ignore[attr-defined]
    await client.aclose()
    assert outbound == KEEPALIVE_EXPIRY_S < 5  # below the usual servers' 5 s
    async with httpx.AsyncClient() as plain:  # the tests' and the verifier's clients
        default_httpx = plain._transport._pool._keepalive_expiry  # type: ignore[attr-defined]
    undici_default = 4.0  # Node's fetch (MCP Inspector, the TypeScript SDK)
    assert max(outbound, KEEPALIVE_EXPIRY_S, default_httpx, undici_default) * 10 < SERVER_KEEP_ALIVE_S
