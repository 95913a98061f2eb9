"""``retry`` as Learn's retry policy page documents it: the children run once, then again while
``condition`` holds, at most ``count`` more times, waiting by the fixed / linear / exponential
formulas (``first-fast-retry``: the first retry at once); forward-request inside resends the
request with its body. No real waiting: the gateway's sleep and jitter are replaced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.context import PolicyRejectedError
from emulator.gateway.services import Services
from emulator.gateway.upstream import UpstreamError
from tests.emulator.gateway.support import Lab, make_context

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Backend:
    """Answers the statuses it is given in turn (then the last one), recording what it got."""

    statuses: list[int] = field(default_factory=lambda: [200])
    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        status = self.statuses[min(len(self.bodies) - 1, len(self.statuses) - 1)]
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": f"attempt {len(self.bodies)}".encode()})


class Clock:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


class Middle:
    """The jitter's draw: the middle of its range (Learn's example numbers, exactly)."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


@dataclass
class Gateway:
    lab: Lab
    client: httpx.AsyncClient
    backend: Backend
    clock: Clock
    services: Services


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    lab = Lab(make_context(tmp_path))
    lab.api("api", "api", "http://backend.test")
    lab.operation("api", "post", "POST", "/items")
    backend = Backend()
    app, _config, services = lab.app(backend)
    clock = Clock()
    services.sleep = clock.sleep
    services.random = Middle()  # type: ignore[assignment]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw") as client:
        yield Gateway(lab, client, backend, clock, services)
    lab.store.close()


def _backend(retry: str) -> str:
    return (
        f"<policies><inbound><base /></inbound><backend>{retry}</backend><outbound /><on-error /></policies>"
    )


async def test_retries_until_the_condition_is_false(gw: Gateway) -> None:
    gw.backend.statuses = [500, 500, 200]
    gw.lab.policy(
        _backend(
            '<retry condition="@(context.Response.StatusCode == 500)" count="5" interval="1">'
            '<forward-request buffer-request-body="true" /></retry>'
        ),
        api="api",
    )
    r = await gw.client.post("/api/items", content=b"payload")
    assert (r.status_code, r.text) == (200, "attempt 3")
    assert gw.backend.bodies == [b"payload"] * 3  # the body is sent again on every attempt
    assert gw.clock.waits == [1, 1]  # fixed interval


async def test_count_bounds_the_retries(gw: Gateway) -> None:
    gw.backend.statuses = [503]
    gw.lab.policy(
        _backend(
            '<retry condition="@(context.Response.StatusCode >= 500)" count="2" interval="0"><forward-request /></retry>'
        ),
        api="api",
    )
    r = await gw.client.post("/api/items", content=b"x")
    assert (r.status_code, r.text) == (503, "attempt 3")  # once, then two retries
    assert gw.clock.waits == []  # interval 0: no wait


@pytest.mark.parametrize(
    ("attributes", "waits"),
    [
        ('interval="2"', [2, 2, 2, 2, 2, 2]),
        ('interval="2" delta="3"', [2, 5, 8, 11, 14, 17]),  # interval + (n - 1) * delta
        # Learn's example: interval = delta = 10, max-interval = 100 -> 10, 20, 40, 80, 100, 100
        ('interval="10" max-interval="100" delta="10"', [10, 20, 40, 80, 100, 100]),
        ('interval="10" max-interval="100" delta="10" first-fast-retry="true"', [20, 40, 80, 100, 100]),
        ('interval="2" first-fast-retry="@(true)"', [2, 2, 2, 2, 2]),
    ],
)
async def test_wait_formulas(gw: Gateway, attributes: str, waits: list[float]) -> None:
    gw.backend.statuses = [500]
    gw.lab.policy(
        _backend(f'<retry condition="true" count="6" {attributes}><forward-request /></retry>'), api="api"
    )
    r = await gw.client.post("/api/items", content=b"x")
    assert r.text == "attempt 7"
    assert gw.clock.waits == waits


async def test_exponential_jitter_stays_within_its_range(gw: Gateway) -> None:
    import random

    gw.services.random = random.Random(7)
    gw.backend.statuses = [500]
    gw.lab.policy(
        _backend(
            '<retry condition="true" count="4" interval="1" max-interval="1000" delta="10"><forward-request /></retry>'
        ),
        api="api",
    )
    await gw.client.post("/api/items", content=b"x")
    for n, wait in enumerate(gw.clock.waits, start=1):
        factor = 2 ** (n - 1) - 1
        assert 1 + factor * 8 <= wait <= 1 + factor * 12


async def test_a_failure_inside_is_not_retried(gw: Gateway) -> None:
    """The backend cannot be reached: forward-request fails, on-error answers (no second attempt)."""
    gw.lab.policy(
        "<policies><inbound><base /></inbound><backend>"
        '<retry condition="true" count="3" interval="1"><forward-request timeout="5" /></retry></backend>'
        '<outbound /><on-error><return-response><set-status code="502" reason="Bad Gateway" />'
        "<set-body>@(context.LastError.Source)</set-body></return-response></on-error></policies>",
        api="api",
    )
    calls: list[str] = []

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        calls.append(str(args[1]))
        raise UpstreamError("connection refused")

    gw.services.upstream.request = unreachable  # type: ignore[method-assign]
    r = await gw.client.post("/api/items", content=b"x")
    assert (r.status_code, r.text) == (502, "forward-request")
    assert len(calls) == 1
    assert gw.clock.waits == []


async def test_learns_send_request_example(gw: Gateway) -> None:
    """Learn's second example: send-request with ignore-error, retried while it failed."""
    gw.backend.statuses = [500, 200]
    gw.lab.policy(
        "<policies><inbound><retry "
        'condition="@(context.Variables[&quot;response&quot;] == null || ((IResponse)context.Variables[&quot;response&quot;]).StatusCode &gt;= 500)" '
        'count="3" interval="1" first-fast-retry="true">'
        '<send-request mode="new" response-variable-name="response" timeout="3" ignore-error="true">'
        "<set-url>http://backend.test/products/5</set-url><set-method>GET</set-method></send-request></retry>"
        '<return-response><set-status code="200" reason="OK" />'
        "<set-body>@(((IResponse)context.Variables[&quot;response&quot;]).Body.As&lt;string&gt;())</set-body>"
        "</return-response></inbound></policies>",
        api="api",
    )
    r = await gw.client.post("/api/items", content=b"x")
    assert r.text == "attempt 2"
    assert gw.clock.waits == []  # the first retry is fast


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        ('<retry count="3" interval="1"><forward-request /></retry>', "'condition' attribute is required"),
        ('<retry condition="true" interval="1"><forward-request /></retry>', "'count' attribute is required"),
        ('<retry condition="true" count="3"><forward-request /></retry>', "'interval' attribute is required"),
        ('<retry condition="true" count="0" interval="1"><forward-request /></retry>', "between 1 and 50"),
        ('<retry condition="true" count="51" interval="1"><forward-request /></retry>', "between 1 and 50"),
        (
            '<retry condition="true" count="2" interval="-1"><forward-request /></retry>',
            "positive number of seconds",
        ),
        ('<retry condition="maybe" count="2" interval="1"><forward-request /></retry>', "Boolean expression"),
        ('<retry condition="true" count="2" interval="1" />', "at least one policy"),
        (
            '<retry condition="true" count="2" interval="1" colour="red"><forward-request /></retry>',
            "'colour'",
        ),
        ('<retry condition="true" count="2" interval="1"><base /></retry>', "direct child of a section"),
    ],
)
async def test_refused_when_stored(gw: Gateway, retry: str, message: str) -> None:
    with pytest.raises(PolicyRejectedError) as info:
        gw.lab.policy(_backend(retry), api="api")
    assert message in info.value.message
    assert "Error in element '" in info.value.message


async def test_forward_request_inside_retry_keeps_its_section_rule(gw: Gateway) -> None:
    with pytest.raises(PolicyRejectedError, match="Policy is not allowed in this section"):
        gw.lab.policy(
            '<policies><inbound><retry condition="true" count="2" interval="1"><forward-request /></retry>'
            "</inbound></policies>",
            api="api",
        )
