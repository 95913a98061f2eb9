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
        return await h.put(path, params={"api-version": version}, json=body, headers=emu.arm_headers())


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
    assert "The supported api-versions are '2025-09-01-preview, 2025-03-01-preview, " in error["message"]
    assert (await _put(emulator, f"{svc}/apis/echo", "2024-05-01", body)).status_code == 201


POLICY = "<policies><inbound /><backend><forward-request /></backend><outbound /><on-error /></policies>"


@pytest.mark.parametrize(
    ("child", "body", "type_name", "newest"),
    [
        (
            "namedValues/nv1",
            {"properties": {"displayName": "nv1", "value": "v"}},
            "service/namedValues",
            "2025-09-01-preview",
        ),
        (
            "loggers/l1",
            {"properties": {"loggerType": "azureMonitor"}},
            "service/loggers",
            "2025-09-01-preview",
        ),
        (
            "policies/policy",
            {"properties": {"value": POLICY}},
            "service/policies",
            "2025-09-01-preview",
        ),
        (
            "apis/echo/policies/policy",
            {"properties": {"value": POLICY}},
            "service/apis/policies",
            "2025-09-01-preview",
        ),
        # issue 20's types (issue 14: they were served at any api-version)
        (
            "products/partners",
            {"properties": {"displayName": "Partners"}},
            "service/products",
            "2025-09-01-preview",
        ),
        (
            "products/partners/policies/policy",
            {"properties": {"value": POLICY}},
            "service/products/policies",
            "2025-09-01-preview",
        ),
        (
            "products/partners/apis/echo",
            {},
            "service/products/apis",
            "2025-09-01-preview",
        ),
        (
            "subscriptions/partner-key",
            {"properties": {"displayName": "Partner key", "scope": "/apis/echo"}},
            "service/subscriptions",
            "2025-09-01-preview",
        ),
        (
            "users/u1",
            {"properties": {"email": "u1@example.com", "firstName": "U", "lastName": "One"}},
            "service/users",
            "2025-09-01-preview",
        ),
        (
            "groups/g1",
            {"properties": {"displayName": "G1"}},
            "service/groups",
            "2025-09-01-preview",
        ),
    ],
)
async def test_every_apim_type_the_engine_writes_has_its_api_versions_checked(
    emulator: RunningEmulator, child: str, body: dict[str, Any], type_name: str, newest: str
) -> None:
    # 2015-09-15 is a version ARM lists for the service itself, not one the sources list for these
    # child types (api-versions.json names them); 2024-05-02 is no version at all
    svc = await _svc_path(emulator)
    api = {"properties": {"displayName": "Echo", "path": "echo"}}
    assert (await _put(emulator, f"{svc}/apis/echo", "2024-05-01", api)).status_code == 201
    product = {"properties": {"displayName": "Partners"}}
    assert (await _put(emulator, f"{svc}/products/partners", "2024-05-01", product)).status_code == 201
    for version in ("2024-05-02", "2015-09-15"):
        response = await _put(emulator, f"{svc}/{child}", version, body)
        assert response.status_code == 400, (child, version)
        error = response.json()["error"]
        assert error["code"] == "NoRegisteredProviderFound"
        assert f"API version '{version}' for type '{type_name}'" in error["message"]
        assert f"The supported api-versions are '{newest}, " in error["message"]
    assert (await _put(emulator, f"{svc}/{child}", "2024-05-01", body)).status_code in (200, 201)


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


# ------------------------------------------------------------------ the rest of APIM 2024-05-01


async def _get(emu: RunningEmulator, path: str, version: str = "2024-05-01") -> Any:
    async with emu.http() as h:
        return await h.get(path, params={"api-version": version}, headers=emu.arm_headers())


@pytest.mark.parametrize(
    ("child", "body", "target"),
    [
        # ApiManagementServiceSkuProperties requires capacity (the emulator used to default it to 1)
        ("", {"location": "westeurope", "sku": {"name": "Developer"}}, "capacity"),
        ("namedValues/nv", {"properties": {"displayName": "nv", "value": "v", "tags": "one"}}, "tags"),
        (
            "backends/b",
            {
                "properties": {
                    "url": "https://b",
                    "protocol": "http",
                    "tls": {"validateCertificateChain": "yes"},
                }
            },
            "validateCertificateChain",
        ),
        (
            "loggers/l",
            {"properties": {"loggerType": "applicationInsights", "isBuffered": "no"}},
            "isBuffered",
        ),
        (
            "diagnostics/applicationinsights",
            {"properties": {"loggerId": "/loggers/l", "sampling": {"percentage": "half"}}},
            "percentage",
        ),
        ("policyFragments/f", {"properties": {"value": "<fragment />", "description": 5}}, "description"),
    ],
)
async def test_each_vendored_apim_write_is_validated_against_its_contract(
    emulator: RunningEmulator, child: str, body: dict[str, Any], target: str
) -> None:
    svc = await _svc_path(emulator)
    path = f"{svc}/{child}" if child else svc.rsplit("/", 1)[0] + "/svc-sku-check"
    if child == "":
        body = {**body, "properties": {"publisherEmail": "a@b.c", "publisherName": "n"}}
    response = await _put(emulator, path, "2024-05-01", body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "ValidationError"
    assert target in [d["target"] for d in error["details"]]


async def test_a_pool_backend_needs_no_url_and_names_existing_backends(emulator: RunningEmulator) -> None:
    svc = await _svc_path(emulator)
    member = {"properties": {"url": "https://one.example.com", "protocol": "http"}}
    assert (await _put(emulator, f"{svc}/backends/one", "2024-05-01", member)).status_code == 201
    pool = {
        "properties": {"type": "Pool", "pool": {"services": [{"id": f"{svc}/backends/one", "priority": 1}]}}
    }
    response = await _put(emulator, f"{svc}/backends/lb", "2024-05-01", pool)
    assert response.status_code == 201, response.text
    props = response.json()["properties"]
    assert props["type"] == "Pool"
    assert props["url"] is None
    assert props["protocol"] is None
    # a member that does not exist, or no member at all, is refused
    ghost = {"properties": {"type": "Pool", "pool": {"services": [{"id": f"{svc}/backends/ghost"}]}}}
    response = await _put(emulator, f"{svc}/backends/lb2", "2024-05-01", ghost)
    assert response.status_code == 400
    assert "ghost" in response.text
    empty = {"properties": {"type": "Pool", "pool": {"services": []}}}
    assert (await _put(emulator, f"{svc}/backends/lb3", "2024-05-01", empty)).status_code == 400
    # a single backend still needs url and protocol
    single = {"properties": {"description": "no url"}}
    assert (await _put(emulator, f"{svc}/backends/single", "2024-05-01", single)).status_code == 400


async def test_a_revision_is_created_without_display_name_from_the_api_it_revises(
    emulator: RunningEmulator,
) -> None:
    svc = await _svc_path(emulator)
    base = {
        "properties": {"displayName": "Echo API", "path": "echo", "serviceUrl": "https://echo.example.com"}
    }
    assert (await _put(emulator, f"{svc}/apis/echo-api", "2024-05-01", base)).status_code == 201
    revision = {
        "properties": {"path": "echo", "sourceApiId": f"{svc}/apis/echo-api", "apiRevisionDescription": "r3"}
    }
    response = await _put(emulator, f"{svc}/apis/echo-api;rev=3", "2024-05-01", revision)
    assert response.status_code == 201, response.text
    props = response.json()["properties"]
    assert props["displayName"] == "Echo API"
    assert props["apiRevision"] == "3"
    assert props["isCurrent"] is False
    assert await _get(emulator, f"{svc}/apis/echo-api")
    # a revision of an API that does not exist: APIM's 404
    missing = await _put(emulator, f"{svc}/apis/nope;rev=2", "2024-05-01", revision)
    assert missing.status_code == 404
    # another API may not take the path, a version of a version set may
    other = {"properties": {"displayName": "Other", "path": "echo"}}
    assert (await _put(emulator, f"{svc}/apis/other", "2024-05-01", other)).status_code == 400
    versioned = {"properties": {"displayName": "Echo v2", "path": "echo", "apiVersion": "v2"}}
    assert (await _put(emulator, f"{svc}/apis/echo-v2", "2024-05-01", versioned)).status_code == 201


async def test_apim_collections_answer_count_and_next_link(emulator: RunningEmulator) -> None:
    svc = await _svc_path(emulator)
    for name in ("a", "b"):
        body = {"properties": {"displayName": name, "value": "v"}}
        assert (await _put(emulator, f"{svc}/namedValues/{name}", "2024-05-01", body)).status_code in (
            200,
            201,
        )
    page = (await _get(emulator, f"{svc}/namedValues")).json()
    assert page["count"] == 2
    assert page["nextLink"] == ""
