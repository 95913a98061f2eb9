"""Providers for the gateway-mode client store: a storage account and its table.

Where it sits: ``authorization.client_store`` in lab.yaml becomes the graph nodes
``storage_account.client_store`` and ``storage_table.client_store`` (plus a role assignment that
lets API Management's system identity use the table, see ``rbac.py``); the gateway-oauth policy
reads the table's URL through ``{ref: authorization.client_store.table_url}`` and keeps one
entity per dynamically registered client there.

The account is a generic ARM resource (``arm.py``): StorageV2, TLS 1.2, HTTPS only, no shared
key access (only Entra tokens, so there is no account key to leak) and no public blob access.
The table (``.../tableServices/default/tables/<name>``) is a nested resource the resource
group listing does not show: one GET by id; it is the lab's when its account is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.kinds import Kind
from orchestrator.providers.arm import ArmKind, ArmResourceProvider, resource_id
from orchestrator.providers.base import arm_owned, diff_owned, json_body, wire
from orchestrator.providers.common import (
    Context,
    Key,
    assign,
    delete_ignoring_missing,
    get_or_none,
    global_name,
    key_of,
)
from orchestrator.providers.errors import translating
from orchestrator.resource import Actual, Desired, FieldChange

if TYPE_CHECKING:
    from orchestrator.spec.models import ClientStore


def _account_outputs(body: Mapping[str, Any]) -> dict[str, Any]:
    endpoints = (body.get("properties") or {}).get("primaryEndpoints") or {}
    return {"table_endpoint": endpoints.get("table")}


STORAGE_ACCOUNT = ArmKind(
    Kind.STORAGE_ACCOUNT,
    "Microsoft.Storage/storageAccounts",
    "2023-05-01",
    _account_outputs,
    replace_paths=("location", "kind"),
)


class StorageAccountProvider(ArmResourceProvider):
    spec_kind = STORAGE_ACCOUNT

    def build(
        self, address: str, spec: ClientStore, resolved: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        return global_name(spec.storage_account, address), {
            "kind": "StorageV2",
            "sku": {"name": spec.sku},
            "properties": {
                "minimumTlsVersion": "TLS1_2",
                "supportsHttpsTrafficOnly": True,
                "allowSharedKeyAccess": False,
                "allowBlobPublicAccess": False,
            },
        }


class StorageTableProvider:
    kind = Kind.STORAGE_TABLE

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _account_id(self, account: str) -> str:
        return resource_id(self.ctx.subscription_id, self.ctx.rg, STORAGE_ACCOUNT.resource_type, account)

    def desired(self, address: str, spec: ClientStore, resolved: Mapping[str, Any]) -> Desired:
        account = self._account_id(global_name(spec.storage_account, address))
        table = spec.table  # the model's default: mcpclients
        props = {
            "@id": f"{account}/tableServices/default/tables/{table}",
            "@account": account,
            "properties.tableName": table,
        }
        return Desired(address, self.kind, table, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return diff_owned(desired.properties, actual.properties, replace=("properties.tableName",))

    def _actual(self, res: Any, owned: bool) -> Actual:
        body = wire(res)
        rid = str(body.get("id"))
        props = {
            "@id": rid,
            "properties.tableName": (body.get("properties") or {}).get("tableName") or body.get("name"),
        }
        return Actual("", self.kind, str(body.get("name")), props, {"resource_id": rid}, owned, rid)

    async def _get(self, label: str, rid: str) -> Any:
        resources = self.ctx.clients.resources
        return await get_or_none(
            label, lambda: resources.resources.get_by_id(rid, api_version=STORAGE_ACCOUNT.api_version)
        )

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        found: list[tuple[Key, Actual]] = []
        for desired in addresses.values():
            if desired is None:
                continue
            account = await self._get(desired.address, str(desired.properties["@account"]))
            if account is None:
                continue  # no account, no table
            table = await self._get(desired.address, str(desired.properties["@id"]))
            if table is not None:
                found.append(
                    (key_of(desired.name), self._actual(table, arm_owned(account.tags, self.ctx.lab)))
                )
        return assign(self.kind, addresses, found, lambda d: key_of(d.name))

    async def create(self, desired: Desired) -> Actual:
        resources = self.ctx.clients.resources
        rid = str(desired.properties["@id"])
        with translating(desired.address):
            poller = await resources.resources.begin_create_or_update_by_id(
                rid, json_body({"properties": {}}), api_version=STORAGE_ACCOUNT.api_version
            )
            res = await poller.result()
        return dataclasses.replace(self._actual(res, True), address=desired.address)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        # A table has nothing to update: a different name is another table (replace).
        return await self.create(desired)

    async def delete(self, actual: Actual) -> None:
        resources = self.ctx.clients.resources
        rid = str(actual.handle or actual.properties.get("@id"))

        async def delete() -> None:
            poller = await resources.resources.begin_delete_by_id(
                rid, api_version=STORAGE_ACCOUNT.api_version
            )
            await poller.result()

        await delete_ignoring_missing(actual.address, delete)
