"""ARM's refusal of an api-version a type does not have, through the real SDKs (issue 14): the
APIM types issue 20 added (products, their APIs and policies, subscriptions, users, groups) are
checked like every type the emulator serves, and resource groups get ARM's front-door answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from emulator.contracts import versions
from tests.support.azure import make_group, make_service
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio


async def _service(emulator: RunningEmulator) -> tuple[str, str]:
    group = await make_group(emulator)
    async with emulator.apim_client() as c:
        service = await make_service(c, group)
    return group, str(service.name)


async def test_issue_20s_types_refuse_an_api_version_azure_does_not_serve(emulator: RunningEmulator) -> None:
    from azure.mgmt.apimanagement.models import ProductContract

    group, service = await _service(emulator)
    async with emulator.apim_client() as c:
        await c.product.create_or_update(group, service, "partners", ProductContract(display_name="Partners"))
        calls: dict[str, Callable[[str], Awaitable[Any]]] = {
            "service/products": lambda v: c.product.get(group, service, "partners", api_version=v),
            "service/products/policies": lambda v: c.product_policy.get(
                group, service, "partners", "policy", api_version=v
            ),
            "service/subscriptions": lambda v: c.subscription.get(group, service, "nope", api_version=v),
            "service/users": lambda v: c.user.get(group, service, "nope", api_version=v),
            "service/groups": lambda v: c.group.get(group, service, "administrators", api_version=v),
        }
        for type_name, call in calls.items():
            with pytest.raises(HttpResponseError) as caught:
                await call("2024-05-02")
            assert caught.value.status_code == 400, type_name
            assert caught.value.error is not None
            assert caught.value.error.code == "NoRegisteredProviderFound", type_name
            listed = ", ".join(versions.supported(f"Microsoft.ApiManagement/{type_name}") or ())
            assert caught.value.error.message == (
                f"No registered resource provider found for location 'westeurope' and API version "
                f"'2024-05-02' for type '{type_name}'. The supported api-versions are '{listed}'. "
                f"The supported locations are '{versions.LOCATIONS}'."
            )
        # a served version passes the check (the product exists; the others are 404, not 400)
        assert (await c.product.get(group, service, "partners", api_version="2022-08-01")).display_name
        links = [
            a
            async for a in c.product_api.list_by_product(
                group, service, "partners", api_version="2024-06-01-preview"
            )
        ]
        assert links == []


async def test_a_resource_group_gets_arms_front_door_answer(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.resource_client(api_version="2019-01-01") as old:
        with pytest.raises(HttpResponseError) as caught:
            await old.resource_groups.get(group)
        assert caught.value.status_code == 400
        assert caught.value.error is not None
        assert caught.value.error.code == "InvalidApiVersionParameter"
        assert str(caught.value.error.message).startswith(
            "The api-version '2019-01-01' is invalid. The supported versions are '2025-04-01,2025-03-01,"
        )
        with pytest.raises(HttpResponseError) as listed:
            [r async for r in old.resources.list_by_resource_group(group)]
        assert listed.value.error is not None
        assert listed.value.error.code == "InvalidApiVersionParameter"
    async with emulator.resource_client() as current:
        assert (await current.resource_groups.get(group)).name == group
