"""Entra's rules on what Graph writes: identifier URIs on verified domains (and the single-tenant
v2 exemption), the tenant's domains, Microsoft Graph's service principal, permission grants and
their replication delay (emulator.graph.domains, entities, router)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from msgraph.generated.models.api_application import ApiApplication
from msgraph.generated.models.application import Application
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.permission_scope import PermissionScope

from emulator.graph.domains import INITIAL_DOMAIN
from emulator.server import DB_FILE
from emulator.store import Store
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
UNVERIFIED = "https://apim-mcp.azure-api.net/mcp"
NOT_VERIFIED = (
    "Values of identifierUris property must use a verified domain of the organization or its subdomain: "
)


def _app(uris: list[str], *, version: int | None = 2, audience: str = "AzureADMyOrg") -> Application:
    return Application(
        display_name=f"uri-{uuid.uuid4().hex[:6]}",
        sign_in_audience=audience,
        identifier_uris=uris,
        api=ApiApplication(requested_access_token_version=version),
    )


@pytest.mark.parametrize(
    ("version", "audience"),
    [(None, "AzureADMyOrg"), (1, "AzureADMyOrg"), (2, "AzureADMultipleOrgs")],
)
async def test_https_identifier_uri_on_an_unverified_domain_is_refused(
    emulator: RunningEmulator, version: int | None, audience: str
) -> None:
    """A v1 app, or a multi-tenant one: HostNameNotOnVerifiedDomain, as Graph answers it."""
    async with emulator.graph_client() as graph:
        with pytest.raises(ODataError) as refused:
            await graph.applications.post(_app([UNVERIFIED], version=version, audience=audience))
        assert refused.value.response_status_code == 400
        assert refused.value.error is not None
        assert refused.value.error.code == "HostNameNotOnVerifiedDomain"
        assert refused.value.error.message == f"{NOT_VERIFIED}'{UNVERIFIED}'"


async def test_verified_domains_subdomains_and_api_scheme_are_accepted(emulator: RunningEmulator) -> None:
    async with emulator.graph_client() as graph:
        for uri in (
            f"https://{INITIAL_DOMAIN}/mcp-{uuid.uuid4().hex[:6]}",
            f"https://api-{uuid.uuid4().hex[:6]}.{INITIAL_DOMAIN}",
            f"api://{uuid.uuid4()}",
        ):
            app = await graph.applications.post(_app([uri], version=None))
            assert app.identifier_uris == [uri]


async def test_single_tenant_v2_app_is_exempt_and_cannot_lose_the_exemption(
    emulator: RunningEmulator,
) -> None:
    async with emulator.graph_client() as graph:
        uri = f"https://apim-{uuid.uuid4().hex[:6]}.azure-api.net/mcp"
        app = await graph.applications.post(_app([uri], version=2))
        assert app.identifier_uris == [uri]
        # back to v1 tokens, or multi-tenant: the URI is checked again and refused
        for change in (
            Application(api=ApiApplication(requested_access_token_version=1)),
            Application(sign_in_audience="AzureADMultipleOrgs"),
        ):
            with pytest.raises(ODataError) as refused:
                await graph.applications.by_application_id(app.id).patch(change)
            assert refused.value.error is not None
            assert refused.value.error.code == "HostNameNotOnVerifiedDomain"


async def test_a_uri_already_held_is_not_checked_again(emulator: RunningEmulator, tmp_path: Any) -> None:
    """Only newly added URIs are validated (Learn: the rule "validates only new applications or
    when an existing application updates an identifier URI or adds a new one")."""
    async with emulator.graph_client() as graph:
        custom = f"contoso-{uuid.uuid4().hex[:6]}.example"
        store = Store(emulator.state_dir / DB_FILE)
        try:
            store.put("graph/domains", custom, {"id": custom, "isVerified": True, "isDefault": False})
            app = await graph.applications.post(_app([f"https://{custom}/api"], version=None))
            store.put("graph/domains", custom, {"id": custom, "isVerified": False, "isDefault": False})
        finally:
            store.close()
        await graph.applications.by_application_id(app.id).patch(Application(display_name="renamed"))
        with pytest.raises(ODataError, match="verified domain"):
            await graph.applications.by_application_id(app.id).patch(
                Application(identifier_uris=[f"https://{custom}/api", f"https://{custom}/other"])
            )


async def test_the_tenant_has_its_initial_domain_and_graphs_service_principal(
    emulator: RunningEmulator,
) -> None:
    async with emulator.http(headers=emulator.graph_headers()) as h:
        domains = (await h.get("/v1.0/domains")).json()["value"]
        initial = next(d for d in domains if d["isInitial"])
        assert (initial["id"], initial["isVerified"], initial["isDefault"]) == (INITIAL_DOMAIN, True, True)
        assert (await h.get(f"/v1.0/domains/{INITIAL_DOMAIN}")).json()["id"] == INITIAL_DOMAIN
        sp = (await h.get(f"/v1.0/servicePrincipals(appId='{GRAPH_APP_ID}')")).json()
        assert sp["displayName"] == "Microsoft Graph"
        scopes = {s["value"]: s["id"] for s in sp["oauth2PermissionScopes"]}
        assert scopes["User.Read"] == "e1fe6dd8-ba31-4d61-89e7-88639da4683d"
        app = (await h.post("/v1.0/applications", json={"displayName": "publisher"})).json()
        assert app["publisherDomain"] == INITIAL_DOMAIN


async def test_a_new_grant_is_invisible_for_the_replication_delay(emulator: RunningEmulator) -> None:
    async with emulator.http(headers=emulator.graph_headers()) as h:
        app = (await h.post("/v1.0/applications", json={"displayName": "grant-client"})).json()
        client = (await h.post("/v1.0/servicePrincipals", json={"appId": app["appId"]})).json()
        graph_sp = (await h.get(f"/v1.0/servicePrincipals(appId='{GRAPH_APP_ID}')")).json()
        emulator.set_faults(replication_delay_s=3600)
        try:
            made = await h.post(
                "/v1.0/oauth2PermissionGrants",
                json={
                    "clientId": client["id"],
                    "consentType": "AllPrincipals",
                    "resourceId": graph_sp["id"],
                    "scope": "User.Read",
                },
            )
            assert made.status_code == 201
            assert "createdDateTime" not in made.json()
            grant = made.json()["id"]
            assert (await h.get(f"/v1.0/oauth2PermissionGrants/{grant}")).status_code == 404
            listed = await h.get(
                "/v1.0/oauth2PermissionGrants", params={"$filter": f"clientId eq '{client['id']}'"}
            )
            assert listed.json()["value"] == []
        finally:
            emulator.set_faults(replication_delay_s=0)
        shown = (await h.get(f"/v1.0/oauth2PermissionGrants/{grant}")).json()
        assert shown["scope"] == "User.Read"
        assert "createdDateTime" not in shown


@pytest.mark.parametrize("value", ["api:read", "a&b~c[]{x}|`=?@", "x" * 120])
async def test_a_scope_value_entra_allows_is_accepted(emulator: RunningEmulator, value: str) -> None:
    async with emulator.graph_client() as graph:
        app = await graph.applications.post(_scoped_app(value))
        assert app.api is not None
        assert app.api.oauth2_permission_scopes is not None
        assert [s.value for s in app.api.oauth2_permission_scopes] == [value]


@pytest.mark.parametrize("value", [".read", "read all", "lé", 'a"b', "a\\b", "x" * 121])
async def test_a_scope_value_entra_refuses_is_refused(emulator: RunningEmulator, value: str) -> None:
    """Graph permissionScope.value: at most 120 of the listed characters, not starting with '.'."""
    async with emulator.graph_client() as graph:
        with pytest.raises(ODataError) as refused:
            await graph.applications.post(_scoped_app(value))
        assert refused.value.response_status_code == 400
        assert refused.value.error is not None
        assert refused.value.error.code == "Request_BadRequest"
        assert refused.value.error.message == (
            "Invalid value specified for property 'value' of resource 'PermissionScope'."
        )


def _scoped_app(value: str) -> Application:
    scope = PermissionScope(
        id=uuid.uuid4(),
        value=value,
        type="User",
        is_enabled=True,
        admin_consent_display_name="X",
        admin_consent_description="Y",
    )
    return Application(
        display_name=f"scope-{uuid.uuid4().hex[:6]}",
        api=ApiApplication(requested_access_token_version=2, oauth2_permission_scopes=[scope]),
    )
