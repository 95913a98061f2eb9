"""A container app's image pull from a registry of the emulator (emulator.arm.image_pull): the
registry identity needs a pull role, in effect (emulator.rbac: a new assignment propagates first).
Propagation is an hour here and the test ends it: nothing depends on timing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from tests.support.azure import make_group, unique
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"


def rid(emu: RunningEmulator, group: str, type_: str, name: str) -> str:
    return f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/{type_}/{name}"


async def put(rc: Any, resource_id: str, body: dict[str, Any], api_version: str) -> Any:
    return await (
        await rc.resources.begin_create_or_update_by_id(resource_id, body, api_version=api_version)
    ).result()


async def test_pull_needs_the_identity_role_in_effect(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    emulator.set_faults(rbac_propagation_s=3600)
    try:
        async with emulator.resource_client() as rc:
            identity_id = rid(emulator, group, "Microsoft.ManagedIdentity/userAssignedIdentities", "id-pull")
            identity = await put(rc, identity_id, {"location": "westeurope"}, "2023-01-31")
            registry = unique("crpull")
            registry_id = rid(emulator, group, "Microsoft.ContainerRegistry/registries", registry)
            await put(rc, registry_id, {"location": "westeurope", "sku": {"name": "Basic"}}, "2023-07-01")
            env_id = rid(emulator, group, "Microsoft.App/managedEnvironments", "env")
            await put(rc, env_id, {"location": "westeurope", "properties": {}}, "2024-03-01")
            server = f"{registry}.azurecr.io"
            image = f"{server}/team/mcp-server:1"
            app_id = rid(emulator, group, "Microsoft.App/containerApps", "puller")
            app: dict[str, Any] = {
                "location": "westeurope",
                "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity_id: {}}},
                "properties": {
                    "managedEnvironmentId": env_id,
                    "configuration": {"registries": [{"server": server, "identity": identity_id}]},
                    "template": {"containers": [{"name": "mcp", "image": image}]},
                },
            }
            expected = (
                "The following field(s) are either invalid or missing. Field "
                f"'template.containers.mcp.image' is invalid with details: 'Invalid value: \"{image}\": "
                f"GET https://{server}/oauth2/token?scope=repository%3Ateam%2Fmcp-server%3Apull"
                f"&service={server}: UNAUTHORIZED: authentication required, visit "
                "https://aka.ms/acr/authorization for more information.';."
            )
            # no role at all
            with pytest.raises(HttpResponseError) as refused:
                await put(rc, app_id, app, "2024-03-01")
            assert refused.value.status_code == 400
            assert refused.value.error is not None
            assert refused.value.error.code == "InvalidParameterValueInContainerTemplate"
            assert refused.value.error.message == expected
            # AcrPull granted, not propagated yet: the same answer
            role = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"
            grant = {
                "properties": {
                    "roleDefinitionId": role,
                    "principalId": identity.properties["principalId"],
                    "principalType": "ServicePrincipal",
                }
            }
            await put(
                rc,
                f"{registry_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                grant,
                "2022-04-01",
            )
            with pytest.raises(HttpResponseError, match="InvalidParameterValueInContainerTemplate"):
                await put(rc, app_id, app, "2024-03-01")
            # propagated: the pull works, the app is created
            emulator.set_faults(rbac_propagation_s=0)
            created = await put(rc, app_id, app, "2024-03-01")
            assert created.properties["provisioningState"] == "Succeeded"
            # another principal's grant does not count; an image of a registry the emulator does
            # not hold is not checked
            other = {
                **app,
                "properties": {
                    **app["properties"],
                    "configuration": {"registries": [{"server": server, "identity": "system"}]},
                },
            }
            other["identity"] = {"type": "SystemAssigned"}
            with pytest.raises(HttpResponseError, match="InvalidParameterValueInContainerTemplate"):
                await put(
                    rc, rid(emulator, group, "Microsoft.App/containerApps", "other"), other, "2024-03-01"
                )
            elsewhere = {
                **app,
                "properties": {
                    **app["properties"],
                    "configuration": {
                        "registries": [{"server": "elsewhere.azurecr.io", "identity": identity_id}]
                    },
                    "template": {
                        "containers": [{"name": "mcp", "image": "elsewhere.azurecr.io/mcp-server:1"}]
                    },
                },
            }
            await put(
                rc, rid(emulator, group, "Microsoft.App/containerApps", "elsewhere"), elsewhere, "2024-03-01"
            )
    finally:
        emulator.set_faults(rbac_propagation_s=0)
        async with emulator.resource_client() as rc:
            await (await rc.resource_groups.begin_delete(group)).result()
