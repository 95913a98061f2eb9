"""The emulated ARM refuses what Azure refuses, from the vendored contracts (``emulator.contracts``):
api-versions per resource type and request bodies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.azure import make_group, make_service
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio


async def _svc_path(emu: RunningEmulator) -> str:
    group = await make_group(emu)
    async with emu.apim_client() as c:
        svc = await make_service(c, group)
    return (
        f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}"
        f"/providers/Microsoft.ApiManagement/service/{svc.name}"
    )


async def _put(emu: RunningEmulator, path: str, version: str, body: dict[str, Any]) -> Any:
    async with emu.http() as h:
        return await h.put(
            path, params={"api-version": version}, json=body, headers={"Authorization": "Bearer x"}
        )


async def test_an_api_version_the_type_does_not_have_is_refused_as_arm_does(
    emulator: RunningEmulator,
) -> None:
    svc = await _svc_path(emulator)
    body = {"properties": {"displayName": "Echo", "path": "echo"}}
    response = await _put(emulator, f"{svc}/apis/echo", "2024-05-02", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "NoRegisteredProviderFound"
    assert "API version '2024-05-02' for type 'service/apis'" in error["message"]
    assert "The supported api-versions are '2025-03-01-preview, " in error["message"]
    assert (await _put(emulator, f"{svc}/apis/echo", "2024-05-01", body)).status_code == 201


async def test_a_body_against_the_contract_gets_apims_validation_error(emulator: RunningEmulator) -> None:
    svc = await _svc_path(emulator)
    response = await _put(emulator, f"{svc}/apis/echo", "2024-05-01", {"properties": {"displayName": "Echo"}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ValidationError"
    assert error["details"][0]["target"] == "path"
    response = await _put(
        emulator,
        f"{svc}/apis/echo",
        "2024-05-01",
        {"properties": {"displayName": "Echo", "path": "echo", "subscriptionRequired": "no"}},
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["target"] == "subscriptionRequired"


async def test_read_only_properties_are_ignored_on_a_write(emulator: RunningEmulator) -> None:
    svc = await _svc_path(emulator)
    body = {
        "properties": {"displayName": "Echo", "path": "echo", "isOnline": False, "provisioningState": "Bogus"}
    }
    response = await _put(emulator, f"{svc}/apis/echo", "2024-05-01", body)
    assert response.status_code == 201
    props = response.json()["properties"]
    assert props.get("isOnline") is not False
    assert props.get("provisioningState") != "Bogus"
