"""The ``subscriptions`` checks against a scripted gateway (httpx MockTransport): they pass only
when the call without a key gets APIM's 401 and the call with the subscription's key (from
``listSecrets``) is admitted — and fail, saying why, when the gateway does otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.spec.loader import load_lab
from orchestrator.verify.model import Outcome
from orchestrator.verify.subscriptions import check_subscriptions, request_of, targets

pytestmark = pytest.mark.anyio

KEY = "0123456789abcdef0123456789abcdef"
MISSING = {
    "statusCode": 401,
    "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
}
INVALID = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
}

LAB = """
name: t
target: {kind: local, resource_group: rg-t}
apim:
  service: {name: apim-t, sku: BasicV2, publisher_email: a@example.com, publisher_name: T}
  apis:
    orders:
      display_name: Orders
      path: orders
      subscription_required: true
      operations:
        one: {method: GET, url_template: "/items/{id}", display_name: One, template_parameters: [{name: id}]}
    open:
      display_name: Open
      path: open
      subscription_required: true
    free: {display_name: Free, path: free}
  products:
    gold: {display_name: Gold, apis: [orders]}
    public: {display_name: Public, apis: [open], subscription_required: false}
  subscriptions:
    buyer: {display_name: Buyer, product: gold}
    on-open: {display_name: Open, api: open}
    on-free: {display_name: Free, api: free}
    paused: {display_name: Paused, product: gold, active: false}
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def lab(tmp_path: Path) -> Any:
    path = tmp_path / "lab.yaml"
    path.write_text(LAB, encoding="utf-8")
    return load_lab(path, env={})


OUTPUTS = {
    "apim_service.main": {"name": "apim-t"},
    "api.orders": {"url": "https://gw.test/orders"},
}


class Secrets:
    primary_key = KEY
    secondary_key = "f" * 32


class Apim:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []
        self.subscription = self

    async def list_secrets(self, rg: str, service: str, sid: str) -> Secrets:
        self.asked.append((rg, service, sid))
        return Secrets()


async def run(
    lab: Any, answer: Callable[[httpx.Request], httpx.Response]
) -> tuple[list[Any], Apim, list[httpx.Request]]:
    apim = Apim()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    @asynccontextmanager
    async def opener() -> AsyncIterator[Any]:
        yield apim

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        results = await check_subscriptions(lab, OUTPUTS, opener, http)
    return results, apim, seen


def test_only_active_subscriptions_of_apis_that_need_a_key_are_checked(lab: Any) -> None:
    # on-open: an open product holds the API; on-free: the API needs no key; paused: suspended
    assert targets(lab) == [("buyer", "orders")]
    assert request_of(lab.apim.apis["orders"], "https://gw.test/orders") == (
        "GET",
        "https://gw.test/orders/items/1",
    )
    assert request_of(lab.apim.apis["open"], "https://gw.test/open/") == ("POST", "https://gw.test/open/")


async def test_pass_when_the_gateway_answers_as_apim(lab: Any) -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        if request.headers.get("Ocp-Apim-Subscription-Key") == KEY:
            return httpx.Response(
                401, json={"statusCode": 401, "message": "Unauthorized. Access token is missing or invalid."}
            )
        return httpx.Response(401, json=MISSING)

    results, apim, seen = await run(lab, gateway)
    assert [(r.name, r.outcome) for r in results] == [
        ("subscriptions.buyer.without_key", Outcome.PASS),
        ("subscriptions.buyer.with_key", Outcome.PASS),  # admitted: the API's own 401 is not the key's
    ]
    assert apim.asked == [("rg-t", "apim-t", "buyer")]
    assert [str(r.url) for r in seen] == ["https://gw.test/orders/items/1"] * 2
    assert all(KEY not in r.detail for r in results)


@pytest.mark.parametrize(
    ("without", "with_key", "failing"),
    [
        (httpx.Response(200, text="ok"), httpx.Response(200, text="ok"), "without_key"),  # no key enforced
        (httpx.Response(401, json=INVALID), httpx.Response(200), "without_key"),  # the wrong refusal
        (httpx.Response(401, json=MISSING), httpx.Response(401, json=INVALID), "with_key"),  # key refused
        (httpx.Response(401, json=MISSING), httpx.Response(401, json=MISSING), "with_key"),  # key not read
    ],
)
async def test_fail_when_the_gateway_does_otherwise(
    lab: Any, without: httpx.Response, with_key: httpx.Response, failing: str
) -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        return with_key if "Ocp-Apim-Subscription-Key" in request.headers else without

    results, _, _ = await run(lab, gateway)
    outcomes = {r.name.rsplit(".", 1)[-1]: r.outcome for r in results}
    assert outcomes[failing] is Outcome.FAIL
    assert all(KEY not in r.detail for r in results)
