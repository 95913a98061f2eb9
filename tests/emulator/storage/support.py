"""Helpers for the Table service tests: a storage account + table made through ARM, role
assignments, and tokens minted the way the emulator mints them.

``apim_token`` uses the APIM gateway's own minting code (``Services.managed_identity_token``,
what ``authentication-managed-identity resource="https://storage.azure.com/"`` sends);
``signed_token`` signs arbitrary claims with the emulator's identity keys (negative cases).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx

from emulator.gateway.services import Services
from emulator.identity import keys
from tests.support.azure import make_group, unique
from tests.support.credentials import StaticTokenCredential
from tests.support.emulator import RunningEmulator
from tests.support.tokens import context_for

API = "2023-05-01"
CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
READER = "76199698-9eea-4c19-bc75-cec21354c6b6"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
STORAGE = "https://storage.azure.com/"


@dataclass
class Lab:
    group: str
    account: str
    account_id: str
    table: str
    endpoint: str  # primaryEndpoints.table


def account_id(emu: RunningEmulator, group: str, account: str) -> str:
    return f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{account}"


def account_body(**props: Any) -> dict[str, Any]:
    return {
        "location": "westeurope",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
        "tags": {"prmlab-lab": "tables"},
        "properties": {
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
            "allowSharedKeyAccess": False,
            "allowBlobPublicAccess": False,
            **props,
        },
    }


async def put(rc: Any, rid: str, body: dict[str, Any], api_version: str = API) -> Any:
    poller = await rc.resources.begin_create_or_update_by_id(rid, body, api_version=api_version)
    return await poller.result()


async def make_lab(emu: RunningEmulator, table: str = "mcpclients", group: str | None = None) -> Lab:
    group = group or await make_group(emu)
    account = unique("st")
    aid = account_id(emu, group, account)
    async with emu.resource_client() as rc:
        created = await put(rc, aid, account_body())
        await put(rc, f"{aid}/tableServices/default/tables/{table}", {"properties": {}})
    return Lab(group, account, aid, table, created.properties["primaryEndpoints"]["table"])


async def grant(emu: RunningEmulator, scope: str, principal: str, role: str = CONTRIBUTOR) -> str:
    rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    body = {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{emu.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            "principalId": principal,
            "principalType": "ServicePrincipal",
        }
    }
    async with emu.resource_client() as rc:
        await put(rc, rid, body, "2022-04-01")
    return rid


def apim_token(emu: RunningEmulator, scratch: Path, principal: str, resource: str = STORAGE) -> str:
    """A token exactly as the APIM gateway's system identity gets one for ``resource``."""
    ctx = context_for(emu, scratch)
    try:
        services = Services(ctx, "svc", client=cast(httpx.AsyncClient, None))
        services.service_body = {"identity": {"type": "SystemAssigned", "principalId": principal}}
        return services.managed_identity_token(resource, None)
    finally:
        ctx.store.close()


def signed_token(emu: RunningEmulator, scratch: Path, **claims: Any) -> str:
    ctx = context_for(emu, scratch)
    now = int(time.time())
    base = {
        "iss": ctx.issuer(),
        "aud": "https://storage.azure.com",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "oid": str(uuid.uuid4()),
        "tid": emu.tenant_id,
        "ver": "2.0",
    }
    try:
        return keys.sign(ctx, {**base, **claims})
    finally:
        ctx.store.close()


def table_client(emu: RunningEmulator, lab: Lab, token: str, table: str | None = None) -> Any:
    from azure.data.tables.aio import TableClient

    return TableClient(
        endpoint=lab.endpoint,
        table_name=table or lab.table,
        credential=cast(Any, StaticTokenCredential(token)),
        connection_verify=str(emu.ca_file),
        retry_total=0,
    )
