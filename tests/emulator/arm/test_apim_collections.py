"""APIM's other collections through azure-mgmt-apimanagement aio (issue 17.7 needs them served):
products, subscriptions, users, groups, certificates — required properties refused as APIM does,
subscription keys only through ``listSecrets``, and the children APIM makes in a new service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from tests.support.azure import group_and_service_name
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio


async def test_required_properties_are_refused_as_apim_does(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: c.product.create_or_update(group, svc, "p", {"properties": {}}),
            lambda: c.user.create_or_update(group, svc, "u", {"properties": {"email": "a@example.com"}}),
            lambda: c.group.create_or_update(group, svc, "g", {"properties": {}}),
            lambda: c.subscription.create_or_update(group, svc, "s", {"properties": {"displayName": "S"}}),
            lambda: c.certificate.create_or_update(group, svc, "c", {"properties": {}}),
        ]
        for call in calls:
            with pytest.raises(HttpResponseError) as caught:
                await call()
            assert caught.value.status_code == 400
            assert caught.value.error is not None
            assert caught.value.error.code == "ValidationError"


async def test_a_new_service_holds_apims_own_children_and_hides_subscription_keys(
    emulator: RunningEmulator,
) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        groups = {g.name: g async for g in c.group.list_by_service(group, svc)}
        assert sorted(groups) == ["administrators", "developers", "guests"]
        assert all(g.built_in and g.type_properties_type == "system" for g in groups.values())
        users = [u async for u in c.user.list_by_service(group, svc)]
        assert [(u.name, u.email) for u in users] == [("1", "lab@example.com")]
        master = await c.subscription.get(group, svc, "master")
        assert master.display_name == "Built-in all-access subscription"
        assert master.primary_key is None  # never on GET
        secrets = await c.subscription.list_secrets(group, svc, "master")
        assert secrets.primary_key
        assert secrets.secondary_key
        mine = await c.group.create_or_update(
            group, svc, "partners", {"properties": {"displayName": "P", "builtIn": True}}
        )
        assert (mine.built_in, mine.type_properties_type) == (False, "custom")  # builtIn is read-only


async def test_keys_are_regenerated_one_at_a_time(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        await c.subscription.create_or_update(
            group, svc, "s", {"properties": {"scope": "/apis", "displayName": "S"}}
        )
        before = await c.subscription.list_secrets(group, svc, "s")
        await c.subscription.regenerate_primary_key(group, svc, "s")
        middle = await c.subscription.list_secrets(group, svc, "s")
        assert middle.primary_key != before.primary_key
        assert middle.secondary_key == before.secondary_key
        await c.subscription.regenerate_secondary_key(group, svc, "s")
        after = await c.subscription.list_secrets(group, svc, "s")
        assert (after.primary_key, after.secondary_key != before.secondary_key) == (middle.primary_key, True)


async def test_links_add_existing_entities_and_answer_their_contract(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        await c.product.create_or_update(group, svc, "gold", {"properties": {"displayName": "Gold"}})
        await c.api.begin_create_or_update(
            group,
            svc,
            "linked",
            {"properties": {"displayName": "Linked", "path": "linked", "protocols": ["https"]}},
        )
        await c.user.create_or_update(
            group,
            svc,
            "ada",
            {"properties": {"email": "ada@example.com", "firstName": "Ada", "lastName": "L"}},
        )
        await c.group.create_or_update(group, svc, "partners", {"properties": {"displayName": "Partners"}})
        api = await c.product_api.create_or_update(group, svc, "gold", "linked")
        assert (api.display_name, api.path) == ("Linked", "linked")
        assert [a.name async for a in c.product_api.list_by_product(group, svc, "gold")] == ["linked"]
        linked = await c.product_group.create_or_update(group, svc, "gold", "partners")
        assert linked.display_name == "Partners"
        user = await c.group_user.create(group, svc, "partners", "ada")
        assert user.email == "ada@example.com"
        assert [u.name async for u in c.group_user.list(group, svc, "partners")] == ["ada"]
        links: list[Callable[[], Awaitable[Any]]] = [
            lambda: c.product_api.create_or_update(group, svc, "gold", "nope"),
            lambda: c.product_group.create_or_update(group, svc, "gold", "nope"),
            lambda: c.group_user.create(group, svc, "partners", "nope"),
        ]
        for missing in links:
            with pytest.raises(HttpResponseError) as caught:
                await missing()
            assert caught.value.status_code == 404
        await c.product_api.delete(group, svc, "gold", "linked")
        assert [a.name async for a in c.product_api.list_by_product(group, svc, "gold")] == []
