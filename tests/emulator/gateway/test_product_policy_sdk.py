"""Product-scoped policies through ARM (azure-mgmt-apimanagement ``product_policy``, REST spec
apimproducts.json ``products/{productId}/policies/{policyId}``) and a request through the gateway:
the product's policy runs between the global and the API's (Learn "Policies in Azure API
Management", "Scopes"); ``quota`` is stored only in a product's policy (Learn quota-policy.md,
"Policy scopes: product") and refused elsewhere in APIM's words."""

from __future__ import annotations

import ssl

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.support.azure import group_and_service
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

HEADER = '<set-header name="x-scope" exists-action="append"><value>{}</value></set-header>'


def _doc(inbound: str) -> str:
    return (
        f"<policies><inbound>{inbound}</inbound><backend><base /></backend>"
        "<outbound><base /></outbound><on-error><base /></on-error></policies>"
    )


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


async def test_a_product_policy_is_stored_and_runs_with_its_quota(emulator_session: RunningEmulator) -> None:
    async with emulator_session.apim_client() as c:
        group, svc = await group_and_service(emulator_session, c)
        name = str(svc.name)
        body = {
            "display_name": "orders",
            "path": "orders",
            "protocols": ["https"],
            "subscription_required": True,
        }
        await (await c.api.begin_create_or_update(group, name, "orders", body)).result()
        await c.api_operation.create_or_update(
            group, name, "orders", "list", {"display_name": "list", "method": "GET", "url_template": "/list"}
        )
        answer = '<return-response><set-status code="200" /><set-body>@(context.Request.Headers.GetValueOrDefault("x-scope", ""))</set-body></return-response>'  # fmt: skip
        await c.api_policy.create_or_update(
            group,
            name,
            "orders",
            "policy",
            {"value": _doc(f"<base />{HEADER.format('api')}{answer}"), "format": "rawxml"},
        )
        # quota belongs to a product's policy: refused at the API's scope
        with pytest.raises(HttpResponseError) as refused:
            await c.api_policy.create_or_update(
                group, name, "orders", "policy", {"value": _doc('<base /><quota calls="1" renewal-period="60" />'), "format": "rawxml"}
            )  # fmt: skip
        assert refused.value.status_code == 400
        assert (
            "Error in element 'quota' on line 1, column 28: Policy is not allowed in the specified scope"
            in str(refused.value.message)
        )
        await c.product.create_or_update(group, name, "gold", {"properties": {"displayName": "Gold"}})
        await c.product_api.create_or_update(group, name, "gold", "orders")
        product_xml = _doc(f'<base />{HEADER.format("product")}<quota calls="2" renewal-period="3600" />')
        await c.product_policy.create_or_update(
            group, name, "gold", "policy", {"value": product_xml, "format": "rawxml"}
        )
        stored = await c.product_policy.get(group, name, "gold", "policy", format="rawxml")
        assert '<quota calls="2" renewal-period="3600"/>' in str(
            stored.value
        )  # reformatted as APIM stores it
        await c.subscription.create_or_update(
            group, name, "buyer", {"properties": {"displayName": "Buyer", "scope": f"{svc.id}/products/gold", "state": "active"}}
        )  # fmt: skip
        key = str((await c.subscription.list_secrets(group, name, "buyer")).primary_key)
        trust = ssl.create_default_context(cafile=str(emulator_session.ca_file))
        async with httpx.AsyncClient(verify=trust) as http:
            url = f"{svc.gateway_url}/orders/list"
            first = await http.get(url, headers={"Ocp-Apim-Subscription-Key": key})
            assert (first.status_code, first.text) == (200, "product,api")
            assert (await http.get(url, headers={"Ocp-Apim-Subscription-Key": key})).status_code == 200
            over = await http.get(url, headers={"Ocp-Apim-Subscription-Key": key})
            assert over.status_code == 403
            assert over.json()["message"].startswith(
                "Out of call volume quota. Quota will be replenished in "
            )
            assert 1 <= int(over.headers["Retry-After"]) <= 3600
            # deleting the product's policy: the next request runs without it
            await c.product_policy.delete(group, name, "gold", "policy", "*")
            with pytest.raises(ResourceNotFoundError):
                await c.product_policy.get(group, name, "gold", "policy")
            after = await http.get(url, headers={"Ocp-Apim-Subscription-Key": key})
            assert (after.status_code, after.text) == (200, "api")
