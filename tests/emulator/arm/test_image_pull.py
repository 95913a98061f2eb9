"""A container app's image pull from a registry of the emulator (emulator.arm.image_pull): the
registry identity needs a pull role, in effect (emulator.rbac: a new assignment propagates first);
without a registries entry the pull is anonymous (refused unless the registry allows anonymous
pull, Standard/Premium only: emulator.arm.acr_access); a username/passwordSecretRef entry must be
the registry's enabled admin user. Propagation is an hour here and the test ends it: nothing
depends on timing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from tests.support.azure import make_group, unique
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
PREVIEW = "2023-11-01-preview"  # a registries api-version that defines anonymousPullEnabled
STABLE = "2023-07-01"  # one that does not (the engine's)


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


def unauthorized(server: str, image: str, repo: str) -> str:
    """Container Apps' 400 message carrying ACR's token refusal (emulator.arm.image_pull)."""
    return (
        "The following field(s) are either invalid or missing. Field "
        f"'template.containers.mcp.image' is invalid with details: 'Invalid value: \"{image}\": "
        f"GET https://{server}/oauth2/token?scope=repository%3A{repo}%3Apull"
        f"&service={server}: UNAUTHORIZED: authentication required, visit "
        "https://aka.ms/acr/authorization for more information.';."
    )


async def refused(rc: Any, resource_id: str, body: dict[str, Any], api_version: str) -> tuple[int, str, str]:
    with pytest.raises(HttpResponseError) as caught:
        await put(rc, resource_id, body, api_version)
    assert caught.value.error is not None
    return caught.value.status_code or 0, str(caught.value.error.code), str(caught.value.error.message)


def app_body(env_id: str, image: str, configuration: dict[str, Any]) -> dict[str, Any]:
    return {
        "location": "westeurope",
        "properties": {
            "managedEnvironmentId": env_id,
            "configuration": configuration,
            "template": {"containers": [{"name": "mcp", "image": image}]},
        },
    }


async def test_a_pull_without_credentials_needs_anonymous_pull(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    try:
        async with emulator.resource_client() as rc:
            env_id = rid(emulator, group, "Microsoft.App/managedEnvironments", "env")
            await put(rc, env_id, {"location": "westeurope", "properties": {}}, "2024-03-01")
            registry = unique("cranon")
            registry_id = rid(emulator, group, "Microsoft.ContainerRegistry/registries", registry)
            server = f"{registry}.azurecr.io"
            image = f"{server}/mcp-server:1"
            app_id = rid(emulator, group, "Microsoft.App/containerApps", "anon")
            app = app_body(env_id, image, {})
            expected = (
                400,
                "InvalidParameterValueInContainerTemplate",
                unauthorized(server, image, "mcp-server"),
            )

            # Basic: anonymous pull off by default (GET at a version that has the property)
            basic = {"location": "westeurope", "sku": {"name": "Basic"}}
            created = await put(rc, registry_id, basic, STABLE)
            assert "anonymousPullEnabled" not in created.properties  # not in 2023-07-01's model
            got = await rc.resources.get_by_id(registry_id, api_version=PREVIEW)
            assert got.properties["anonymousPullEnabled"] is False
            assert await refused(rc, app_id, app, "2024-03-01") == expected
            # ... and not available at Basic: ACR's 400
            anonymous_basic = {**basic, "properties": {"anonymousPullEnabled": True}}
            assert await refused(rc, registry_id, anonymous_basic, PREVIEW) == (
                400,
                "BadRequest",
                "Anonymous pull is not supported for SKU Managed_Basic. For more information on SKU "
                "tiers, please visit https://aka.ms/acr/tiers.",
            )
            # Standard, anonymousPullEnabled sent at a version without it: ignored, still refused
            standard: dict[str, Any] = {
                "location": "westeurope",
                "sku": {"name": "Standard"},
                "properties": {"anonymousPullEnabled": True},
            }
            await put(rc, registry_id, standard, STABLE)
            assert (await rc.resources.get_by_id(registry_id, api_version=PREVIEW)).properties[
                "anonymousPullEnabled"
            ] is False
            assert await refused(rc, app_id, app, "2024-03-01") == expected
            # Standard with anonymous pull: the app pulls without credentials
            await put(rc, registry_id, standard, PREVIEW)
            assert (await rc.resources.get_by_id(registry_id, api_version=PREVIEW)).properties[
                "anonymousPullEnabled"
            ] is True
            assert (
                "anonymousPullEnabled"
                not in (await rc.resources.get_by_id(registry_id, api_version=STABLE)).properties
            )
            created_app = await put(rc, app_id, app, "2024-03-01")
            assert created_app.properties["provisioningState"] == "Succeeded"
            # a write at a version without the property keeps it; going back to Basic is refused
            await put(rc, registry_id, {**standard, "properties": {}}, STABLE)
            assert (await rc.resources.get_by_id(registry_id, api_version=PREVIEW)).properties[
                "anonymousPullEnabled"
            ] is True
            status, code, _ = await refused(rc, registry_id, basic, STABLE)
            assert (status, code) == (400, "BadRequest")
            # turned off (a PUT at a version with the property, without it): refused again
            await put(rc, registry_id, {**standard, "properties": {}}, PREVIEW)
            assert (
                await refused(
                    rc, rid(emulator, group, "Microsoft.App/containerApps", "again"), app, "2024-03-01"
                )
                == expected
            )
    finally:
        async with emulator.resource_client() as rc:
            await (await rc.resource_groups.begin_delete(group)).result()


async def list_credentials(rc: Any, registry_id: str) -> tuple[int, dict[str, Any]]:
    """``POST …/listCredentials`` through the SDK's pipeline (the generic client has no action)."""
    response = await rc.send_request(
        HttpRequest("POST", f"{registry_id}/listCredentials", params={"api-version": STABLE})
    )
    await response.read()
    return response.status_code, response.json()


async def test_a_pull_with_a_username_needs_the_registrys_admin_user(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    try:
        async with emulator.resource_client() as rc:
            env_id = rid(emulator, group, "Microsoft.App/managedEnvironments", "env")
            await put(rc, env_id, {"location": "westeurope", "properties": {}}, "2024-03-01")
            registry = unique("cradmin")
            registry_id = rid(emulator, group, "Microsoft.ContainerRegistry/registries", registry)
            server = f"{registry}.azurecr.io"
            image = f"{server}/team/mcp-server:2"
            await put(rc, registry_id, {"location": "westeurope", "sku": {"name": "Basic"}}, STABLE)
            # the admin user is off by default: no credentials to list
            status, body = await list_credentials(rc, registry_id)
            assert (status, body["error"]["code"]) == (400, "UnAuthorizedForCredentialOperations")
            assert body["error"]["message"] == (
                f"Cannot perform credential operations for {registry_id} as admin user is disabled. "
                "Kindly enable admin user as per docs: "
                "https://docs.microsoft.com/azure/container-registry/container-registry-authentication#admin-account"
            )

            def configuration(
                username: str, password: str | None, ref: str = "acr-password"
            ) -> dict[str, Any]:
                secrets = [] if password is None else [{"name": "acr-password", "value": password}]
                return {
                    "secrets": secrets,
                    "registries": [{"server": server, "username": username, "passwordSecretRef": ref}],
                }

            app_id = rid(emulator, group, "Microsoft.App/containerApps", "admin")
            expected = (
                400,
                "InvalidParameterValueInContainerTemplate",
                unauthorized(server, image, "team%2Fmcp-server"),
            )
            # the password secret must be one of the app's secrets
            assert await refused(
                rc, app_id, app_body(env_id, image, configuration(registry, None)), "2024-03-01"
            ) == (
                400,
                "ContainerAppRegistriesPasswordSecretRefNotFound",
                f"PasswordSecretRef 'acr-password' defined for registry server '{server}' not found",
            )
            # admin user disabled: no password pulls
            assert (
                await refused(
                    rc, app_id, app_body(env_id, image, configuration(registry, "guess")), "2024-03-01"
                )
                == expected
            )

            enabled = {
                "location": "westeurope",
                "sku": {"name": "Basic"},
                "properties": {"adminUserEnabled": True},
            }
            got = await put(rc, registry_id, enabled, STABLE)
            assert got.properties["adminUserEnabled"] is True
            assert "adminPasswords" not in got.properties
            status, body = await list_credentials(rc, registry_id)
            assert status == 200
            assert body["username"] == registry
            assert [p["name"] for p in body["passwords"]] == ["password", "password2"]
            first, second = (p["value"] for p in body["passwords"])
            assert first
            assert second
            assert second != first
            # an update keeps the passwords
            await put(rc, registry_id, {**enabled, "tags": {"t": "1"}}, STABLE)
            assert (await list_credentials(rc, registry_id))[1] == body

            # wrong password, wrong username: ACR's UNAUTHORIZED
            assert (
                await refused(
                    rc, app_id, app_body(env_id, image, configuration(registry, first + "x")), "2024-03-01"
                )
                == expected
            )
            assert (
                await refused(
                    rc, app_id, app_body(env_id, image, configuration("someone", first)), "2024-03-01"
                )
                == expected
            )
            # either admin password pulls
            created = await put(
                rc, app_id, app_body(env_id, image, configuration(registry, second)), "2024-03-01"
            )
            assert created.properties["provisioningState"] == "Succeeded"
            await put(
                rc, app_id, app_body(env_id, image, configuration(registry.upper(), first)), "2024-03-01"
            )
            # admin user disabled again: the same credentials no longer pull
            await put(rc, registry_id, {"location": "westeurope", "sku": {"name": "Basic"}}, STABLE)
            assert (
                await refused(
                    rc, app_id, app_body(env_id, image, configuration(registry, first)), "2024-03-01"
                )
                == expected
            )
    finally:
        async with emulator.resource_client() as rc:
            await (await rc.resource_groups.begin_delete(group)).result()
