"""Provider for the admin consent of a lab app's delegated permissions: a Microsoft Graph
``oauth2PermissionGrant`` with ``consentType: AllPrincipals`` (``required_resource_access[*]
.admin_consent: true`` in lab.yaml).

Why: an app that calls an API on behalf of its users (the MCP server: Graph ``/me`` through
on-behalf-of) needs consent for the delegated permissions it declares; declaring them in
``requiredResourceAccess`` grants nothing, and on-behalf-of cannot ask the user (Learn, "OAuth
2.0 On-Behalf-Of flow", #gaining-consent-for-the-middle-tier-application: admin consent, or
pre-authorized applications, or combined consent). The grant is what the portal's "Grant admin
consent" button writes: ``clientId`` = the app's service principal id, ``resourceId`` = the
resource's service principal id (Microsoft Graph's exists in every tenant, found by its appId),
``scope`` = the granted permissions' *values* (``User.Read``), read from the resource service
principal's ``oauth2PermissionScopes`` by the ids lab.yaml lists (Learn, Graph "Create
oAuth2PermissionGrant", https://learn.microsoft.com/graph/api/oauth2permissiongrant-post).

Who may: Graph needs ``DelegatedPermissionGrant.ReadWrite.All`` and, for a signed-in user, one of
the roles the operation supports (Application Administrator, Application Developer, Cloud
Application Administrator, Directory Writers, Privileged Role Administrator, User Administrator —
Graph's reference, rbac-oauth2permissiongrant-apis-write); Learn's least-privileged role for
"Consent to any delegated permissions" is Cloud Application Administrator (Learn, "Least
privileged roles by task", Enterprise applications) — only *application* permissions of Microsoft
Graph need Privileged Role Administrator.

Ownership: a grant has no tags. It belongs to its client service principal's owner, as policies,
diagnostics and federated credentials belong to their parent's: an ``AllPrincipals`` grant whose
``clientId`` is the service principal of an app the lab owns is the lab's (prune and destroy
delete it; a grant lab.yaml no longer declares is removed). Per-user grants (``Principal``: a
user's own consent) are the users', never touched. Replication: a new grant is not honoured at
once (Graph: "This request might have replication delays for delegated permission grants that
were recently created"); ``create`` waits (bounded) until it reads it back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import PermanentError, TemporaryError
from orchestrator.kinds import Kind
from orchestrator.providers.base import diff_owned
from orchestrator.providers.common import (
    Key,
    assign,
    delete_ignoring_missing,
    gather,
    get_or_none,
    key_of,
    keyed,
)
from orchestrator.providers.entra import GraphProvider, graph_query, pages, same_set, wait_visible
from orchestrator.providers.errors import translating
from orchestrator.resource import Actual, Desired, FieldChange

if TYPE_CHECKING:
    from orchestrator.spec.models import RequiredResourceAccess

ALL_PRINCIPALS = "AllPrincipals"


def _address_parts(address: str) -> tuple[str, str]:
    """``permission_grant.<app key>.<resource app id>`` -> (app key, resource app id)."""
    parts = address.split(".")
    if len(parts) != 3:
        raise PermanentError(address, "cannot tell which app and API this grant is for")
    return parts[1], parts[2]


class PermissionGrantProvider(GraphProvider):
    kind = Kind.PERMISSION_GRANT

    def desired(self, address: str, spec: RequiredResourceAccess, resolved: Mapping[str, Any]) -> Desired:
        app_key, _ = _address_parts(address)
        unique = self.ctx.app_unique_names.get(app_key, app_key)
        props = {
            "@app": unique,
            "@resource_app_id": str(spec.resource_app_id),
            "consentType": ALL_PRINCIPALS,
            "scopes": sorted(str(s) for s in spec.scopes),
        }
        return Desired(address, self.kind, str(spec.resource_app_id), props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return diff_owned(desired.properties, actual.properties, compare={"scopes": same_set})

    # -- Graph lookups (memoized for one read phase)

    async def _fetch_sp(self, app_id: str) -> Any | None:
        return await get_or_none(
            # on a private copy of the client's path parameters (``keyed``): concurrent reads of two
            # apps' principals otherwise both asked for the app id written last
            f"service principal of {app_id}",
            keyed(self.graph, "service_principals_with_app_id", app_id).get,
        )

    async def _sp_by_app_id(self, app_id: str) -> Any | None:
        result: Any | None = await self.ctx.memo.get(
            f"sp-app:{app_id.lower()}", lambda: self._fetch_sp(app_id)
        )
        return result

    async def _sp_by_id(self, object_id: str) -> Any | None:
        async def load() -> Any | None:
            builder = self.graph.service_principals.by_service_principal_id(object_id)
            return await get_or_none(f"service principal {object_id}", builder.get)

        result: Any | None = await self.ctx.memo.get(f"sp-id:{object_id}", load)
        return result

    async def _grants_of(self, client_sp_id: str) -> list[Any]:
        with translating(f"oauth2PermissionGrants of {client_sp_id}"):
            first = await self.graph.oauth2_permission_grants.get(
                request_configuration=graph_query(
                    "msgraph.generated.oauth2_permission_grants.oauth2_permission_grants_request_builder",
                    "Oauth2PermissionGrantsRequestBuilder",
                    filter=f"clientId eq '{client_sp_id}'",
                )
            )
            return await pages(first, self.graph.oauth2_permission_grants.with_url)

    @staticmethod
    def _ids_of(resource_sp: Any, values: list[str]) -> list[str]:
        """Permission values (``User.Read``) -> their ids on the resource (unknown values kept)."""
        by_value = {str(s.value).lower(): str(s.id) for s in resource_sp.oauth2_permission_scopes or []}
        return sorted(by_value.get(v.lower(), v) for v in values)

    @staticmethod
    def _values_of(resource_sp: Any, ids: list[str], address: str) -> str:
        by_id = {str(s.id).lower(): str(s.value) for s in resource_sp.oauth2_permission_scopes or []}
        unknown = [i for i in ids if i.lower() not in by_id]
        if unknown:
            raise PermanentError(
                address,
                f"{resource_sp.display_name or resource_sp.app_id} has no delegated permission "
                f"(scope) with id {', '.join(unknown)}",
            )
        return " ".join(sorted(by_id[i.lower()] for i in ids))

    def _actual(self, grant: Any, unique: str, resource_sp: Any) -> Actual:
        props = {
            "@app": unique,
            "@resource_app_id": str(resource_sp.app_id),
            "consentType": grant.consent_type,
            "scopes": self._ids_of(resource_sp, str(grant.scope or "").split()),
        }
        outputs = {"id": grant.id, "scope": grant.scope}
        return Actual("", self.kind, str(resource_sp.app_id), props, outputs, True, grant.id)

    # -- the contract

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        apps = {str(a.app_id).lower(): str(a.unique_name) for a in await self.owned_apps()}
        clients = [sp for sp in await gather(self.ctx, list(apps), self._sp_by_app_id) if sp is not None]
        lists = await gather(self.ctx, [str(sp.id) for sp in clients], self._grants_of)
        found: list[tuple[Key, Actual]] = []
        for client, grants in zip(clients, lists, strict=True):
            unique = apps[str(client.app_id).lower()]
            for grant in grants:
                if grant.consent_type != ALL_PRINCIPALS:
                    continue  # a user's own consent is the user's
                resource = await self._sp_by_id(str(grant.resource_id))
                if resource is None:
                    continue
                found.append((key_of(unique, str(resource.app_id)), self._actual(grant, unique, resource)))
        return assign(
            self.kind,
            addresses,
            found,
            lambda d: key_of(str(d.properties["@app"]), str(d.properties["@resource_app_id"])),
        )

    async def _parties(self, desired: Desired) -> tuple[Any, Any]:
        """(client service principal, resource service principal) of a desired grant."""
        app = await self.visible_app(str(desired.properties["@app"]), desired.address)
        client = await wait_visible(desired.address, lambda: self._fetch_sp(str(app.app_id)))
        resource_app_id = str(desired.properties["@resource_app_id"])
        resource = await self._fetch_sp(resource_app_id)
        if resource is None:
            raise PermanentError(
                desired.address,
                f"the API {resource_app_id} has no service principal in this tenant: nothing to consent to",
            )
        return client, resource

    async def create(self, desired: Desired) -> Actual:
        from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant

        client, resource = await self._parties(desired)
        scope = self._values_of(resource, list(desired.properties["scopes"]), desired.address)
        # Idempotent: a retry after a lost response finds the grant it made.
        for grant in await self._grants_of(str(client.id)):
            if grant.consent_type == ALL_PRINCIPALS and str(grant.resource_id) == str(resource.id):
                actual = self._actual(grant, str(desired.properties["@app"]), resource)
                return await self.update(desired, dataclasses.replace(actual, address=desired.address))
        body = OAuth2PermissionGrant(
            client_id=str(client.id), consent_type=ALL_PRINCIPALS, resource_id=str(resource.id), scope=scope
        )
        with translating(desired.address):
            made = await self.graph.oauth2_permission_grants.post(body)
        self.ctx.memo.clear()
        if made is None or not made.id:
            raise TemporaryError(desired.address, "Graph answered the grant without its id")
        grant = await self._replicated(desired.address, str(made.id))
        actual = self._actual(grant, str(desired.properties["@app"]), resource)
        return dataclasses.replace(actual, address=desired.address)

    async def _replicated(self, address: str, grant_id: str) -> Any:
        """Wait (bounded) until the new grant reads back: until then the directory does not
        honour it either, and a sign-in right away would still be refused (AADSTS65001)."""
        builder = self.graph.oauth2_permission_grants.by_o_auth2_permission_grant_id(grant_id)
        return await wait_visible(address, lambda: get_or_none(address, builder.get))

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant

        _, resource = await self._parties(desired)
        scope = self._values_of(resource, list(desired.properties["scopes"]), desired.address)
        builder = self.graph.oauth2_permission_grants.by_o_auth2_permission_grant_id(str(actual.handle))
        with translating(desired.address):
            await builder.patch(OAuth2PermissionGrant(scope=scope))
        self.ctx.memo.clear()
        props = {**actual.properties, "scopes": sorted(desired.properties["scopes"])}
        outputs = {**actual.outputs, "scope": scope}
        return dataclasses.replace(
            actual, address=desired.address, properties=props, outputs=outputs, owned=True
        )

    async def delete(self, actual: Actual) -> None:
        builder = self.graph.oauth2_permission_grants.by_o_auth2_permission_grant_id(str(actual.handle))
        await delete_ignoring_missing(actual.address, builder.delete)
        self.ctx.memo.clear()
