"""Subscriptions, products, users and groups end to end (issue 20 item 3): everything created
through the ARM SDK (azure-mgmt-apimanagement against the session emulator), requests through
the service's gateway, compared with Learn's "Subscriptions in Azure API Management" ("How API
Management handles requests with or without subscription keys") and the ``context.Subscription``
/ ``context.User`` / ``context.Product`` members of Learn's "API Management policy expressions"."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emulator.gateway.subscriptions import INVALID_KEY, MISSING_KEY
from tests.support.azure import group_and_service
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# what the policies answer: the context's members, "-" for null
_WHO = (
    '@((context.Subscription?.Id ?? "-") + "|" + (context.Subscription?.Name ?? "-") + "|" '
    '+ (context.Subscription == null ? "-" : (context.Subscription.Key == context.Subscription.PrimaryKey ? "primary" : '
    '(context.Subscription.Key == context.Subscription.SecondaryKey ? "secondary" : "?"))) + "|" '
    '+ (context.User?.Id ?? "-") + "|" + (context.User?.Email ?? "-") + "|" '
    '+ (context.User == null ? "-" : string.Join(",", context.User.Groups.Select(g => g.Id))) + "|" '
    '+ (context.Product?.Id ?? "-") + "|" + (context.Product == null ? "-" : context.Product.State.ToString()) + "|" '
    '+ (context.Product == null ? "-" : string.Join(",", context.Product.Apis.Select(a => a.Id))) + "|" '
    '+ (context.Subscription == null ? "-" : (context.Subscription.CreatedDate.Year > 2000).ToString()))'
)
POLICY = (
    '<policies><inbound><base /><return-response><set-status code="200" />'
    f"<set-body>{_WHO}</set-body></return-response></inbound>"
    "<backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>"
)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Apim:
    emu: RunningEmulator
    group: str
    service: str
    gateway: str

    async def call(
        self, api: str, key: str | None = None, *, query: str | None = None, **kw: Any
    ) -> httpx.Response:
        trust = ssl.create_default_context(cafile=str(self.emu.ca_file))
        headers = {"Ocp-Apim-Subscription-Key": key} if key is not None else {}
        params = {"subscription-key": query} if query is not None else {}
        async with httpx.AsyncClient(verify=trust) as http:
            return await http.get(f"{self.gateway}/{api}/who", headers=headers, params=params, **kw)

    async def keys(self, sid: str) -> tuple[str, str]:
        async with self.emu.apim_client() as c:
            got = await c.subscription.list_secrets(self.group, self.service, sid)
        return str(got.primary_key), str(got.secondary_key)


@pytest.fixture(scope="module")
async def apim(emulator_session: RunningEmulator) -> Apim:
    async with emulator_session.apim_client() as c:
        group, svc = await group_and_service(emulator_session, c)
        name = str(svc.name)
        for api, required in (
            ("gold-api", True),
            ("other", True),
            ("open-api", True),
            ("plain", True),
            ("free", False),
        ):
            body = {
                "display_name": api,
                "path": api,
                "protocols": ["https"],
                "subscription_required": required,
            }
            await (await c.api.begin_create_or_update(group, name, api, body)).result()
            await c.api_operation.create_or_update(
                group, name, api, "who", {"display_name": "who", "method": "GET", "url_template": "/who"}
            )
            await c.api_policy.create_or_update(
                group, name, api, "policy", {"value": POLICY, "format": "rawxml"}
            )
        await c.product.create_or_update(group, name, "gold", {"properties": {"displayName": "Gold"}})
        await c.product_api.create_or_update(group, name, "gold", "gold-api")
        await c.product.create_or_update(
            group, name, "open", {"properties": {"displayName": "Open", "subscriptionRequired": False}}
        )
        await c.product_api.create_or_update(group, name, "open", "open-api")
        await c.group.create_or_update(group, name, "partners", {"properties": {"displayName": "Partners"}})
        await c.user.create_or_update(
            group,
            name,
            "ada",
            {"properties": {"email": "ada@example.com", "firstName": "Ada", "lastName": "L"}},
        )
        await c.group_user.create(group, name, "partners", "ada")
        users = f"{svc.id}/users"
        for sid, props in (
            ("ada-gold", {"scope": f"{svc.id}/products/gold", "ownerId": f"{users}/ada", "state": "active"}),
            ("other-only", {"scope": "/apis/other", "state": "active"}),
            ("all-apis", {"scope": "/apis", "state": "active"}),
            ("waiting", {"scope": "/apis", "displayName": "waiting"}),  # submitted: not active
        ):
            await c.subscription.create_or_update(
                group, name, sid, {"properties": {"displayName": sid.title(), **props}}
            )
    return Apim(emulator_session, group, name, str(svc.gateway_url))


async def test_a_product_key_fills_subscription_user_and_product(apim: Apim) -> None:
    primary, secondary = await apim.keys("ada-gold")
    r = await apim.call("gold-api", primary)
    assert r.status_code == 200, r.text
    assert r.text == "ada-gold|Ada-Gold|primary|ada|ada@example.com|partners|gold|NotPublished|gold-api|True"
    # the query parameter is read when the header is absent
    r = await apim.call("gold-api", query=secondary)
    assert r.text.split("|")[:3] == ["ada-gold", "Ada-Gold", "secondary"]


async def test_the_header_wins_over_the_query_parameter(apim: Apim) -> None:
    primary, _ = await apim.keys("ada-gold")
    r = await apim.call("gold-api", "not-a-key", query=primary)
    assert (r.status_code, r.json()["message"]) == (401, INVALID_KEY)


async def test_keys_admit_only_the_apis_of_their_scope(apim: Apim) -> None:
    gold, _ = await apim.keys("ada-gold")
    other, _ = await apim.keys("other-only")
    everything, _ = await apim.keys("all-apis")
    master, _ = await apim.keys("master")
    assert (await apim.call("other", gold)).status_code == 401  # product key, API not in the product
    assert (await apim.call("gold-api", other)).status_code == 401  # key of another API
    assert (await apim.call("other", other)).text.startswith("other-only|Other-Only|primary|-|-|-|-|")
    # all APIs: no product, a standalone subscription has no user
    assert (await apim.call("gold-api", everything)).text.startswith("all-apis|All-Apis|primary|-|-|-|-|-|-|")
    # the built-in all-access subscription belongs to the administrator, user 1
    assert (await apim.call("plain", master)).text.startswith(
        "master|Built-in all-access subscription|primary|1|"
    )


async def test_without_a_key_only_open_products_and_open_apis_admit(apim: Apim) -> None:
    missing = await apim.call("plain")
    assert (missing.status_code, missing.json()["message"]) == (401, MISSING_KEY)
    assert (await apim.call("gold-api")).status_code == 401
    # an open product holding the API admits it in the product's context
    assert (await apim.call("open-api")).text == "-|-|-|-|-|-|open|NotPublished|open-api|-"
    # an API that needs no subscription admits it in the API's context
    assert (await apim.call("free")).text == "-|-|-|-|-|-|-|-|-|-"


async def test_a_wrong_key_is_refused_even_where_no_key_is_needed(apim: Apim) -> None:
    waiting, _ = await apim.keys("waiting")
    for api in ("free", "open-api"):
        r = await apim.call(api, "not-a-key")
        assert (r.status_code, r.json()["message"]) == (401, INVALID_KEY)
    r = await apim.call("gold-api", waiting)  # submitted, not active
    assert (r.status_code, r.json()["message"]) == (401, INVALID_KEY)


async def test_state_changes_and_regenerated_keys_apply_to_the_next_request(apim: Apim) -> None:
    async with apim.emu.apim_client() as c:
        await c.subscription.create_or_update(
            apim.group,
            apim.service,
            "rotating",
            {"properties": {"scope": "/apis", "displayName": "R", "state": "active"}},
        )
        old, _ = await apim.keys("rotating")
        assert (await apim.call("plain", old)).status_code == 200
        await c.subscription.regenerate_primary_key(apim.group, apim.service, "rotating")
        new, _ = await apim.keys("rotating")
        assert (await apim.call("plain", old)).status_code == 401
        assert (await apim.call("plain", new)).status_code == 200
        await c.subscription.update(apim.group, apim.service, "rotating", "*", {"state": "suspended"})
        assert (await apim.call("plain", new)).status_code == 401


RATE_LIMIT = (
    '<policies><inbound><base /><rate-limit calls="3" renewal-period="60" remaining-calls-header-name="x-left" '
    'total-calls-header-name="x-total" retry-after-header-name="x-retry">'
    '<api name="limited" calls="2" renewal-period="60"><operation name="other-op" calls="1" renewal-period="60" /></api>'
    '</rate-limit><return-response><set-status code="200" /></return-response></inbound>'
    "<backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>"
)


async def test_rate_limit_counts_per_subscription_with_its_api_limits(apim: Apim) -> None:
    """Learn rate-limit-policy.md: per subscription; the api/operation children are applied
    independently; "only applied when an API is accessed using a subscription key"."""
    async with apim.emu.apim_client() as c:
        body = {
            "display_name": "limited",
            "path": "limited",
            "protocols": ["https"],
            "subscription_required": False,
        }
        await (await c.api.begin_create_or_update(apim.group, apim.service, "limited", body)).result()
        await c.api_operation.create_or_update(
            apim.group,
            apim.service,
            "limited",
            "who",
            {"display_name": "who", "method": "GET", "url_template": "/who"},
        )
        await c.api_policy.create_or_update(
            apim.group, apim.service, "limited", "policy", {"value": RATE_LIMIT, "format": "rawxml"}
        )
    everything, _ = await apim.keys("all-apis")
    master, _ = await apim.keys("master")
    first = await apim.call("limited", everything)
    assert (first.status_code, first.headers["x-left"], first.headers["x-total"]) == (200, "2", "3")
    assert (await apim.call("limited", everything)).status_code == 200
    third = await apim.call("limited", everything)  # the API's own limit (2) is reached before 3
    assert third.status_code == 429
    assert 1 <= int(third.headers["x-retry"]) <= 60
    assert third.json()["message"].startswith("Rate limit is exceeded.")
    assert (await apim.call("limited", master)).status_code == 200  # another subscription
    assert [(await apim.call("limited")).status_code for _ in range(4)] == [200] * 4  # no key: not applied
