"""The emulated Graph refuses bodies that break Graph's v1.0 schema of the entity
(``emulator.contracts.graph``), with Graph's ``Request_BadRequest`` naming the property."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio


def _refusal(response: Any) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


async def test_application_bodies_are_checked_against_the_schema(emulator: RunningEmulator) -> None:
    async with emulator.http(headers=emulator.graph_headers()) as h:
        misspelled = await h.post("/v1.0/applications", json={"displayName": "a", "identifierUri": ["x"]})
        assert _refusal(misspelled) == (
            400,
            "Request_BadRequest",
            "Property 'identifierUri' does not exist on resource 'Application'.",
        )
        inline = await h.post("/v1.0/applications", json={"displayName": "a", "owners": [{"id": "u"}]})
        assert _refusal(inline)[2] == (
            "Property 'owners' is a navigation property of resource 'Application' and cannot be set inline."
        )
        typed = await h.post(
            "/v1.0/applications", json={"displayName": "a", "api": {"requestedAccessTokenVersion": "2"}}
        )
        assert (
            _refusal(typed)[2]
            == "Invalid value specified for property 'api.requestedAccessTokenVersion' of resource 'Application'."
        )
        nameless = await h.patch(
            "/v1.0/applications(uniqueName='no-name')",
            json={"tags": []},
            headers={"Prefer": "create-if-missing"},
        )
        assert _refusal(nameless) == (
            400,
            "Request_BadRequest",
            "Invalid value specified for property 'displayName' of resource 'Application'.",
        )
        app = (await h.post("/v1.0/applications", json={"displayName": "ok", "tags": ["t"]})).json()
        assert (await h.patch(f"/v1.0/applications/{app['id']}", json={"tags": "t"})).status_code == 400
        assert (await h.patch(f"/v1.0/applications/{app['id']}", json={"notes": "n"})).status_code == 204


async def test_federated_credentials_service_principals_and_users_are_checked(
    emulator: RunningEmulator,
) -> None:
    async with emulator.http(headers=emulator.graph_headers()) as h:
        app = (await h.post("/v1.0/applications", json={"displayName": "fic"})).json()
        fics = f"/v1.0/applications/{app['id']}/federatedIdentityCredentials"
        no_issuer = {"name": "fic-one", "subject": "s", "audiences": ["api://AzureADTokenExchange"]}
        assert _refusal(await h.post(fics, json=no_issuer))[2] == (
            "Invalid value specified for property 'issuer' of resource 'FederatedIdentityCredential'."
        )
        ok = await h.post(fics, json={**no_issuer, "issuer": "https://issuer"})
        assert ok.status_code == 201, ok.text
        unknown = await h.post("/v1.0/servicePrincipals", json={"appId": app["appId"], "tag": ["x"]})
        assert _refusal(unknown)[2] == "Property 'tag' does not exist on resource 'ServicePrincipal'."
        user = {
            "accountEnabled": "yes",
            "displayName": "U",
            "mailNickname": "u",
            "userPrincipalName": "u@prmlab.local",
            "passwordProfile": {"password": "P@ssw0rd-123456"},
        }
        assert _refusal(await h.post("/v1.0/users", json=user))[2] == (
            "Invalid value specified for property 'accountEnabled' of resource 'User'."
        )
