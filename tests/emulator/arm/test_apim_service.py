"""APIM service through azure-mgmt-apimanagement aio: LRO create, list/paging, update, soft delete, purge."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.support.azure import make_group, make_service, unique
from tests.support.emulator import EmulatorFactory, RunningEmulator

pytestmark = pytest.mark.anyio


async def test_create_is_a_long_running_operation(make_emulator: EmulatorFactory) -> None:
    # A private emulator whose APIM create runs for an hour: "still provisioning right after the
    # PUT" holds however slowly this machine runs (with the session emulator's 0.3 s a loaded
    # machine took longer than that between the PUT and the GET, and the GET settled the create)
    emu = make_emulator("--apim-create-seconds", "3600")
    group = await make_group(emu)
    name = unique("apim-")
    async with emu.apim_client() as c:
        poller = await c.api_management_service.begin_create_or_update(
            group,
            name,
            {
                "location": "West Europe",
                "sku": {"name": "Developer", "capacity": 1},
                "publisher_email": "a@b.c",
                "publisher_name": "p",
            },
        )
        assert not poller.done()
        # while the operation runs, the service is visible but not yet provisioned
        early = await c.api_management_service.get(group, name)
        assert early.provisioning_state == "Created"
        # and the operation the SDK polls (Azure-AsyncOperation) says so too
        method = poller.polling_method()
        await method.update_status()
        assert method.status() == "InProgress"
        assert not poller.done()


async def test_a_finished_create_is_provisioned_with_its_gateway(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    before = len(emulator.requests())  # the session emulator's log holds earlier tests' polls
    name = unique("apim-")
    async with emulator.apim_client() as c:
        poller = await c.api_management_service.begin_create_or_update(
            group,
            name,
            {
                "location": "West Europe",
                "sku": {"name": "Developer", "capacity": 1},
                "publisher_email": "a@b.c",
                "publisher_name": "p",
                "tags": {"prmlab-lab": "demo"},
            },
        )
        svc = await poller.result()
    assert svc.provisioning_state == "Succeeded"
    assert svc.tags == {"prmlab-lab": "demo"}
    assert svc.gateway_url.startswith("https://127.0.0.1:")
    assert int(svc.gateway_url.rsplit(":", 1)[1]) != emulator.port
    assert svc.developer_portal_url
    log = [
        r for r in emulator.requests()[before:] if r["resource"] == "microsoft.resources/operationstatuses"
    ]
    assert log, "the SDK polled Azure-AsyncOperation"
    with emulator.sync_http() as h:
        info = h.get("/_emulator/info").json()
    assert int(svc.gateway_url.rsplit(":", 1)[1]) in info["ports"].values()


async def test_a_service_being_created_is_visible_but_not_yet_provisioned(
    make_emulator: EmulatorFactory,
) -> None:
    # An hour-long create: the GET lands while the operation runs, whatever the machine's load
    # (the session emulator's 0.3 s window was missed under load).
    emu = make_emulator("--apim-create-seconds", "3600")
    group = await make_group(emu)
    name = unique("apim-")
    async with emu.apim_client() as c:
        await c.api_management_service.begin_create_or_update(
            group,
            name,
            {
                "location": "West Europe",
                "sku": {"name": "Developer", "capacity": 1},
                "publisher_email": "a@b.c",
                "publisher_name": "p",
            },
        )
        early = await c.api_management_service.get(group, name)
    assert early.provisioning_state == "Created"


async def test_missing_service_and_group_are_404(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.apim_client() as c:
        with pytest.raises(ResourceNotFoundError):
            await c.api_management_service.get(group, "nope-nope")
        with pytest.raises(ResourceNotFoundError, match="ResourceGroupNotFound"):
            await make_service(c, "no-such-group")


async def test_list_pages_with_next_link(emulator: RunningEmulator) -> None:
    # the session emulator pages every 3 items
    group = await make_group(emulator)
    async with emulator.apim_client() as c:
        names = sorted([(await make_service(c, group)).name for _ in range(4)])
        listed = sorted([s.name async for s in c.api_management_service.list_by_resource_group(group)])
        everywhere = [s.name async for s in c.api_management_service.list()]
    assert listed == names
    assert set(names) <= set(everywhere)
    pages = [
        r
        for r in emulator.requests()
        if r["method"] == "GET" and r["path"].endswith(f"{group}/providers/Microsoft.ApiManagement/service")
    ]
    assert len(pages) == 2


async def test_update_patch_keeps_generated_fields(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.apim_client() as c:
        svc = await make_service(c, group, **{"prmlab-lab": "x", "old": "tag"})
        poller = await c.api_management_service.begin_update(
            group, svc.name, {"tags": {"a": "b"}, "publisher_name": "new"}
        )
        updated = await poller.result()
    assert updated.tags == {"a": "b"}
    assert updated.publisher_name == "new"
    assert updated.gateway_url == svc.gateway_url


async def test_names_are_unique_and_validated(emulator: RunningEmulator) -> None:
    group, other = await make_group(emulator), await make_group(emulator)
    async with emulator.apim_client() as c:
        svc = await make_service(c, group)
        with pytest.raises(ResourceExistsError, match="ServiceAlreadyExists"):
            await make_service(c, other, svc.name)
        with pytest.raises(HttpResponseError, match="publisherEmail"):
            await c.api_management_service.begin_create_or_update(
                group,
                unique("apim-"),
                {
                    "location": "West Europe",
                    "sku": {"name": "Developer", "capacity": 1},
                    "publisher_name": "p",
                },
            )


async def test_delete_soft_deletes_until_purged(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.apim_client() as c:
        svc = await make_service(c, group)
        await (
            await c.named_value.begin_create_or_update(
                group, svc.name, "nv", {"display_name": "nv", "value": "v"}
            )
        ).result()
        await (await c.api_management_service.begin_delete(group, svc.name)).result()
        with pytest.raises(ResourceNotFoundError):
            await c.api_management_service.get(group, svc.name)
        deleted = await c.deleted_services.get_by_name(svc.name, "West Europe")
        assert deleted.service_id == svc.id
        assert svc.name in [d.name async for d in c.deleted_services.list_by_subscription()]
        with pytest.raises(ResourceExistsError, match="ServiceAlreadyExistsInSoftDeletedState"):
            await make_service(c, group, svc.name)
        await (await c.deleted_services.begin_purge(svc.name, "westeurope")).result()
        with pytest.raises(ResourceNotFoundError):
            await c.deleted_services.get_by_name(svc.name, "West Europe")
        with pytest.raises(ResourceNotFoundError):
            await (await c.deleted_services.begin_purge(svc.name, "westeurope")).result()
        again = await make_service(c, group, svc.name)
        # children of the deleted service did not come back
        assert [n.name async for n in c.named_value.list_by_service(group, again.name)] == []


async def test_deleting_the_group_soft_deletes_its_services(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.apim_client() as c, emulator.resource_client() as rc:
        svc = await make_service(c, group)
        await (await rc.resource_groups.begin_delete(group)).result()
        assert not await rc.resource_groups.check_existence(group)
        deleted = await c.deleted_services.get_by_name(svc.name, "westeurope")
        assert deleted.name == svc.name


async def test_create_duration_is_configurable(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("--apim-create-seconds", "0")
    group = await make_group(emu)
    async with emu.apim_client() as c:
        svc = await make_service(c, group)
    assert svc.provisioning_state == "Succeeded"


async def test_tier_changes_in_place_only_where_azure_allows_them(emulator: RunningEmulator) -> None:
    """Classic <-> classic and BasicV2 <-> StandardV2 change in place; classic <-> v2 and
    Consumption are refused (Learn, upgrade-and-scale), and the service keeps its tier."""
    group = await make_group(emulator)
    async with emulator.apim_client() as c:
        svc = await make_service(c, group)  # Developer
        up = await (
            await c.api_management_service.begin_update(
                group, svc.name, {"sku": {"name": "Premium", "capacity": 1}}
            )
        ).result()
        assert up.sku.name == "Premium"
        for refused in ("BasicV2", "StandardV2", "Consumption"):
            with pytest.raises(HttpResponseError) as err:
                await c.api_management_service.begin_update(  # refused at once, before any LRO
                    group, svc.name, {"sku": {"name": refused, "capacity": 1}}
                )
            assert err.value.status_code == 400
            assert err.value.error is not None
            assert err.value.error.code == "NotSupported"
        assert (await c.api_management_service.get(group, svc.name)).sku.name == "Premium"
        v2 = await c.api_management_service.begin_create_or_update(
            group,
            unique("apim-"),
            {
                "location": "West Europe",
                "sku": {"name": "BasicV2", "capacity": 1},
                "publisher_email": "a@b.c",
                "publisher_name": "p",
            },
        )
        v2svc = await v2.result()
        std = await (
            await c.api_management_service.begin_update(
                group, v2svc.name, {"sku": {"name": "StandardV2", "capacity": 1}}
            )
        ).result()
        assert std.sku.name == "StandardV2"
        with pytest.raises(HttpResponseError) as err:
            await c.api_management_service.begin_update(
                group, v2svc.name, {"sku": {"name": "Developer", "capacity": 1}}
            )
        assert err.value.status_code == 400
