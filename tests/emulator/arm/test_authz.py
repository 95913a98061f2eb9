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


READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


async def _grant(emu: RunningEmulator, scope: str, principal: str, role: str) -> None:
    body = {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{emu.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            "principalId": principal,
        }
    }
    async with emu.http() as h:
        r = await h.put(
            f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            params={"api-version": "2022-04-01"},
            json=body,
            headers=emu.arm_headers(),  # the operator, the subscription's Owner
        )
    assert r.status_code in (200, 201), r.text


def _refused(action: str, scope: str, oid: str) -> str:
    return (
        f"The client '{oid}' with object id '{oid}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials."
    )


async def test_writes_need_a_role_that_allows_them(emulator: RunningEmulator, tmp_path: Path) -> None:
    """ARM authorizes every write by the caller's roles (authz.write_refusal): none -> 403
    AuthorizationFailed in ARM's words; Reader reads only; Contributor on the group writes there
    but neither assigns roles nor creates groups; the operator (Owner) does everything."""
    group = await make_group(emulator)
    someone = str(uuid.uuid4())
    headers = bearer(emulator, tmp_path, someone) | {"Content-Type": "application/json"}
    sub = f"/subscriptions/{emulator.subscription_id}"
    scope = f"{sub}/resourceGroups/{group}"
    identity = f"{scope}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-authz"
    assignment = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
    grant = {
        "properties": {
            "roleDefinitionId": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
            "principalId": str(uuid.uuid4()),
        }
    }
    id_api, ra_api = {"api-version": "2023-01-31"}, {"api-version": "2022-04-01"}
    async with emulator.http() as h:

        async def refused(method: str, path: str, params: dict[str, str], action: str, **kw: Any) -> None:
            r = await h.request(method, path, params=params, headers=headers, **kw)
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["error"] == {
                "code": "AuthorizationFailed",
                "message": _refused(action, path, someone),
            }

        write = "Microsoft.ManagedIdentity/userAssignedIdentities/write"
        await refused("PUT", identity, id_api, write, json={"location": "westeurope"})
        await refused(
            "PUT", f"{sub}/resourceGroups/{group}-2", {"api-version": "2021-04-01"},
            "Microsoft.Resources/subscriptions/resourceGroups/write", json={"location": "westeurope"},
        )  # fmt: skip
        await refused(
            "DELETE",
            scope,
            {"api-version": "2021-04-01"},
            "Microsoft.Resources/subscriptions/resourceGroups/delete",
        )
        await _grant(emulator, scope, someone, READER)
        await refused("PUT", identity, id_api, write, json={"location": "westeurope"})
        await _grant(emulator, scope, someone, CONTRIBUTOR)
        created = await h.put(identity, params=id_api, json={"location": "westeurope"}, headers=headers)
        assert created.status_code in (200, 201), created.text
        await refused("PUT", assignment, ra_api, "Microsoft.Authorization/roleAssignments/write", json=grant)
        await refused(
            "PUT", f"{sub}/resourceGroups/{group}-2", {"api-version": "2021-04-01"},
            "Microsoft.Resources/subscriptions/resourceGroups/write", json={"location": "westeurope"},
        )  # fmt: skip
        deleted = await h.delete(identity, params=id_api, headers=headers)
        assert deleted.status_code in (200, 204), deleted.text
        owner = await h.put(assignment, params=ra_api, json=grant, headers=emulator.arm_headers())
        assert owner.status_code in (200, 201), owner.text
