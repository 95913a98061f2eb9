"""Product-scoped policies and quotas (issue 20): the gateway runs the global, product, API and
operation policies in APIM's order (Learn "Policies in Azure API Management", "Scopes"), and
``quota`` / ``quota-by-key`` as Learn's quota-policy.md / quota-by-key-policy.md describe them,
with the predefined ``QuotaExceeded`` error (Learn api-management-error-handling-policies.md).
In process: the store is filled as ARM stores it, the clock is fixed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.context import PolicyRejectedError
from emulator.gateway.check import check_policy
from emulator.gateway.config import KIND_PRODUCT_POLICY
from emulator.gateway.elements.quota import timespan
from emulator.gateway.services import Services
from emulator.gateway.subscriptions import KIND_PRODUCT, KIND_PRODUCT_API, KIND_SUBSCRIPTION
from tests.emulator.gateway.support import SERVICE_ID, Lab, make_context

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0  # the fixed clock: 2027-01-15T08:00:00Z
START = "2027-01-15T07:00:00Z"  # the subscriptions' start: quota windows count from it


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _doc(inbound: str, outbound: str = "<base />", on_error: str = "<base />") -> str:
    return (
        f"<policies><inbound>{inbound}</inbound><backend><base /></backend>"
        f"<outbound>{outbound}</outbound><on-error>{on_error}</on-error></policies>"
    )


@dataclass
class Backend:
    calls: int = 0
    body: bytes = b"x" * 600

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        self.calls += 1
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": self.body})


@dataclass
class Gateway:
    lab: Lab
    client: httpx.AsyncClient
    services: Services
    backend: Backend
    keys: dict[str, str] = field(default_factory=dict)

    def product(self, name: str, apis: tuple[str, ...], *, open_product: bool = False) -> None:
        pid = f"{SERVICE_ID}/products/{name}"
        props = {"displayName": name, "subscriptionRequired": not open_product, "state": "published"}
        self.lab._put(KIND_PRODUCT, pid, {"name": name, "properties": props}, SERVICE_ID)
        for api in apis:
            self.lab._put(KIND_PRODUCT_API, f"{pid}/apis/{api}", {"name": api}, pid)

    def product_policy(self, name: str, xml: str) -> None:
        stored = check_policy(xml, [], "product")
        pid = f"{SERVICE_ID}/products/{name}"
        body = {"name": "policy", "properties": {"value": stored, "format": "xml"}}
        self.lab._put(KIND_PRODUCT_POLICY, f"{pid}/policies/policy", body, pid)

    def subscription(self, name: str, scope: str) -> str:
        key = f"key-{name}"
        props = {"scope": scope, "state": "active", "primaryKey": key, "startDate": START}
        self.lab._put(KIND_SUBSCRIPTION, f"{SERVICE_ID}/subscriptions/{name}", {"name": name, "properties": props}, SERVICE_ID)  # fmt: skip
        return key

    async def get(self, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Ocp-Apim-Subscription-Key": key} if key else {}
        return await self.client.get(path, headers=headers, **kw)


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    lab = Lab(make_context(tmp_path))
    for api in ("orders", "stock"):
        lab.api(api, api, "http://backend.test", subscription_required=True)
        lab.operation(api, "list", "GET", "/list")
        lab.operation(api, "one", "GET", "/one")
    backend = Backend()
    app, _config, services = lab.app(backend)
    services.clock = lambda: T0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw") as client:
        yield Gateway(lab, client, services, backend)
    lab.store.close()


def _trail(scope: str) -> str:
    """Appends the scope's name to the x-trail header of the response."""
    return (
        '<set-header name="x-trail" exists-action="override"><value>@(context.Response.Headers'
        f'.GetValueOrDefault("x-trail", "") + "{scope};")</value></set-header>'
    )


async def test_scopes_run_global_product_api_operation_through_base(gw: Gateway) -> None:
    gw.lab.policy(_doc("<base />", f"<base />{_trail('global')}"))
    gw.product("gold", ("orders",))
    gw.product_policy("gold", _doc("<base />", f"<base />{_trail('product')}"))
    gw.lab.policy(_doc("<base />", f"<base />{_trail('api')}"), api="orders")
    gw.lab.policy(_doc("<base />", f"<base />{_trail('operation')}"), api="orders", operation="list")
    gold = gw.subscription("gold-sub", f"{SERVICE_ID}/products/gold")
    api_only = gw.subscription("orders-sub", "/apis/orders")
    r = await gw.get("/orders/list", gold)
    assert (r.status_code, r.headers["x-trail"]) == (200, "global;product;api;operation;")
    # a key scoped to the API (not a product): no product policy
    r = await gw.get("/orders/list", api_only)
    assert r.headers["x-trail"] == "global;api;operation;"
    # a product policy without <base/> drops the global policy's part of that section
    gw.product_policy("gold", _doc("<base />", _trail("product")))
    r = await gw.get("/orders/one", gold)
    assert r.headers["x-trail"] == "product;api;"


async def test_an_open_product_runs_its_policy_without_a_key(gw: Gateway) -> None:
    gw.product("open", ("stock",), open_product=True)
    gw.product_policy("open", _doc('<base /><set-header name="x-p" exists-action="override"><value>@(context.Product.Id)</value></set-header>'))  # fmt: skip
    r = await gw.get("/stock/list")
    assert r.status_code == 200
    assert gw.backend.calls == 1


async def test_quota_counts_calls_per_subscription_and_answers_403(gw: Gateway) -> None:
    gw.product("gold", ("orders", "stock"))
    gw.product_policy("gold", _doc('<base /><quota calls="2" renewal-period="7200" />'))
    one = gw.subscription("one", f"{SERVICE_ID}/products/gold")
    two = gw.subscription("two", f"{SERVICE_ID}/products/gold")
    assert (await gw.get("/orders/list", one)).status_code == 200
    assert (await gw.get("/stock/list", one)).status_code == 200  # the product's quota: every API counts
    refused = await gw.get("/orders/list", one)
    # the window started with the subscription (07:00), 7,200 s long: it ends at 09:00, one hour on
    assert refused.status_code == 403
    assert refused.json() == {
        "statusCode": 403,
        "message": "Out of call volume quota. Quota will be replenished in 01:00:00.",
    }
    assert refused.headers["Retry-After"] == "3600"
    assert gw.backend.calls == 2  # the refused call never reached the backend
    assert (await gw.get("/orders/list", two)).status_code == 200  # another subscription's counter
    gw.services.clock = lambda: T0 + 3600  # the next window
    assert (await gw.get("/orders/list", one)).status_code == 200


async def test_quota_children_apply_independently(gw: Gateway) -> None:
    gw.product("gold", ("orders", "stock"))
    gw.product_policy(
        "gold",
        _doc(
            '<base /><quota calls="10" renewal-period="0"><api name="orders" calls="3" renewal-period="0">'
            '<operation name="one" calls="1" renewal-period="0" /></api></quota>'
        ),
    )
    key = gw.subscription("one", f"{SERVICE_ID}/products/gold")
    assert (await gw.get("/orders/one", key)).status_code == 200
    infinite = await gw.get("/orders/one", key)  # the operation's own limit; a period of 0 never renews
    assert infinite.status_code == 403
    assert infinite.json()["message"] == "Out of call volume quota."
    assert "Retry-After" not in infinite.headers
    assert (await gw.get("/orders/list", key)).status_code == 200
    assert (await gw.get("/orders/list", key)).status_code == 200
    assert (await gw.get("/orders/list", key)).status_code == 403  # the API's 3 (refusals not counted)
    for _ in range(7):
        assert (await gw.get("/stock/list", key)).status_code == 200
    assert (await gw.get("/stock/list", key)).status_code == 403  # the product's 10


async def test_quota_bandwidth_counts_request_and_response_kilobytes(gw: Gateway) -> None:
    gw.product("gold", ("orders",))
    gw.product_policy("gold", _doc('<base /><quota bandwidth="2" renewal-period="86400" />'))
    key = gw.subscription("one", f"{SERVICE_ID}/products/gold")
    for _ in range(3):  # 600 bytes answered each time: 1,800 < 2,048
        assert (await gw.get("/orders/list", key)).status_code == 200
    assert (await gw.get("/orders/list", key)).status_code == 200  # 2,400 after this one
    refused = await gw.get("/orders/list", key)
    assert refused.status_code == 403
    # the day started at 07:00 (the subscription's start): 23 hours left
    assert refused.json()["message"] == "Out of bandwidth quota. Quota will be replenished in 23:00:00."


async def test_quota_applies_only_with_a_subscription_key(gw: Gateway) -> None:
    gw.product("open", ("stock",), open_product=True)
    gw.product_policy("open", _doc('<base /><quota calls="1" renewal-period="300" />'))
    for _ in range(3):
        assert (await gw.get("/stock/list")).status_code == 200


async def test_quota_exceeded_runs_on_error_with_last_error(gw: Gateway) -> None:
    on_error = (
        '<base /><set-header name="x-error" exists-action="override">'
        '<value>@(context.LastError.Source + "|" + context.LastError.Reason + "|" + context.LastError.Section'
        ' + "|" + context.LastError.Scope)</value>'
        "</set-header>"
    )
    gw.product("gold", ("orders",))
    gw.product_policy("gold", _doc('<base /><quota calls="0" renewal-period="3600" />', on_error=on_error))
    key = gw.subscription("one", f"{SERVICE_ID}/products/gold")
    r = await gw.get("/orders/list", key)
    assert (r.status_code, r.headers["x-error"]) == (403, "quota|QuotaExceeded|inbound|product")
    assert r.headers["Retry-After"] == "3600"  # hour-long windows from 07:00: the one from 08:00


async def test_quota_by_key_counts_only_what_the_condition_accepts(gw: Gateway) -> None:
    # Learn's example: the condition reads the response, so the request is counted once answered
    gw.lab.policy(
        _doc(
            '<base /><quota-by-key calls="2" renewal-period="3600" counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;x-who&quot;, &quot;&quot;))" '
            'increment-condition="@(context.Response.StatusCode &gt;= 200 &amp;&amp; context.Response.StatusCode &lt; 400)" />'
            '<choose><when condition="@(context.Request.Headers.ContainsKey(&quot;x-fail&quot;))">'
            '<return-response><set-status code="500" /></return-response></when></choose>'
        ),
        api="orders",
    )
    gw.lab.api("orders", "orders", "http://backend.test", subscription_required=False)

    async def call(who: str, fail: bool = False) -> int:
        headers = {"x-who": who, **({"x-fail": "1"} if fail else {})}
        return (await gw.client.get("/orders/list", headers=headers)).status_code

    for _ in range(5):  # failures are not counted
        assert await call("ada", fail=True) == 500
    assert [await call("ada"), await call("ada"), await call("ada")] == [200, 200, 403]
    assert await call("bob") == 200  # another key, another counter
    refused = await gw.client.get("/orders/list", headers={"x-who": "ada"})
    # windows start at 0001-01-01T00:00:00Z by default: whole hours, 08:00 -> 09:00
    assert refused.json()["message"] == "Out of call volume quota. Quota will be replenished in 01:00:00."


async def test_quota_by_key_counts_once_per_request_across_scopes(gw: Gateway) -> None:
    by_key = '<quota-by-key calls="3" renewal-period="0" counter-key="shared" />'
    gw.lab.policy(_doc(f"<base />{by_key}"))
    gw.lab.policy(_doc(f"<base />{by_key}"), api="orders")
    gw.lab.api("orders", "orders", "http://backend.test", subscription_required=False)
    assert [(await gw.client.get("/orders/list")).status_code for _ in range(4)] == [200, 200, 200, 403]


async def test_quota_by_key_first_period_start(gw: Gateway) -> None:
    gw.lab.policy(
        _doc(
            '<base /><quota-by-key calls="1" renewal-period="86400" counter-key="k" first-period-start="2027-01-14T20:30:00Z" />'
        ),
        api="orders",
    )
    gw.lab.api("orders", "orders", "http://backend.test", subscription_required=False)
    assert (await gw.client.get("/orders/list")).status_code == 200
    refused = await gw.client.get("/orders/list")
    assert refused.json()["message"].endswith("replenished in 12:30:00.")
    assert refused.headers["Retry-After"] == str(12 * 3600 + 1800)


@pytest.mark.parametrize(
    ("scope", "xml", "message"),
    [
        (
            "api",
            '<quota calls="1" renewal-period="60" />',
            "Error in element 'quota' on line 1, column 28: Policy is not allowed in the specified scope",
        ),
        (
            "operation",
            '<quota calls="1" renewal-period="60" />',
            "Error in element 'quota' on line 1, column 28: Policy is not allowed in the specified scope",
        ),
        (
            "global",
            '<quota calls="1" renewal-period="60" />',
            "Error in element 'quota' on line 1, column 28: Policy is not allowed in the specified scope",
        ),
        (
            "global",
            '<rate-limit calls="1" renewal-period="60" />',
            "Error in element 'rate-limit' on line 1, column 28: Policy is not allowed in the specified scope",
        ),
        (
            "product",
            '<quota renewal-period="60" />',
            "Error in element 'quota' on line 1, column 28: Either 'calls', 'bandwidth', or both together must be specified.",
        ),
        (
            "product",
            '<quota calls="1" />',
            "Error in element 'quota' on line 1, column 28: 'renewal-period' attribute is required.",
        ),
        (
            "product",
            '<quota calls="1" renewal-period="60" /><quota calls="2" renewal-period="60" />',
            "Error in element 'quota' on line 1, column 67: The policy 'quota' can be used only once per policy definition.",
        ),
        (
            "product",
            '<quota calls="@(1)" renewal-period="60" />',
            "Error in element 'quota' on line 1, column 42: The value '@(1)' of attribute 'calls' must be a non-negative whole number.",
        ),
        (
            "api",
            '<quota-by-key calls="1" renewal-period="60" counter-key="k" />',
            "Error in element 'quota-by-key' on line 1, column 68: The minimum 'renewal-period' is 300 seconds (0: the period is infinite).",
        ),
        (
            "api",
            '<quota-by-key calls="1" renewal-period="300" />',
            "Error in element 'quota-by-key' on line 1, column 28: 'counter-key' attribute is required.",
        ),
        (
            "api",
            '<quota-by-key calls="1" renewal-period="300" counter-key="k" first-period-start="tomorrow" />',
            "Error in element 'quota-by-key' on line 1, column 109: The value 'tomorrow' of attribute 'first-period-start' is not in the format yyyy-MM-ddTHH:mm:ssZ.",
        ),
    ],
)
def test_quota_refusals_name_the_element_and_where(scope: str, xml: str, message: str) -> None:
    with pytest.raises(PolicyRejectedError) as caught:
        check_policy(_doc(f"<base />{xml}"), [], scope)
    assert caught.value.message == message


def test_quota_is_stored_in_a_product_policy() -> None:
    stored = check_policy(
        _doc('<base /><quota calls="10000" bandwidth="40000" renewal-period="3600" />'), [], "product"
    )
    assert "quota" in stored
    # the scope is unknown for documents compiled to run (and for checks that do not say it)
    check_policy(_doc('<base /><quota calls="1" renewal-period="60" />'), [])


def test_timespan_is_dotnet_text() -> None:
    assert [timespan(s) for s in (0, 59, 3600, 86_399, 86_400 * 20 + 35_935)] == [
        "00:00:00", "00:00:59", "01:00:00", "23:59:59", "20.09:58:55",
    ]  # fmt: skip


async def test_last_error_names_the_scope_of_the_failing_policy(gw: Gateway) -> None:
    """Learn's LastError.Scope ("global", "product", "api", or "operation"): a failure nested in
    the API's ``choose`` is the API scope's, seen by the global on-error."""
    on_error = (
        '<base /><set-header name="x-scope" exists-action="override">'
        '<value>@(context.LastError.Scope + "|" + context.LastError.Source)</value></set-header>'
    )
    gw.lab.policy(_doc("<base />", on_error=on_error))
    nested = (
        '<base /><choose><when condition="@(true)">'
        '<quota-by-key calls="0" renewal-period="0" counter-key="k" /></when></choose>'
    )
    gw.lab.policy(_doc(nested, on_error="<base />"), api="stock")
    gw.lab.api("stock", "stock", "http://backend.test", subscription_required=False)
    r = await gw.client.get("/stock/list")
    assert (r.status_code, r.headers["x-scope"]) == (403, "api|quota")
