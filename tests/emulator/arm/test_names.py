"""Names Azure refuses (``emulator.arm.name_rules``) and global names (``emulator.arm.names``):
checkNameAvailability of API Management, Container Registry and Storage, and a registry name
taken in another resource group."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.azure import make_group, unique
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

APP = ("Microsoft.App/containerApps", "2024-03-01")
ENV = ("Microsoft.App/managedEnvironments", "2024-03-01")
WORKSPACE = ("Microsoft.OperationalInsights/workspaces", "2023-09-01")
IDENTITY = ("Microsoft.ManagedIdentity/userAssignedIdentities", "2023-01-31")
REGISTRY = ("Microsoft.ContainerRegistry/registries", "2023-07-01")
COMPONENT = ("Microsoft.Insights/components", "2020-02-02")


async def _put(emu: RunningEmulator, group: str, kind: tuple[str, str], name: str, body: Any) -> Any:
    path = f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/{kind[0]}/{name}"
    async with emu.http() as h:
        return await h.put(path, params={"api-version": kind[1]}, json=body, headers=emu.arm_headers())


@pytest.mark.parametrize(
    ("kind", "name", "code"),
    [
        (APP, "a-very-long-container-app--name-of-45-chars-x", "ContainerAppInvalidName"),  # 45, '--'
        (APP, "Upper", "ContainerAppInvalidName"),
        (APP, "1app", "ContainerAppInvalidName"),
        (ENV, "cae--x", "ManagedEnvironmentInvalidName"),
        (ENV, "cae_x", "ManagedEnvironmentInvalidName"),
        (WORKSPACE, "log", "InvalidParameter"),  # 3 characters: 4-63
        (WORKSPACE, "log-", "InvalidParameter"),
        (IDENTITY, "id", "InvalidResourceName"),  # 3-128
        (IDENTITY, "-id-x", "InvalidResourceName"),
        (REGISTRY, "cr-mcp", "InvalidResourceName"),  # alphanumerics only
        (REGISTRY, "cr1", "InvalidResourceName"),  # 5-50
        (COMPONENT, "appi.", "InvalidResourceName"),  # can't end with a period
    ],
)
async def test_a_name_azure_refuses_is_refused_with_its_code(
    emulator: RunningEmulator, kind: tuple[str, str], name: str, code: str
) -> None:
    group = await make_group(emulator)
    response = await _put(emulator, group, kind, name, {"location": "westeurope"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


async def test_valid_names_are_created(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    ok = await _put(emulator, group, IDENTITY, "id-mcp_1", {"location": "westeurope"})
    assert ok.status_code in (200, 201), ok.text
    ok = await _put(emulator, group, WORKSPACE, "log-mcp", {"location": "westeurope", "properties": {}})
    assert ok.status_code in (200, 201, 202), ok.text


async def _check(emu: RunningEmulator, namespace: str, api: str, body: dict[str, Any]) -> Any:
    path = f"/subscriptions/{emu.subscription_id}/providers/{namespace}/checkNameAvailability"
    async with emu.http() as h:
        response = await h.post(path, params={"api-version": api}, json=body, headers=emu.arm_headers())
    assert response.status_code == 200, response.text
    return response.json()


async def test_registry_names_are_global(emulator: RunningEmulator) -> None:
    name = unique("cr").replace("-", "")
    check = {"name": name, "type": "Microsoft.ContainerRegistry/registries"}
    assert (await _check(emulator, "Microsoft.ContainerRegistry", "2023-07-01", check))["nameAvailable"]
    first, second = await make_group(emulator), await make_group(emulator)
    created = await _put(
        emulator, first, REGISTRY, name, {"location": "westeurope", "sku": {"name": "Basic"}}
    )
    assert created.status_code in (200, 201), created.text
    taken = await _check(emulator, "Microsoft.ContainerRegistry", "2023-07-01", check)
    assert (taken["nameAvailable"], taken["reason"]) == (False, "AlreadyExists")
    # the same name in another resource group: 409 AlreadyInUse (a DNS name: <name>.azurecr.io)
    again = await _put(
        emulator, second, REGISTRY, name.upper(), {"location": "westeurope", "sku": {"name": "Basic"}}
    )
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "AlreadyInUse"
    assert f"{name}.azurecr.io is already in use" in again.json()["error"]["message"]
    # updating the holder itself is no conflict
    same = await _put(emulator, first, REGISTRY, name, {"location": "westeurope", "sku": {"name": "Basic"}})
    assert same.status_code == 200, same.text


async def test_check_name_availability_of_apim_and_storage(emulator: RunningEmulator) -> None:
    apim = await _check(emulator, "Microsoft.ApiManagement", "2024-05-01", {"name": unique("apim-")})
    assert (apim["nameAvailable"], apim["reason"]) == (True, "Valid")
    bad = await _check(emulator, "Microsoft.ApiManagement", "2024-05-01", {"name": "9apim"})
    assert (bad["nameAvailable"], bad["reason"]) == (False, "Invalid")
    kind = "Microsoft.Storage/storageAccounts"
    free = await _check(emulator, "Microsoft.Storage", "2023-05-01", {"name": "stfree12345", "type": kind})
    assert free["nameAvailable"] is True
    invalid = await _check(emulator, "Microsoft.Storage", "2023-05-01", {"name": "St-Bad", "type": kind})
    assert (invalid["nameAvailable"], invalid["reason"]) == (False, "AccountNameInvalid")


async def test_check_name_availability_refuses_what_its_contract_refuses(emulator: RunningEmulator) -> None:
    path = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.Storage/checkNameAvailability"
    async with emulator.http() as h:
        missing = await h.post(
            path, params={"api-version": "2023-05-01"}, json={}, headers=emulator.arm_headers()
        )
        assert missing.status_code == 400, missing.text
        other = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.App/checkNameAvailability"
        unknown = await h.post(
            other, params={"api-version": "2024-03-01"}, json={"name": "x"}, headers=emulator.arm_headers()
        )
        assert unknown.status_code == 404, unknown.text


async def test_apim_entity_names_follow_the_rest_spec(emulator: RunningEmulator) -> None:
    """Named values, APIs, backends and operations: the path parameters' rules of
    apimanagement.json (2024-05-01) -> 400 ValidationError naming the parameter; names the spec
    allows (a digit first, as Azure's own examples) are created."""
    from urllib.parse import quote

    from tests.support.azure import make_service

    group = await make_group(emulator)
    async with emulator.apim_client() as client:
        service = (await make_service(client, group)).name
    base = (
        f"/subscriptions/{emulator.subscription_id}/resourceGroups/{group}"
        f"/providers/Microsoft.ApiManagement/service/{service}"
    )
    api = {
        "properties": {
            "displayName": "a",
            "path": "a",
            "protocols": ["https"],
            "serviceUrl": "https://x.example",
        }
    }
    cases = [
        ("namedValues", "nv:colon", "namedValueId", {"properties": {"displayName": "nv", "value": "v"}}),
        ("namedValues", "n" * 257, "namedValueId", {"properties": {"displayName": "nv", "value": "v"}}),
        ("apis", "api*star", "apiId", api),
        ("apis", "api+plus", "apiId", api),
        ("backends", "b" * 81, "backendId", {"properties": {"url": "https://x.example", "protocol": "http"}}),
    ]
    async with emulator.http() as h:

        async def put(path: str, body: Any) -> Any:
            return await h.put(
                base + path, params={"api-version": "2024-05-01"}, json=body, headers=emulator.arm_headers()
            )

        for collection, name, param, body in cases:
            response = await put(f"/{collection}/{quote(name, safe='')}", body)
            assert response.status_code == 400, (name, response.text)
            error = response.json()["error"]
            assert (error["code"], error["message"]) == (
                "ValidationError",
                "One or more fields contain incorrect values:",
            )
            assert error["details"][0]["target"] == param
        ok = await put("/apis/5600b57e7e8880006a040001", api)  # Azure's example id: a digit first
        assert ok.status_code in (200, 201), ok.text
        operation = {"properties": {"displayName": "op", "method": "GET", "urlTemplate": "/x"}}
        long_op = await put(f"/apis/5600b57e7e8880006a040001/operations/{'o' * 81}", operation)
        assert long_op.status_code == 400, long_op.text
        assert long_op.json()["error"]["details"][0]["target"] == "operationId"
        ok = await put(f"/apis/5600b57e7e8880006a040001/operations/{'o' * 80}", operation)
        assert ok.status_code in (200, 201), ok.text
        ok = await put(
            "/namedValues/5600b57e7e8880006a040002", {"properties": {"displayName": "nv2", "value": "v"}}
        )
        assert ok.status_code in (200, 201), ok.text
