"""Small builders for the ARM SDK tests (a resource group, an APIM service) — real SDK calls."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.emulator import RunningEmulator


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


async def make_group(emu: RunningEmulator, name: str | None = None, **tags: str) -> str:
    name = name or unique("rg-")
    async with emu.resource_client() as rc:
        await rc.resource_groups.create_or_update(name, {"location": "westeurope", "tags": tags})
    return name


async def assign_role(emu: RunningEmulator, principal: str, role: str, scope: str) -> str:
    """A role assignment of the built-in ``role`` (GUID) to ``principal`` at ``scope``, made as
    the local operator (the subscription's Owner); its id, lower-cased."""
    rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    body = {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{emu.subscription_id}/providers/Microsoft.Authorization/"
            f"roleDefinitions/{role}",
            "principalId": principal,
        }
    }
    async with emu.http() as h:
        created = await h.put(rid, params={"api-version": "2022-04-01"}, json=body, headers=emu.arm_headers())
    assert created.status_code in (200, 201), created.text
    return rid.lower()


async def make_service(
    client: Any,
    group: str,
    name: str | None = None,
    *,
    identity: str | None = None,
    **tags: str,
) -> Any:
    name = name or unique("apim-")
    poller = await client.api_management_service.begin_create_or_update(
        group,
        name,
        {
            "location": "West Europe",
            "sku": {"name": "Developer", "capacity": 1},
            "publisher_email": "lab@example.com",
            "publisher_name": "prmlab",
            "tags": tags,
            **({"identity": {"type": identity}} if identity else {}),
        },
    )
    return await poller.result()


async def group_and_service(emu: RunningEmulator, client: Any, **tags: str) -> tuple[str, Any]:
    """A new resource group and a new APIM service in it (``client``: an ``apim_client()``):
    the group's name and the service, provisioned."""
    group = await make_group(emu)
    return group, await make_service(client, group, **tags)


async def group_and_service_name(emu: RunningEmulator, client: Any) -> tuple[str, str]:
    """``group_and_service``, with the service's name."""
    group, service = await group_and_service(emu, client)
    return group, str(service.name)


async def put_named_values(client: Any, group: str, service: str, values: dict[str, str]) -> None:
    """Create (or overwrite) plain named values, ``displayName`` = name, as the lab's are."""
    for name, value in values.items():
        poller = await client.named_value.begin_create_or_update(
            group, service, name, {"display_name": name, "value": value}
        )
        await poller.result()


MCP_API_VERSION = "2024-06-01-preview"  # orchestrator.providers.apim_apis.MCP_API_VERSION


async def make_mcp_api(
    client: Any,
    group: str,
    service: str,
    name: str,
    path: str,
    backend_url: str = "https://127.0.0.1:9/unused",
) -> Any:
    """An MCP API as APIM serves it (``type: mcp`` exists only at its preview api-version): a
    backend ``<name>-backend`` and the API naming it (``backendId``), as the original lab writes
    them. Returns the API's JSON (the SDK's models drop ``backendId`` / ``mcpProperties``)."""
    from orchestrator.providers.base import json_body

    backend = f"{name}-backend"
    await client.backend.create_or_update(group, service, backend, {"url": backend_url, "protocol": "http"})
    body = {
        "properties": {
            "displayName": name,
            "type": "mcp",
            "path": path,
            "protocols": ["https"],
            "subscriptionRequired": False,
            "backendId": backend,
            "mcpProperties": {"transportType": "streamable"},
            "authenticationSettings": {
                "oAuth2AuthenticationSettings": [],
                "openidAuthenticationSettings": [],
            },
            "isCurrent": True,
        }
    }
    poller = await client.api.begin_create_or_update(
        group,
        service,
        name,
        json_body(body),
        api_version=MCP_API_VERSION,
        cls=lambda response, _model, _headers: response.http_response.json(),
    )
    return await poller.result()
