"""The gateway's view of a service (``config.py``): snapshots and compiled policies follow every
write, including a document deleted and re-created (its version must never repeat)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from emulator.gateway.config import (
    KIND_API_POLICY,
    KIND_BACKEND,
    KIND_FRAGMENT,
    KIND_NAMED_VALUE,
    KIND_OPERATION_POLICY,
)
from tests.emulator.gateway.support import SERVICE_ID, Lab, make_context

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def where(request: Request) -> Response:
    return PlainTextResponse(f"{request.url.hostname}{request.url.path}")


backend_app = Starlette(routes=[Route("/{path:path}", where)])


def _delete(lab: Lab, kind: str, arm_id: str) -> None:
    assert lab.store.delete(kind, arm_id.lower())
    for config in lab.configs:
        config.invalidate()  # the ARM layer's delete event


def _returns(text: str) -> str:
    return (
        '<policies><inbound><base /><return-response><set-status code="200" reason="OK" />'
        f"<set-body>{text}</set-body></return-response></inbound><backend><base /></backend>"
        "<outbound><base /></outbound><on-error><base /></on-error></policies>"
    )


FRAGMENT = (
    '<fragment><set-header name="X-Frag" exists-action="override"><value>{{greeting}}-%s</value>'
    "</set-header></fragment>"
)
USES_FRAGMENT = (
    '<policies><inbound><base /><include-fragment fragment-id="frag" /></inbound><backend><base /></backend>'
    '<outbound><base /><set-header name="X-Out" exists-action="override">'
    '<value>@(context.Request.Headers.GetValueOrDefault("X-Frag", ""))</value></set-header></outbound>'
    "<on-error><base /></on-error></policies>"
)
USES_BACKEND = (
    '<policies><inbound><base /><set-backend-service backend-id="be" /></inbound><backend><base /></backend>'
    "<outbound><base /></outbound><on-error><base /></on-error></policies>"
)


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    lab = Lab(make_context(tmp_path))
    lab.api("api", "api", "http://first.test")
    lab.operation("api", "op", "GET", "/op")
    lab.named_value("greeting", "hello")
    lab.fragment("frag", FRAGMENT % "f1")
    lab.backend("be", "http://old.test")
    return lab


async def _get(lab: Lab, path: str) -> httpx.Response:
    app, _, _ = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        return await c.get(path)


# Issue 17 item 2: PUT a policy, DELETE it, PUT another - the gateway ran the first one: a
# re-created document restarted at version 1, and the compiled-policy cache and the snapshot
# fingerprint are keyed by version. Each cached artefact is re-created once here, with the
# gateway (one ServiceConfig) running before and after.


async def test_a_recreated_policy_is_recompiled(lab: Lab) -> None:
    lab.policy(_returns("one"), api="api", operation="op")
    app, _, _ = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        assert (await c.get("/api/op")).text == "one"
        _delete(lab, KIND_OPERATION_POLICY, f"{SERVICE_ID}/apis/api/operations/op/policies/policy")
        lab.policy(_returns("two"), api="api", operation="op")
        assert (await c.get("/api/op")).text == "two"


async def test_a_recreated_fragment_is_recompiled(lab: Lab) -> None:
    lab.policy(USES_FRAGMENT, api="api")
    app, _, _ = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        assert (await c.get("/api/op")).headers["x-out"] == "hello-f1"
        _delete(lab, KIND_FRAGMENT, f"{SERVICE_ID}/policyFragments/frag")
        lab.fragment("frag", FRAGMENT % "f2")
        assert (await c.get("/api/op")).headers["x-out"] == "hello-f2"


async def test_a_recreated_named_value_is_substituted_again(lab: Lab) -> None:
    lab.policy(USES_FRAGMENT, api="api")
    app, _, _ = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        assert (await c.get("/api/op")).headers["x-out"] == "hello-f1"
        _delete(lab, KIND_NAMED_VALUE, f"{SERVICE_ID}/namedValues/greeting")
        lab.named_value("greeting", "howdy")
        assert (await c.get("/api/op")).headers["x-out"] == "howdy-f1"


async def test_a_recreated_backend_is_routed_to(lab: Lab) -> None:
    lab.policy(USES_BACKEND, api="api")
    app, _, _ = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        assert (await c.get("/api/op")).text == "old.test/op"
        _delete(lab, KIND_BACKEND, f"{SERVICE_ID}/backends/be")
        lab.backend("be", "http://new.test")
        assert (await c.get("/api/op")).text == "new.test/op"


async def test_a_recreated_api_policy_with_the_same_text_is_still_served(lab: Lab) -> None:
    """The other direction: a re-created document with the same content keeps working."""
    lab.policy(_returns("same"), api="api")
    assert (await _get(lab, "/api/op")).text == "same"
    _delete(lab, KIND_API_POLICY, f"{SERVICE_ID}/apis/api/policies/policy")
    lab.policy(_returns("same"), api="api")
    assert (await _get(lab, "/api/op")).text == "same"
