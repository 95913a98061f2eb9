"""The ``cors`` policy as APIM runs it (learn.microsoft.com, "cors policy": usage notes and common
configuration issues): preflights that no ``OPTIONS`` operation takes are answered by the cors
policy of the operation the real request will reach (operation scope included, as the PRM
operations use it), only cors policies run on them, an ``OPTIONS`` operation takes the request
instead, and unmatched origins get APIM's empty 200."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.emulator.gateway.support import Lab, make_context

pytestmark = pytest.mark.anyio

BACKEND = "http://backend.test"
ORIGIN = "http://localhost:6274"  # MCP Inspector's UI
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "mcp-protocol-version",
}
OPEN_CORS = """<cors allow-credentials="false"><allowed-origins><origin>*</origin></allowed-origins>
    <allowed-methods preflight-result-max-age="3600"><method>GET</method></allowed-methods>
    <allowed-headers><header>*</header></allowed-headers></cors>"""
DOC = '<return-response><set-status code="200" reason="OK" /><set-body>{"doc": true}</set-body></return-response>'


async def echo(request: Request) -> Response:
    return JSONResponse({"method": request.method, "path": request.url.path})


backend_app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST", "OPTIONS"])])


def P(inbound: str, base_elsewhere: bool = True) -> str:
    base = "<base />" if base_elsewhere else ""
    return (
        f"<policies><inbound>{inbound}</inbound><backend>{base}</backend>"
        f"<outbound>{base}</outbound><on-error>{base}</on-error></policies>"
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    lab = Lab(make_context(tmp_path))
    # the discovery API of the labs: anonymous GET operations with operation-scoped policies
    lab.api("disc", ".well-known/oauth-protected-resource", BACKEND, subscription_required=True)
    lab.operation("disc", "prm", "GET", "/mcp")
    lab.operation("disc", "other", "GET", "/other")
    lab.policy(P(OPEN_CORS + DOC), api="disc", operation="prm")
    lab.policy(P(DOC), api="disc", operation="other")
    # an API with its own OPTIONS operation, and one with an API-scoped cors
    lab.api("opt", "opt", BACKEND)
    lab.operation("opt", "get", "GET", "/items/{id}")
    lab.operation("opt", "options", "OPTIONS", "/*")
    lab.policy(P("<base />" + OPEN_CORS), api="opt")
    lab.api("app", "app", BACKEND)
    lab.operation("app", "get", "GET", "/items/{id}")
    lab.operation("app", "post", "POST", "/items")
    return lab


@pytest.fixture
async def client(lab: Lab) -> AsyncIterator[httpx.AsyncClient]:
    app, _, _ = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        yield c


async def test_preflight_to_a_get_operation_with_operation_scoped_cors(client: httpx.AsyncClient) -> None:
    pre = await client.options("/.well-known/oauth-protected-resource/mcp", headers=PREFLIGHT)
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "*"
    assert pre.headers["access-control-allow-methods"] == "GET"
    assert pre.headers["access-control-allow-headers"] == "mcp-protocol-version"
    assert pre.headers["access-control-max-age"] == "3600"
    assert "access-control-allow-credentials" not in pre.headers
    assert pre.content == b""  # only the cors policy ran: not the return-response after it
    # no subscription key: APIM answers the preflight from the operation's cors policy anyway
    got = await client.get(
        "/.well-known/oauth-protected-resource/mcp",
        headers={"Origin": ORIGIN, "MCP-Protocol-Version": "2025-06-18", "Ocp-Apim-Subscription-Key": "x"},
    )
    assert got.status_code == 401  # the actual request still needs the key this API requires


async def test_preflight_without_cors_on_the_operation_is_not_answered(client: httpx.AsyncClient) -> None:
    assert (
        await client.options("/.well-known/oauth-protected-resource/other", headers=PREFLIGHT)
    ).status_code == 404
    post = {**PREFLIGHT, "Access-Control-Request-Method": "POST"}  # no POST operation there
    assert (
        await client.options("/.well-known/oauth-protected-resource/mcp", headers=post)
    ).status_code == 404
    plain = await client.options("/.well-known/oauth-protected-resource/mcp")  # not a preflight
    assert plain.status_code == 404


async def test_actual_get_carries_the_origin_header_on_a_return_response(
    lab: Lab, client: httpx.AsyncClient
) -> None:
    lab.api("anon", "anon", BACKEND)
    lab.operation("anon", "prm", "GET", "/mcp")
    lab.policy(P(OPEN_CORS + DOC, base_elsewhere=False), api="anon", operation="prm")
    got = await client.get("/anon/mcp", headers={"Origin": ORIGIN, "MCP-Protocol-Version": "2025-06-18"})
    assert got.status_code == 200
    assert got.json() == {"doc": True}
    assert got.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in (await client.get("/anon/mcp")).headers  # no Origin


async def test_cors_after_return_response_never_runs_on_the_get(lab: Lab, client: httpx.AsyncClient) -> None:
    """APIM: "cors ... not the first policy in the inbound section": unexpected behaviour —
    here the return-response answers before the cors policy could add its header."""
    lab.api("late", "late", BACKEND)
    lab.operation("late", "prm", "GET", "/mcp")
    lab.policy(P(DOC + OPEN_CORS, base_elsewhere=False), api="late", operation="prm")
    got = await client.get("/late/mcp", headers={"Origin": ORIGIN})
    assert got.status_code == 200
    assert "access-control-allow-origin" not in got.headers


async def test_an_options_operation_takes_the_preflight(client: httpx.AsyncClient) -> None:
    """APIM: a request that matches an OPTIONS operation skips the cors preflight logic."""
    pre = await client.options("/opt/items/1", headers=PREFLIGHT)
    assert pre.status_code == 200
    assert pre.json() == {"method": "OPTIONS", "path": "/items/1"}  # forwarded to the backend
    assert "access-control-allow-methods" not in pre.headers


async def test_api_scoped_cors_with_specific_origin_and_credentials(
    lab: Lab, client: httpx.AsyncClient
) -> None:
    lab.policy(
        P(
            """<base /><cors allow-credentials="true"><allowed-origins><origin>https://app.test</origin></allowed-origins>
            <allowed-methods preflight-result-max-age="300"><method>GET</method><method>POST</method></allowed-methods>
            <allowed-headers><header>Authorization</header><header>Content-Type</header></allowed-headers>
            <expose-headers><header>X-Backend</header></expose-headers></cors>"""
        ),
        api="app",
    )
    pre = await client.options(
        "/app/items",
        headers={
            "Origin": "https://app.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "https://app.test"
    assert pre.headers["access-control-allow-methods"] == "GET,POST"
    assert pre.headers["access-control-allow-credentials"] == "true"
    assert pre.headers["access-control-max-age"] == "300"
    # unmatched (origin, or a header not allowed): APIM's empty 200 without CORS headers
    for headers in (
        {"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
        {
            "Origin": "https://app.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-other",
        },
    ):
        denied = await client.options("/app/items", headers=headers)
        assert denied.status_code == 200
        assert "access-control-allow-origin" not in denied.headers
    simple = await client.get("/app/items/1", headers={"Origin": "https://app.test"})
    assert simple.json() == {"method": "GET", "path": "/items/1"}
    assert simple.headers["access-control-allow-origin"] == "https://app.test"
    assert simple.headers["access-control-allow-credentials"] == "true"
    assert simple.headers["access-control-expose-headers"] == "X-Backend"
    # a GET from another origin: terminate-unmatched-request (true) ends it with an empty 200
    other = await client.get("/app/items/1", headers={"Origin": "https://evil.test"})
    assert (other.status_code, other.content) == (200, b"")
    assert "access-control-allow-origin" not in other.headers


async def test_unmatched_without_terminate_falls_through(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            """<cors terminate-unmatched-request="false"><allowed-origins><origin>https://app.test</origin></allowed-origins></cors>"""
        ),
        api="app",
    )
    pre = await client.options(
        "/app/items/1", headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"}
    )
    assert (pre.status_code, pre.content) == (200, b"")  # no other cors policy: an empty 200
    assert "access-control-allow-origin" not in pre.headers
    other = await client.get("/app/items/1", headers={"Origin": "https://evil.test"})
    assert other.json() == {"method": "GET", "path": "/items/1"}  # proceeds, no CORS headers
    assert "access-control-allow-origin" not in other.headers
