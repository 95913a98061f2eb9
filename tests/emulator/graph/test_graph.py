"""Microsoft Graph v1.0 through msgraph-sdk: applications (filter/select/top/paging, upsert by
uniqueName, alternate keys, entitlement rules), service principals, federated credentials,
users, /me, and Graph's OData errors."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder
from msgraph.generated.models.api_application import ApiApplication
from msgraph.generated.models.application import Application
from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.permission_scope import PermissionScope
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.user import User

from tests.support.credentials import StaticTokenCredential
from tests.support.emulator import RunningEmulator
from tests.support.tokens import user_token

pytestmark = pytest.mark.anyio

Query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters


def _config(**query: Any) -> RequestConfiguration[Any]:
    return RequestConfiguration(query_parameters=Query(**query))


def _lab() -> str:
    return f"prmlab-lab:{uuid.uuid4().hex[:8]}"


async def test_application_crud_filter_select_and_paging(emulator: RunningEmulator) -> None:
    async with emulator.graph_client() as graph:
        tag = _lab()
        created = [
            await graph.applications.post(Application(display_name=f"app {i}", tags=[tag])) for i in range(4)
        ]
        assert all(a.id and a.app_id and a.created_date_time for a in created)
        got = await graph.applications.by_application_id(created[0].id).get()
        assert (got.display_name, got.tags) == ("app 0", [tag])
        by_app_id = await graph.applications_with_app_id(created[1].app_id).get()
        assert by_app_id.id == created[1].id
        page = await graph.applications.get(
            _config(filter=f"tags/any(t:t eq '{tag}')", select=["id", "displayName"], top=3)
        )
        assert len(page.value) == 3
        assert page.odata_next_link
        assert page.value[0].app_id is None  # not selected
        rest = await graph.applications.with_url(page.odata_next_link).get()
        assert {a.id for a in page.value + rest.value} == {a.id for a in created}
        one = await graph.applications.get(_config(filter=f"appId eq '{created[2].app_id}'"))
        assert [a.id for a in one.value] == [created[2].id]
        await graph.applications.by_application_id(created[3].id).patch(
            Application(display_name="renamed", tags=[tag, "x"])
        )
        assert (await graph.applications.by_application_id(created[3].id).get()).display_name == "renamed"
        await graph.applications.by_application_id(created[3].id).delete()
        with pytest.raises(ODataError) as gone:
            await graph.applications.by_application_id(created[3].id).get()
        assert gone.value.response_status_code == 404
        assert gone.value.error is not None
        assert gone.value.error.code == "Request_ResourceNotFound"
        assert gone.value.error.inner_error is not None
        assert gone.value.error.inner_error.request_id


async def test_upsert_by_unique_name(emulator: RunningEmulator) -> None:
    async with emulator.graph_client() as graph:
        unique = f"prmlab-{uuid.uuid4().hex[:8]}"
        prefer: RequestConfiguration[Any] = RequestConfiguration()
        prefer.headers.add("Prefer", "create-if-missing")
        created = await graph.applications_with_unique_name(unique).patch(
            Application(display_name="first"), prefer
        )
        assert created is not None
        assert created.unique_name == unique
        again = await graph.applications_with_unique_name(unique).patch(
            Application(display_name="second"), prefer
        )
        assert again is None  # 204 on update
        got = await graph.applications_with_unique_name(unique).get()
        assert (got.id, got.display_name) == (created.id, "second")
        with pytest.raises(ODataError) as missing:
            await graph.applications_with_unique_name(unique + "-nope").patch(Application(display_name="x"))
        assert missing.value.response_status_code == 404
        with pytest.raises(ODataError, match="uniqueName"):
            await graph.applications.post(Application(display_name="dup", unique_name=unique))


async def test_identifier_uris_unique_and_scopes_disabled_before_removal(emulator: RunningEmulator) -> None:
    async with emulator.graph_client() as graph:
        uri = f"api://{uuid.uuid4()}"
        scope = PermissionScope(
            id=uuid.uuid4(),
            value="mcp.tools",
            type="User",
            is_enabled=True,
            admin_consent_display_name="x",
            admin_consent_description="x",
        )
        app = await graph.applications.post(
            Application(
                display_name="api",
                identifier_uris=[uri],
                api=ApiApplication(oauth2_permission_scopes=[scope], requested_access_token_version=2),
            )
        )
        assert app.api.oauth2_permission_scopes[0].value == "mcp.tools"
        with pytest.raises(ODataError, match="identifierUris"):
            await graph.applications.post(Application(display_name="other", identifier_uris=[uri]))
        with pytest.raises(ODataError) as enabled:
            await graph.applications.by_application_id(app.id).patch(
                Application(api=ApiApplication(oauth2_permission_scopes=[]))
            )
        assert enabled.value.error is not None
        assert enabled.value.error.code == "CannotDeleteOrUpdateEnabledEntitlement"
        scope.is_enabled = False
        await graph.applications.by_application_id(app.id).patch(
            Application(api=ApiApplication(oauth2_permission_scopes=[scope]))
        )
        await graph.applications.by_application_id(app.id).patch(
            Application(api=ApiApplication(oauth2_permission_scopes=[]))
        )
        assert (await graph.applications.by_application_id(app.id).get()).api.oauth2_permission_scopes == []


async def test_service_principals(emulator: RunningEmulator) -> None:
    async with emulator.graph_client() as graph:
        tag = _lab()
        app = await graph.applications.post(Application(display_name="sp app", tags=[tag]))
        sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id, tags=[tag]))
        assert (sp.app_id, sp.display_name, sp.tags) == (app.app_id, "sp app", [tag])
        with pytest.raises(ODataError) as dup:
            await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
        assert dup.value.response_status_code == 400
        with pytest.raises(ODataError) as orphan:
            await graph.service_principals.post(ServicePrincipal(app_id=str(uuid.uuid4())))
        assert orphan.value.response_status_code == 400
        assert "does not reference a valid application" in str(orphan.value.error.message)
        found = await graph.service_principals.get(_config(filter=f"appId eq '{app.app_id}'"))
        assert [s.id for s in found.value] == [sp.id]
        by_tag = await graph.service_principals.get(_config(filter=f"tags/any(t:t eq '{tag}')"))
        assert [s.id for s in by_tag.value] == [sp.id]
        assert (await graph.service_principals_with_app_id(app.app_id).get()).id == sp.id
        # deleting the application removes its home-tenant service principal
        await graph.applications.by_application_id(app.id).delete()
        with pytest.raises(ODataError):
            await graph.service_principals.by_service_principal_id(sp.id).get()


async def test_federated_identity_credentials(emulator: RunningEmulator) -> None:
    async with emulator.graph_client() as graph:
        app = await graph.applications.post(Application(display_name="fic app"))
        fics = graph.applications.by_application_id(app.id).federated_identity_credentials
        body = FederatedIdentityCredential(
            name="mcp-mi",
            issuer=f"{emulator.base_url}/login/{emulator.tenant_id}/v2.0",
            subject=str(uuid.uuid4()),
            audiences=["api://AzureADTokenExchange"],
        )
        fic = await fics.post(body)
        assert fic.id
        assert fic.name == "mcp-mi"
        with pytest.raises(ODataError) as dup:
            await fics.post(body)
        assert dup.value.response_status_code == 409
        with pytest.raises(ODataError) as bad:
            await fics.post(FederatedIdentityCredential(name="x y", issuer="i", subject="s", audiences=["a"]))
        assert bad.value.response_status_code == 400
        assert [f.name for f in (await fics.get()).value] == ["mcp-mi"]
        await fics.by_federated_identity_credential_id(fic.id).patch(
            FederatedIdentityCredential(description="d")
        )
        assert (await fics.by_federated_identity_credential_id("mcp-mi").get()).description == "d"
        await graph.applications.by_application_id(app.id).delete()
        assert emulator_store_count(emulator, "graph/federatedIdentityCredentials", app.id) == 0


def emulator_store_count(emu: RunningEmulator, kind: str, parent: str) -> int:
    from emulator.store import Store

    store = Store(emu.state_dir / "emulator.sqlite")
    try:
        return len(store.list(kind, parent=parent))
    finally:
        store.close()


async def test_users_and_me(emulator: RunningEmulator, tmp_path: Path) -> None:
    async with emulator.graph_client() as graph:
        upn = f"alice-{uuid.uuid4().hex[:6]}@prmlab.local"
        user = await graph.users.post(
            User(
                account_enabled=True,
                display_name="Alice",
                mail_nickname="alice",
                user_principal_name=upn,
                password_profile=PasswordProfile(
                    password="P@ssw0rd-1", force_change_password_next_sign_in=False
                ),
            )
        )
        assert user.id
        assert user.user_principal_name == upn
        assert (await graph.users.by_user_id(upn).get()).id == user.id
        with pytest.raises(ODataError, match="userPrincipalName"):
            await graph.users.post(
                User(
                    account_enabled=True,
                    display_name="A2",
                    mail_nickname="a2",
                    user_principal_name=upn,
                    password_profile=PasswordProfile(password="x"),
                )
            )

        token = user_token(emulator, tmp_path, user.id)
        async with emulator.graph_client(StaticTokenCredential(token)) as as_user:
            me = await as_user.me.get()
        assert (me.id, me.user_principal_name, me.display_name) == (user.id, upn, "Alice")

        for bad_token, status in (
            ("not-a-jwt", 401),
            (user_token(emulator, tmp_path, user.id, aud="api://someone-else"), 401),
            (user_token(emulator, tmp_path, user.id, scopes="Mail.Read"), 403),
            (user_token(emulator, tmp_path, user.id, exp=1), 401),
        ):
            with pytest.raises(ODataError) as refused:
                async with emulator.graph_client(StaticTokenCredential(bad_token)) as as_bad:
                    await as_bad.me.get()
            assert refused.value.response_status_code == status


async def test_missing_bearer_token_is_401(emulator: RunningEmulator) -> None:
    # a host missing from allowed_hosts gets no Authorization header: Graph answers 401
    async with emulator.graph_client(allowed_hosts=["graph.microsoft.com"]) as graph:
        with pytest.raises(ODataError) as refused:
            await graph.applications.get()
        assert refused.value.response_status_code == 401
        assert refused.value.error is not None
        assert refused.value.error.code == "InvalidAuthenticationToken"


async def test_odata_type_and_bad_filters(emulator: RunningEmulator) -> None:
    async with emulator.http(headers=emulator.graph_headers()) as h:
        ok = await h.post(
            "/v1.0/applications", json={"@odata.type": "#microsoft.graph.application", "displayName": "typed"}
        )
        assert ok.status_code == 201
        wrong = await h.post(
            "/v1.0/applications", json={"@odata.type": "#microsoft.graph.user", "displayName": "typed"}
        )
        assert wrong.status_code == 400
        bad = await h.get("/v1.0/applications", params={"$filter": "displayName foo 'x'"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "Request_UnsupportedQuery"
        assert set(bad.json()["error"]["innerError"]) == {"date", "request-id", "client-request-id"}
        spaced = await h.patch(
            "/v1.0/applications(uniqueName='with%20space')",
            json={"displayName": "s"},
            headers={"Prefer": "create-if-missing"},
        )
        assert spaced.status_code == 201
        assert spaced.json()["uniqueName"] == "with space"


async def test_passwords_and_permission_grants(emulator: RunningEmulator) -> None:
    async with emulator.http(headers=emulator.graph_headers()) as h:
        app = (await h.post("/v1.0/applications", json={"displayName": "confidential"})).json()
        added = await h.post(
            f"/v1.0/applications/{app['id']}/addPassword", json={"passwordCredential": {"displayName": "ci"}}
        )
        assert added.status_code == 200
        secret = added.json()["secretText"]
        assert len(secret) >= 30
        shown = (await h.get(f"/v1.0/applications/{app['id']}")).json()
        assert [c["secretText"] for c in shown["passwordCredentials"]] == [None]
        assert secret not in (await h.get("/v1.0/applications")).text
        removed = await h.post(
            f"/v1.0/applications/{app['id']}/removePassword", json={"keyId": added.json()["keyId"]}
        )
        assert removed.status_code == 204
        sp = (await h.post("/v1.0/servicePrincipals", json={"appId": app["appId"]})).json()
        grant = await h.post(
            "/v1.0/oauth2PermissionGrants",
            json={
                "clientId": sp["id"],
                "consentType": "AllPrincipals",
                "resourceId": sp["id"],
                "scope": "User.Read",
            },
        )
        assert grant.status_code == 201
        missing = await h.post(
            "/v1.0/oauth2PermissionGrants",
            json={"clientId": sp["id"], "consentType": "AllPrincipals", "resourceId": "nope", "scope": "x"},
        )
        assert missing.status_code == 404
        listed = await h.get("/v1.0/oauth2PermissionGrants", params={"$filter": f"clientId eq '{sp['id']}'"})
        assert [g["scope"] for g in listed.json()["value"]] == ["User.Read"]


async def test_deleted_items_hold_names_until_purged(emulator: RunningEmulator) -> None:
    async with emulator.graph_client() as graph:
        uri = f"api://{uuid.uuid4()}"
        app = await graph.applications.post(Application(display_name="soft", identifier_uris=[uri]))
        sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
        await graph.applications.by_application_id(app.id).delete()
        deleted = await graph.directory.deleted_items.by_directory_object_id(app.id).get()
        assert deleted.id == app.id
        assert deleted.deleted_date_time is not None
        assert (await graph.directory.deleted_items.by_directory_object_id(sp.id).get()).id == sp.id
        with pytest.raises(ODataError, match="identifierUris"):
            await graph.applications.post(Application(display_name="again", identifier_uris=[uri]))
        await graph.directory.deleted_items.by_directory_object_id(app.id).delete()
        with pytest.raises(ODataError) as purged:
            await graph.directory.deleted_items.by_directory_object_id(app.id).get()
        assert purged.value.response_status_code == 404
        again = await graph.applications.post(Application(display_name="again", identifier_uris=[uri]))
        # restore brings a deleted object back
        await graph.applications.by_application_id(again.id).delete()
        restored = await graph.directory.deleted_items.by_directory_object_id(again.id).restore.post()
        assert restored.id == again.id
        assert (await graph.applications.by_application_id(again.id).get()).identifier_uris == [uri]
