"""The gateway app's response head (``app.py``), over real HTTP (uvicorn): a header field
carrying CR, LF or NUL - from a policy or a backend - is a 500, never a connection the server
drops half-way through the head (issue 17 item 14: a NUL byte in a registered redirect URI,
echoed into ``Location``, dropped the connection)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from emulator.gateway.upstream import UpstreamPool
from emulator.ports import bind_listener
from tests.emulator.gateway.support import Lab, make_context, serve

pytestmark = pytest.mark.anyio

REDIRECT = (
    '<policies><inbound><return-response><set-status code="302" reason="Found" />'
    '<set-header name="Location" exists-action="override">'
    '<value>@("https://app.example/cb?to=" + context.Request.Url.Query.GetValueOrDefault("to", ""))</value>'
    "</set-header></return-response></inbound><backend><base /></backend><outbound><base /></outbound>"
    "<on-error><base /></on-error></policies>"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Lab, str]]:
    lab = Lab(make_context(tmp_path))
    lab.api("a", "a", "http://127.0.0.1:9")
    lab.operation("a", "get", "GET", "/*")
    lab.policy(REDIRECT, api="a", operation="get")
    app, _, services = lab.app()
    services.upstream = UpstreamPool(ssl.create_default_context())
    async with serve(app) as port:
        yield lab, f"http://127.0.0.1:{port}"
    await services.upstream.aclose()


@pytest.mark.parametrize("bad", ["%00", "%0d%0aSet-Cookie:%20x=y", "%0a"])
async def test_a_policy_header_with_cr_lf_or_nul_is_a_500(gateway: tuple[Lab, str], bad: str) -> None:
    _, url = gateway
    async with httpx.AsyncClient() as http:
        fine = await http.get(f"{url}/a/x?to=ok")
        assert (fine.status_code, fine.headers["location"]) == (302, "https://app.example/cb?to=ok")
        resp = await http.get(f"{url}/a/x?to={bad}")
    assert resp.status_code == 500
    assert resp.json() == {"statusCode": 500, "message": "Internal server error"}
    assert "location" not in resp.headers
    assert "set-cookie" not in resp.headers


async def test_a_backend_header_with_nul_is_a_500(gateway: tuple[Lab, str]) -> None:
    lab, url = gateway
    listener = bind_listener(0)
    port = listener.getsockname()[1]
    lab.api("b", "b", f"http://127.0.0.1:{port}")
    lab.operation("b", "get", "GET", "/*")

    async def answer() -> None:
        conn, _ = await anyio.to_thread.run_sync(listener.accept)
        with conn:
            await anyio.to_thread.run_sync(conn.recv, 65536)
            await anyio.to_thread.run_sync(
                conn.sendall, b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok"
            )

    async with anyio.create_task_group() as tg, httpx.AsyncClient() as http:
        tg.start_soon(answer)
        with anyio.fail_after(10):
            resp = await http.get(f"{url}/b/x")
    listener.close()
    assert resp.status_code == 500
    assert "x-bad" not in resp.headers


async def test_the_last_line_of_defence(gateway: tuple[Lab, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever path puts a bad field in the head (none is known), the answer is a clean 500."""
    from emulator.gateway.expr.context import Headers

    real = Headers.pairs

    def pairs(self: Headers) -> list[tuple[str, str]]:
        got = real(self)
        return [(k, v + "\x00") if k.lower() == "location" else (k, v) for k, v in got]

    monkeypatch.setattr(Headers, "pairs", pairs)
    _, url = gateway
    async with httpx.AsyncClient() as http:
        resp = await http.get(f"{url}/a/x?to=ok")
    assert resp.status_code == 500
    assert resp.json() == {"statusCode": 500, "message": "Internal server error"}
