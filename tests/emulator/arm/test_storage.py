"""Microsoft.Storage through azure-mgmt-resource's generic client: storage accounts (name rules,
LRO create, generated fields, listing by group), tables under ``tableServices/default``, role
assignments at the account scope, and the cascade when an account goes away."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.emulator.storage.conftest import group
from tests.emulator.storage.support import API, CONTRIBUTOR, account_body, account_id, put
from tests.support.azure import unique
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio
__all__ = ["group"]  # the fixture


async def test_account_create_get_update_and_list(emulator: RunningEmulator, group: str) -> None:
    name = unique("st")
    aid = account_id(emulator, group, name)
    async with emulator.resource_client() as rc:
        created = await put(rc, aid, account_body())
        props = created.properties
        assert (created.kind, created.sku.name, created.sku.tier) == ("StorageV2", "Standard_LRS", "Standard")
        assert props["provisioningState"] == "Succeeded"
        assert props["primaryLocation"] == "westeurope"
        assert props["statusOfPrimary"] == "available"
        table = props["primaryEndpoints"]["table"]
        assert table == f"{emulator.base_url}/storage/{name}/table/"
        assert props["primaryEndpoints"]["blob"] == f"{emulator.base_url}/storage/{name}/blob/"
        assert (props["minimumTlsVersion"], props["allowSharedKeyAccess"]) == ("TLS1_2", False)
        assert (props["allowBlobPublicAccess"], props["supportsHttpsTrafficOnly"]) == (False, True)
        got = await rc.resources.get_by_id(aid, api_version=API)
        assert got.properties["creationTime"] == props["creationTime"]
        updated = await put(
            rc, aid, {**account_body(minimumTlsVersion="TLS1_2"), "tags": {"prmlab-lab": "x2"}}
        )
        assert updated.properties["creationTime"] == props["creationTime"]
        assert updated.properties["primaryEndpoints"]["table"] == table
        owned = [
            r
            async for r in rc.resources.list_by_resource_group(
                group, filter="tagName eq 'prmlab-lab' and tagValue eq 'x2'"
            )
        ]
        assert [(r.name, r.type) for r in owned] == [(name, "Microsoft.Storage/storageAccounts")]
        provider = await rc.providers.get("Microsoft.Storage")
        versions = {t.resource_type: t.api_versions for t in provider.resource_types}
        assert API in versions["storageAccounts"]
        assert API in versions["storageAccounts/tableServices/tables"]


async def test_account_name_rules(emulator: RunningEmulator, group: str) -> None:
    async with emulator.resource_client() as rc:
        for name in ("ab", "a" * 25, "UPPERcase1", "with-dash", "under_score"):
            with pytest.raises(HttpResponseError, match="AccountNameInvalid") as info:
                await put(rc, account_id(emulator, group, name), account_body())
            assert info.value.status_code == 400
            assert "between 3 and 24 characters in length and use numbers and lower-case letters only" in str(
                info.value
            )
        await put(rc, account_id(emulator, group, "abc"), account_body())  # the shortest valid name


async def test_account_names_are_unique_across_groups(emulator: RunningEmulator, group: str) -> None:
    name = unique("st")
    async with emulator.resource_client() as rc:
        await put(rc, account_id(emulator, group, name), account_body())
        second = unique("rg-")
        await rc.resource_groups.create_or_update(second, {"location": "westeurope"})
        try:
            with pytest.raises(ResourceExistsError, match="StorageAccountAlreadyTaken"):
                await put(rc, account_id(emulator, second, name), account_body())
        finally:
            await (await rc.resource_groups.begin_delete(second)).result()


async def test_tables_role_assignment_and_account_delete(emulator: RunningEmulator, group: str) -> None:
    aid = account_id(emulator, group, unique("st"))
    tid = f"{aid}/tableServices/default/tables/mcpclients"
    async with emulator.resource_client() as rc:
        with pytest.raises(ResourceNotFoundError, match="ParentResourceNotFound"):
            await put(rc, tid, {"properties": {}})
        await put(rc, aid, account_body())
        with pytest.raises(ResourceNotFoundError):
            await rc.resources.get_by_id(tid, api_version=API)
        table = await put(rc, tid, {"properties": {}})
        assert (table.id, table.name) == (tid, "mcpclients")
        assert table.type == "Microsoft.Storage/storageAccounts/tableServices/tables"
        assert table.properties == {"tableName": "mcpclients"}
        again = await put(rc, tid, {"properties": {}})  # idempotent PUT
        assert again.id == tid
        got = await rc.resources.get_by_id(tid, api_version=API)
        assert got.properties["tableName"] == "mcpclients"
        for bad, code in (
            ("1abc", "InvalidResourceName"),
            ("ab", "OutOfRangeInput"),
            ("a-bc", "InvalidResourceName"),
        ):
            with pytest.raises(HttpResponseError, match=code) as info:
                await put(rc, f"{aid}/tableServices/default/tables/{bad}", {"properties": {}})
            assert info.value.status_code == 400
        with pytest.raises(HttpResponseError) as info:
            await put(rc, f"{aid}/tableServices/other/tables/abc", {"properties": {}})
        assert info.value.status_code == 400

        ra_id = f"{aid}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        role = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"
        ra = await put(
            rc,
            ra_id,
            {
                "properties": {
                    "roleDefinitionId": role,
                    "principalId": str(uuid.uuid4()),
                    "principalType": "ServicePrincipal",
                }
            },
            "2022-04-01",
        )
        assert ra.properties["scope"] == aid

        await (await rc.resources.begin_delete_by_id(tid, api_version=API)).result()
        with pytest.raises(ResourceNotFoundError):
            await rc.resources.get_by_id(tid, api_version=API)
        await put(rc, tid, {"properties": {}})
        await (await rc.resources.begin_delete_by_id(aid, api_version=API)).result()
        for rid, version in ((aid, API), (tid, API), (ra_id, "2022-04-01")):
            with pytest.raises(ResourceNotFoundError):
                await rc.resources.get_by_id(rid, api_version=version)
