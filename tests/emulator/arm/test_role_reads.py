"""Role assignments and role definitions read through azure-mgmt-authorization (its default
api-version, 2022-04-01) against the emulator (``emulator.arm.role_reads``): the subscription's
list and its ``$filter`` forms, ARM's refusal of any other filter, paging with ``nextLink`` (the
session emulator pages every 3 items), the built-in role definitions and ARM's 404 for others."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from emulator.arm import authz, role_reads
from tests.support.azure import assign_role, make_group
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


async def _listed(emu: RunningEmulator, flt: str | None) -> list[Any]:
    async with emu.authorization_client() as client:
        return [a async for a in client.role_assignments.list_for_subscription(filter=flt)]


async def test_the_subscription_lists_its_assignments_by_filter(emulator: RunningEmulator) -> None:
    sub = f"/subscriptions/{emulator.subscription_id}"
    group = await make_group(emulator)
    someone = str(uuid.uuid4())
    at_sub = await assign_role(emulator, someone, READER, sub)
    at_group = await assign_role(emulator, someone, CONTRIBUTOR, f"{sub}/resourceGroups/{group}")
    other = await assign_role(emulator, str(uuid.uuid4()), READER, sub)

    def ids(found: list[Any], who: str | None = None) -> set[str]:
        return {str(a.id).lower() for a in found if who is None or a.principal_id == who}

    everything = await _listed(emulator, None)  # at, above and below the subscription
    assert {at_sub, at_group, other} <= ids(everything)
    at_scope = ids(await _listed(emulator, "atScope()"))  # at or above: not the group's
    assert {at_sub, other} <= at_scope
    assert at_group not in at_scope
    assert ids(await _listed(emulator, f"atScope() and assignedTo('{someone}')")) == {at_sub}
    assert ids(await _listed(emulator, f"assignedTo('{someone}')")) == {at_sub, at_group}
    assert ids(await _listed(emulator, f"principalId eq '{someone}'")) == {at_sub, at_group}
    [mine] = list(await _listed(emulator, f"atScope() and assignedTo('{someone}')"))
    assert mine.scope == sub
    assert mine.role_definition_id.endswith(READER)
    # the subscription's creator holds Owner there (listed as Azure lists a creator's assignment)
    [owner] = await _listed(emulator, f"atScope() and assignedTo('{authz.OPERATOR}')")
    assert owner.role_definition_id.endswith(authz.OWNER)
    assert owner.scope == sub
    assert owner.name == role_reads.OPERATOR_ASSIGNMENT


async def test_the_list_pages_with_next_link(emulator: RunningEmulator) -> None:
    someone = str(uuid.uuid4())
    scope = f"/subscriptions/{emulator.subscription_id}"
    group = await make_group(emulator)
    made = {await assign_role(emulator, someone, READER, scope)}
    for role in (READER, CONTRIBUTOR, authz.OWNER, "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"):
        made.add(await assign_role(emulator, someone, role, f"{scope}/resourceGroups/{group}"))
    path = f"{scope}/providers/Microsoft.Authorization/roleAssignments"
    async with emulator.http() as h:
        first = await h.get(
            path,
            params={"api-version": "2022-04-01", "$filter": f"principalId eq '{someone}'"},
            headers=emulator.arm_headers(),
        )
    assert first.status_code == 200, first.text
    assert len(first.json()["value"]) == 3
    assert "$skipToken" in first.json()["nextLink"]
    # the SDK follows nextLink to the end, the filter kept
    assert {str(a.id).lower() for a in await _listed(emulator, f"principalId eq '{someone}'")} == made


@pytest.mark.parametrize(
    "flt",
    [
        "principalId eq 'x' and roleDefinitionId eq 'y'",  # compound filters are refused
        "atScope() and principalId eq '00000000-0000-0000-0000-000000000000'",
        "principalId eq 00000000-0000-0000-0000-000000000000",  # unquoted (azure-rest-api-specs#28255)
        "roleName eq 'Reader'",
    ],
)
async def test_an_unsupported_filter_is_arms_400(emulator: RunningEmulator, flt: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        await _listed(emulator, flt)
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "UnsupportedQuery"
    assert caught.value.error.message == (
        f"The filter '{flt}' is not supported. Supported filters are either 'atScope()' or "
        "'principalId eq '{value}' or assignedTo('{value}')'."
    )


async def test_built_in_role_definitions_are_read_by_id(emulator: RunningEmulator) -> None:
    sub = f"/subscriptions/{emulator.subscription_id}"
    async with emulator.authorization_client() as client:
        contributor = await client.role_definitions.get_by_id(
            f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"
        )
        reader = await client.role_definitions.get(sub, READER)
        listed = [d async for d in client.role_definitions.list(sub)]  # 5 roles: two pages
        missing = f"{uuid.uuid4()}"
        with pytest.raises(ResourceNotFoundError) as caught:
            await client.role_definitions.get(sub, missing)
    assert contributor.role_name == "Contributor"
    assert contributor.role_type == "BuiltInRole"
    [permission] = contributor.permissions
    assert permission.actions == ["*"]
    assert "Microsoft.Authorization/*/Write" in permission.not_actions
    assert contributor.id == f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"
    assert reader.permissions[0].actions == ["*/read"]
    assert {d.role_name for d in listed} >= {"Owner", "Contributor", "Reader"}
    assert caught.value.error is not None
    assert caught.value.error.code == "RoleDefinitionDoesNotExist"
    assert caught.value.error.message == f"The specified role definition with ID '{missing}' does not exist."


async def test_reads_need_a_valid_token(emulator: RunningEmulator) -> None:
    path = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.Authorization/roleAssignments"
    async with emulator.http() as h:
        response = await h.get(
            path, params={"api-version": "2022-04-01"}, headers={"Authorization": "Bearer x"}
        )
    assert response.status_code == 401


async def test_the_answers_have_the_vendored_response_shape(emulator: RunningEmulator) -> None:
    """Every property of the raw answers is in the vendored 2022-04-01 response schema, typed."""
    from emulator.contracts import loader
    from emulator.contracts.schema import Rules, validate

    sub = f"/subscriptions/{emulator.subscription_id}"
    await assign_role(emulator, str(uuid.uuid4()), READER, sub)
    reads = [
        f"{sub}/providers/Microsoft.Authorization/roleAssignments",
        f"{sub}/providers/Microsoft.Authorization/roleDefinitions",
        f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}",
    ]
    async with emulator.http() as h:
        for path in reads:
            response = await h.get(path, params={"api-version": "2022-04-01"}, headers=emulator.arm_headers())
            assert response.status_code == 200, response.text
            operation = loader.operation("GET", path, "2022-04-01")
            assert operation is not None, path
            schema = operation.response_schema(200)
            assert schema is not None
            result = validate(schema, response.json(), Rules.STRICT)
            assert [p for p in result.problems if p.kind != "read-only"] == [], path


async def test_an_api_version_the_type_lacks_is_refused(emulator: RunningEmulator) -> None:
    sub = f"/subscriptions/{emulator.subscription_id}"
    async with emulator.http() as h:
        for path in (
            f"{sub}/providers/Microsoft.Authorization/roleAssignments",
            f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
        ):
            response = await h.get(path, params={"api-version": "2099-01-01"}, headers=emulator.arm_headers())
            assert response.status_code == 400, path
            assert response.json()["error"]["code"] == "NoRegisteredProviderFound"
