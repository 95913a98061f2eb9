"""The emulated ARM answers the providers outside APIM as their vendored contracts say
(``emulator.contracts``): api-versions per type, bodies refused as each provider words it
(``emulator.arm.refusals``), the documented status of each write, ``tableServices/default``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.azure import make_group, unique
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

ACCOUNT_BODY = {
    "location": "westeurope",
    "kind": "StorageV2",
    "sku": {"name": "Standard_LRS"},
    "properties": {"minimumTlsVersion": "TLS1_2", "allowSharedKeyAccess": False},
}


def _rg(emu: RunningEmulator, group: str) -> str:
    return f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}"


async def _send(
    h: httpx.AsyncClient, method: str, path: str, version: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await h.request(method, path, params={"api-version": version}, json=body)


async def test_storage_writes_answer_the_documented_statuses_and_table_service_default_is_served(
    emulator: RunningEmulator,
) -> None:
    account = f"{_rg(emulator, await make_group(emulator))}/providers/Microsoft.Storage/storageAccounts/{unique('st')}"
    async with emulator.http(headers=emulator.arm_headers()) as h:
        created = await _send(h, "PUT", account, "2023-05-01", ACCOUNT_BODY)
        # StorageAccounts_Create documents 200 and 202 (storage.json 2023-05-01), never 201
        assert created.status_code == 202
        assert created.headers["Azure-AsyncOperation"]
        assert (await _send(h, "GET", account, "2023-05-01")).status_code == 200
        assert (await _send(h, "PUT", account, "2023-05-01", ACCOUNT_BODY)).status_code == 200
        service = await _send(h, "GET", f"{account}/tableServices/default", "2023-05-01")
        assert service.status_code == 200
        assert service.json()["properties"] == {"cors": {"corsRules": []}}
        assert service.json()["type"] == "Microsoft.Storage/storageAccounts/tableServices"
        rule = {
            "allowedOrigins": ["*"],
            "allowedMethods": ["GET"],
            "maxAgeInSeconds": 60,
            "exposedHeaders": [],
            "allowedHeaders": [],
        }
        cors = {"properties": {"cors": {"corsRules": [rule]}}}
        put = await _send(h, "PUT", f"{account}/tableServices/default", "2023-05-01", cors)
        assert put.status_code == 200
        assert put.json()["properties"]["cors"]["corsRules"] == [rule]
        other = await _send(h, "GET", f"{account}/tableServices/other", "2023-05-01")
        assert other.status_code == 400
        # Table_Create documents 200 only (table.json 2023-05-01)
        table = await _send(h, "PUT", f"{account}/tableServices/default/tables/clients", "2023-05-01", {})
        assert table.status_code == 200
        assert table.json()["properties"]["tableName"] == "clients"


async def test_storage_refuses_bodies_as_the_storage_provider_words_it(emulator: RunningEmulator) -> None:
    group = _rg(emulator, await make_group(emulator))
    async with emulator.http(headers=emulator.arm_headers()) as h:
        account = f"{group}/providers/Microsoft.Storage/storageAccounts/{unique('st')}"
        no_kind = {k: v for k, v in ACCOUNT_BODY.items() if k != "kind"}
        response = await _send(h, "PUT", account, "2023-05-01", no_kind)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "InvalidValuesForRequestParameters"
        assert error["message"].startswith("Values for request parameters are invalid: kind.")
        tier = {**ACCOUNT_BODY, "properties": {"accessTier": "Hotter"}}  # AccessTier: modelAsString false
        response = await _send(h, "PUT", account, "2023-05-01", tier)
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["message"]) == (
            "InvalidRequestPropertyValue",
            "The value 'Hotter' is not allowed for property accessTier.",
        )
        wrong_type = {**ACCOUNT_BODY, "properties": {"supportsHttpsTrafficOnly": "yes"}}
        response = await _send(h, "PUT", account, "2023-05-01", wrong_type)
        assert response.json()["error"]["message"] == (
            "The value 'yes' is not allowed for property supportsHttpsTrafficOnly."
        )
        assert (await _send(h, "GET", account, "2023-05-01")).status_code == 404  # nothing stored


async def test_other_providers_refuse_with_arms_generic_deserialization_error(
    emulator: RunningEmulator,
) -> None:
    group = _rg(emulator, await make_group(emulator))
    async with emulator.http(headers=emulator.arm_headers()) as h:
        identity = f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
        response = await _send(h, "PUT", identity, "2023-01-31", {"location": "westeurope", "tags": ["a"]})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "InvalidRequestContent"
        assert "Path 'tags'" in error["message"]
        assert error["details"][0]["target"] == "tags"
        missing = await _send(h, "PUT", identity, "2023-01-31", {"tags": {}})
        assert missing.json()["error"]["code"] == "LocationRequired"  # ARM's own check comes first
        app = f"{group}/providers/Microsoft.App/containerApps/app1"
        body = {"location": "westeurope", "properties": {"configuration": {"ingress": {"external": "yes"}}}}
        response = await _send(h, "PUT", app, "2024-03-01", body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "InvalidRequestContent"
        assert "The JSON value could not be converted to System.Boolean. " in error["message"]
        assert "Path: $.properties.configuration.ingress.external" in error["message"]


async def test_api_versions_are_checked_for_every_vendored_type(emulator: RunningEmulator) -> None:
    name = await make_group(emulator)
    group = _rg(emulator, name)
    async with emulator.http(headers=emulator.arm_headers()) as h:
        # a resource group is ARM's own type: its front door refuses (emulator.contracts.versions)
        response = await _send(h, "PUT", group, "2019-01-01", {"location": "westeurope"})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "InvalidApiVersionParameter"
        assert error["message"].startswith(
            "The api-version '2019-01-01' is invalid. The supported versions are '2025-04-01,2025-03-01,"
        )
        app = f"{group}/providers/Microsoft.App/containerApps/app1"
        response = await _send(h, "GET", app, "2024-03-02")
        assert response.json()["error"]["code"] == "NoRegisteredProviderFound"
        registry = f"{group}/providers/Microsoft.ContainerRegistry/registries/{unique('cr').replace('-', '')}"
        body = {"location": "westeurope", "sku": {"name": "Basic"}}
        assert (await _send(h, "PUT", registry, "2023-07-01", body)).status_code in (200, 201)
        response = await _send(h, "POST", f"{registry}/scheduleRun", "2019-06-02-preview", {})
        assert response.json()["error"]["code"] == "NoRegisteredProviderFound"
        # the action's body is the vendored DockerBuildRequest (containerregistry_build.json)
        run = {"type": "DockerBuildRequest", "platform": {"os": "Linux"}, "sourceLocation": "x"}
        response = await _send(h, "POST", f"{registry}/scheduleRun", "2019-06-01-preview", run)
        assert response.status_code == 400
        assert "Required property 'dockerFilePath' not found in JSON." in response.json()["error"]["message"]


async def test_a_component_create_answers_200_as_its_only_documented_status(
    emulator: RunningEmulator,
) -> None:
    group = _rg(emulator, await make_group(emulator))
    component = f"{group}/providers/Microsoft.Insights/components/appi1"
    body = {"location": "westeurope", "kind": "web", "properties": {"Application_Type": "web"}}
    async with emulator.http(headers=emulator.arm_headers()) as h:
        # Components_CreateOrUpdate documents 200 only (components_API.json 2020-02-02)
        assert (await _send(h, "PUT", component, "2020-02-02", body)).status_code == 200
