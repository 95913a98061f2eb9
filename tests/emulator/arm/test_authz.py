"""What a caller may do on a resource group (Permissions_ListForResourceGroup) and resource
provider registration (Providers_Register / _Unregister / _Get, MissingSubscriptionRegistration),
``emulator.arm.authz``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from emulator.arm import authz
from emulator.tokens import unverified_claims
from tests.support.azure import make_group
from tests.support.emulator import RunningEmulator
from tests.support.tokens import arm_bearer, context_for

pytestmark = pytest.mark.anyio

CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def bearer(emu: RunningEmulator, scratch: Path, oid: str) -> dict[str, str]:
    """A real ARM token of the emulator's identity service for the principal ``oid``."""
    ctx = context_for(emu, scratch)
    try:
        return arm_bearer(ctx, oid=oid)
    finally:
        ctx.store.close()


def test_the_operator_is_the_principal_prmlab_signs_in_as(emulator: RunningEmulator) -> None:
    # the oid of the local operator's real token (what prmlab and the suite sign in as)
    token = emulator.arm_headers()["Authorization"].removeprefix("Bearer ")
    assert unverified_claims(token)["oid"] == authz.OPERATOR


async def _permissions(emu: RunningEmulator, group: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    path = f"/subscriptions/{emu.subscription_id}/resourcegroups/{group}/providers/Microsoft.Authorization/permissions"
    async with emu.http() as h:
        response = await h.get(path, params={"api-version": "2022-04-01"}, headers=headers)
    assert response.status_code == 200, response.text
    value: list[dict[str, Any]] = response.json()["value"]
    return value


async def test_permissions_follow_the_callers_role_assignments(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    group = await make_group(emulator)
    owner = await _permissions(emulator, group, emulator.arm_headers())  # the local operator
    assert [p["actions"] for p in owner] == [["*"]]  # Owner
    someone = str(uuid.uuid4())
    assert await _permissions(emulator, group, bearer(emulator, tmp_path, someone)) == []  # no role
    scope = f"/subscriptions/{emulator.subscription_id}/resourceGroups/{group}"
    body = {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.Authorization/"
            f"roleDefinitions/{CONTRIBUTOR}",
            "principalId": someone,
        }
    }
    async with emulator.http() as h:
        created = await h.put(
            f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            params={"api-version": "2022-04-01"},
            json=body,
            headers=emulator.arm_headers(),
        )
    assert created.status_code in (200, 201), created.text
    [contributor] = await _permissions(emulator, group, bearer(emulator, tmp_path, someone))
    assert contributor["actions"] == ["*"]
    assert "Microsoft.Authorization/*/Write" in contributor["notActions"]


async def test_a_missing_group_has_no_permissions(emulator: RunningEmulator) -> None:
    path = f"/subscriptions/{emulator.subscription_id}/resourcegroups/rg-none/providers/Microsoft.Authorization/permissions"
    async with emulator.http() as h:
        response = await h.get(path, params={"api-version": "2022-04-01"}, headers=emulator.arm_headers())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceGroupNotFound"


async def test_an_unregistered_provider_refuses_writes_until_registered(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    base = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.OperationalInsights"
    identity = (
        f"/subscriptions/{emulator.subscription_id}/resourceGroups/{group}/providers/"
        "Microsoft.OperationalInsights/workspaces/log-unregistered"
    )
    api = {"api-version": "2025-04-01"}
    async with emulator.http() as h:
        try:
            gone = await h.post(f"{base}/unregister", params=api, headers=emulator.arm_headers())
            assert gone.status_code == 200, gone.text
            assert gone.json()["registrationState"] == "NotRegistered"
            state = await h.get(base, params=api, headers=emulator.arm_headers())
            assert state.json()["registrationState"] == "NotRegistered"
            refused = await h.put(
                identity,
                params={"api-version": "2023-09-01"},
                json={"location": "westeurope", "properties": {}},
                headers=emulator.arm_headers(),
            )
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["code"] == "MissingSubscriptionRegistration"
            assert "not registered to use namespace 'Microsoft.OperationalInsights'" in error["message"]
        finally:
            back = await h.post(f"{base}/register", params=api, headers=emulator.arm_headers())
        assert back.json()["registrationState"] == "Registered"
        created = await h.put(
            identity,
            params={"api-version": "2023-09-01"},
            json={"location": "westeurope", "properties": {}},
            headers=emulator.arm_headers(),
        )
        assert created.status_code in (200, 201, 202), created.text
