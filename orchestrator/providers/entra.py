"""Providers for Microsoft Entra app registrations through msgraph-sdk, and the Graph helpers
(``GraphProvider``, paging, replication wait, purge) that ``entra_principals`` (service principals,
federated identity credentials) shares.

Flow:
* read — one filtered list for the lab's apps (``tags/any(t:t eq 'prmlab-lab:<lab>')``), one for
  its service principals, one federated-credential list per owned app; an app the spec names
  that the list did not return is looked up by ``uniqueName`` (one GET, only when it would be
  created) so a same-named app the lab does not own is reported ``owned=False``.
* create / update of an app — an upsert on its ``uniqueName``
  (``PATCH /applications(uniqueName='…')`` with ``Prefer: create-if-missing``): a retry after a
  lost response can never create a second app.
* Entra replication — a just-created app can stay invisible for seconds; whoever needs it
  (service principal, federated credential) polls for it with bounded backoff, never a fixed sleep.
* delete — the app (or service principal), then its soft-deleted copy in ``directory/deletedItems``.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from orchestrator.errors import PermanentError, TemporaryError
from orchestrator.kinds import Kind
from orchestrator.providers.base import (
    diff_owned,
    graph_mark,
    graph_owners,
    stable_uuid,
)
from orchestrator.providers.common import (
    Context,
    Key,
    assign,
    delete_ignoring_missing,
    gather,
    get_or_none,
    key_of,
    keyed,
)
from orchestrator.providers.errors import translating
from orchestrator.resolve import contains_unknown, substitute
from orchestrator.resource import Actual, Desired, FieldChange

if TYPE_CHECKING:
    from msgraph import GraphServiceClient

    from orchestrator.spec.models import EntraApp

T = TypeVar("T")

REPLICATION_TIMEOUT_S = 60.0


async def wait_visible(
    what: str,
    fetch: Callable[[], Awaitable[T | None]],
    limit_s: float = REPLICATION_TIMEOUT_S,
    first_delay: float = 0.1,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> T:
    """Poll ``fetch`` (None = not visible yet) with exponential backoff until it returns a value.

    Bounded by ``limit_s``; then a ``TemporaryError`` lets the executor retry the node later.
    ``clock``/``sleep`` are injectable so that tests count polls without real time.
    """
    delay = first_delay
    deadline = clock() + limit_s
    while True:
        found = await fetch()
        if found is not None:
            return found
        if clock() + delay > deadline:
            raise TemporaryError(
                what, f"not visible after {limit_s:.0f} s (directory replication)", delay=1.0
            )
        await sleep(delay)
        delay = min(delay * 2, 2.0)


def graph_query(builder_module: str, cls_name: str, **params: Any) -> Any:
    """A kiota request configuration with query parameters (lazy import of the SDK module)."""
    import importlib

    from kiota_abstractions.base_request_configuration import RequestConfiguration

    module = importlib.import_module(builder_module)
    outer = getattr(module, cls_name)
    qp = getattr(outer, f"{cls_name}GetQueryParameters")(**params)
    return RequestConfiguration(query_parameters=qp)


async def pages(first: Any, with_url: Callable[[str], Any]) -> list[Any]:
    items: list[Any] = list(first.value or []) if first is not None else []
    next_link = getattr(first, "odata_next_link", None)
    for _ in range(10_000):  # bounded: a page chain that never ends is a target bug
        if not next_link:
            break
        page = await with_url(next_link).get()
        items.extend(page.value or [])
        next_link = getattr(page, "odata_next_link", None)
    return items


def filter_tag(lab: str) -> str:
    return f"tags/any(t:t eq '{graph_mark(lab)}')"


def _s(value: Any) -> Any:
    """Graph model values to plain comparable data (UUID -> str)."""
    return str(value) if isinstance(value, uuid.UUID) else value


class GraphProvider:
    kind = ""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def graph(self) -> Any:
        return self.ctx.clients.graph

    async def owned_apps(self) -> list[Any]:
        async def load() -> list[Any]:
            with translating("entra.apps"):
                first = await self.graph.applications.get(
                    request_configuration=graph_query(
                        "msgraph.generated.applications.applications_request_builder",
                        "ApplicationsRequestBuilder",
                        filter=filter_tag(self.ctx.lab),
                        top=999,
                    )
                )
                return await pages(first, self.graph.applications.with_url)

        return await self.ctx.memo.get("graph-apps", load)

    async def app_by_unique_name(self, unique_name: str) -> Any | None:
        builder = keyed(self.graph, "applications_with_unique_name", unique_name)
        return await get_or_none(f"entra app {unique_name}", builder.get)

    async def visible_app(self, unique_name: str, address: str) -> Any:
        return await wait_visible(address, lambda: self.app_by_unique_name(unique_name))


# ------------------------------------------------------------------------------- applications


def app_properties(app: EntraApp, resolved: Mapping[str, Any], lab: str) -> dict[str, Any]:
    """The Graph fields the spec owns, as flat camelCase paths, references substituted (pure)."""
    unique = app.unique_name
    scopes = []
    scope_ids: dict[str, str] = {}
    for scope in app.scopes:
        sid = str(scope.id or stable_uuid(unique, "scope", scope.value))
        scope_ids[scope.value] = sid
        scopes.append(
            {
                "id": sid,
                "value": scope.value,
                "type": scope.type,
                "adminConsentDisplayName": scope.admin_consent_display_name,
                "adminConsentDescription": scope.admin_consent_description,
                "userConsentDisplayName": scope.user_consent_display_name,
                "userConsentDescription": scope.user_consent_description,
                "isEnabled": scope.enabled,
            }
        )
    pre_authorized = [
        {
            "appId": str(client.app_id),
            "delegatedPermissionIds": sorted(
                scope_ids.get(v, stable_uuid(unique, "scope", v)) for v in client.scopes
            ),
        }
        for client in app.pre_authorized_clients
    ]
    required = [
        {
            "resourceAppId": str(r.resource_app_id),
            "resourceAccess": [{"id": str(i), "type": "Scope"} for i in r.scopes]
            + [{"id": str(i), "type": "Role"} for i in r.app_roles],
        }
        for r in app.required_resource_access
    ]
    return {
        "displayName": app.display_name,
        "signInAudience": app.sign_in_audience,
        "identifierUris": substitute(app.identifier_uris, resolved),
        "api.requestedAccessTokenVersion": app.access_token_version,
        "api.oauth2PermissionScopes": scopes,
        "api.preAuthorizedApplications": pre_authorized,
        "spa.redirectUris": substitute(app.spa.redirect_uris, resolved),
        "web.redirectUris": substitute(app.web.redirect_uris, resolved),
        "publicClient.redirectUris": substitute(app.public_client.redirect_uris, resolved),
        "requiredResourceAccess": required,
        "tags": [graph_mark(lab)],
    }


def app_actual_properties(app: Any) -> dict[str, Any]:
    """The same fields read back from an ``Application`` model."""
    api = app.api
    scopes = [
        {
            "id": _s(s.id),
            "value": s.value,
            "type": s.type,
            "adminConsentDisplayName": s.admin_consent_display_name,
            "adminConsentDescription": s.admin_consent_description,
            "userConsentDisplayName": s.user_consent_display_name,
            "userConsentDescription": s.user_consent_description,
            "isEnabled": s.is_enabled,
        }
        for s in (api.oauth2_permission_scopes or [] if api else [])
    ]
    pre = [
        {
            "appId": p.app_id,
            "delegatedPermissionIds": sorted(str(i) for i in p.delegated_permission_ids or []),
        }
        for p in (api.pre_authorized_applications or [] if api else [])
    ]
    required = [
        {
            "resourceAppId": r.resource_app_id,
            "resourceAccess": [{"id": _s(a.id), "type": a.type} for a in r.resource_access or []],
        }
        for r in app.required_resource_access or []
    ]
    return {
        "displayName": app.display_name,
        "signInAudience": app.sign_in_audience,
        "identifierUris": list(app.identifier_uris or []),
        "api.requestedAccessTokenVersion": api.requested_access_token_version if api else None,
        "api.oauth2PermissionScopes": scopes,
        "api.preAuthorizedApplications": pre,
        "spa.redirectUris": list(app.spa.redirect_uris or []) if app.spa else [],
        "web.redirectUris": list(app.web.redirect_uris or []) if app.web else [],
        "publicClient.redirectUris": list(app.public_client.redirect_uris or []) if app.public_client else [],
        "requiredResourceAccess": required,
        "tags": list(app.tags or []),
    }


def same_set(want: Any, have: Any) -> bool:
    """Graph keeps URI lists as sets: order is not drift."""
    if not isinstance(want, list) or not isinstance(have, list | type(None)):
        return bool(want == have)
    return sorted(map(str, want)) == sorted(map(str, have or []))


def has_all(want: Any, have: Any) -> bool:
    """Our tags must be present; tags others add are theirs."""
    return isinstance(want, list) and set(want) <= set(have or [])


def _by_key(key: str) -> Callable[[Any, Any], bool]:
    def compare(want: Any, have: Any) -> bool:
        from orchestrator.providers.base import subset_equal

        if not isinstance(want, list) or not isinstance(have, list | type(None)):
            return False
        have_by = {str(h.get(key)): h for h in have or []}
        return len(have or []) == len(want) and all(
            subset_equal(w, have_by.get(str(w.get(key)))) for w in want
        )

    return compare


APP_COMPARE = {
    "identifierUris": same_set,
    "spa.redirectUris": same_set,
    "web.redirectUris": same_set,
    "publicClient.redirectUris": same_set,
    "tags": has_all,
    "api.oauth2PermissionScopes": _by_key("id"),
    "api.preAuthorizedApplications": _by_key("appId"),
    "requiredResourceAccess": _by_key("resourceAppId"),
}


def disable_first(actual: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any] | None:
    """The write that must come before ``desired`` when it removes or changes (value, type) an
    enabled scope: the app as it is, those scopes disabled and no longer pre-authorized (pure;
    None when nothing needs it). Graph refuses the direct change with 400
    ``CannotDeleteOrUpdateEnabledEntitlement`` ("Permission (scope) cannot be deleted or updated
    unless disabled first"). permissionScope resource type, isEnabled
    (https://learn.microsoft.com/graph/api/resources/permissionscope): "To delete a permission,
    this property must first be set to false. At that point, in a subsequent call, the permission
    may be removed."""
    old = [s for s in actual.get("api.oauth2PermissionScopes") or [] if isinstance(s, dict)]
    new = {
        str(s.get("id")): s for s in desired.get("api.oauth2PermissionScopes") or [] if isinstance(s, dict)
    }
    doomed = {
        str(s.get("id"))
        for s in old
        if s.get("isEnabled", True)
        and (
            str(s.get("id")) not in new
            or any(new[str(s.get("id"))].get(k) != s.get(k) for k in ("value", "type"))
        )
    }
    if not doomed:
        return None
    pre = [
        {
            **p,
            "delegatedPermissionIds": [
                i for i in p.get("delegatedPermissionIds") or [] if str(i) not in doomed
            ],
        }
        for p in actual.get("api.preAuthorizedApplications") or []
        if isinstance(p, dict)
    ]
    return {
        **{k: v for k, v in desired.items() if k.startswith("@")},
        "displayName": actual.get("displayName"),
        "signInAudience": actual.get("signInAudience"),
        "tags": desired.get("tags") or actual.get("tags") or [],
        "api.requestedAccessTokenVersion": actual.get("api.requestedAccessTokenVersion"),
        "api.oauth2PermissionScopes": [
            {**s, "isEnabled": False} if str(s.get("id")) in doomed else s for s in old
        ],
        "api.preAuthorizedApplications": [p for p in pre if p["delegatedPermissionIds"]],
    }


def application_model(props: Mapping[str, Any]) -> Any:
    """An msgraph ``Application`` body from the flat properties (every field the spec owns)."""
    from msgraph.generated.models.api_application import ApiApplication
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.permission_scope import PermissionScope
    from msgraph.generated.models.pre_authorized_application import PreAuthorizedApplication
    from msgraph.generated.models.public_client_application import PublicClientApplication
    from msgraph.generated.models.required_resource_access import RequiredResourceAccess
    from msgraph.generated.models.resource_access import ResourceAccess
    from msgraph.generated.models.spa_application import SpaApplication
    from msgraph.generated.models.web_application import WebApplication

    app = Application(
        display_name=props.get("displayName"),
        sign_in_audience=props.get("signInAudience"),
        tags=list(props.get("tags") or []),
    )
    # Only the fields present are sent (a PATCH leaves the others alone): the engine drops
    # late-bound fields (redirect URIs naming the server) from the first write.
    if "identifierUris" in props:
        app.identifier_uris = list(props["identifierUris"])
    if any(k.startswith("api.") for k in props):
        app.api = ApiApplication(requested_access_token_version=props.get("api.requestedAccessTokenVersion"))
        if "api.oauth2PermissionScopes" in props:
            app.api.oauth2_permission_scopes = [
                PermissionScope(
                    id=uuid.UUID(s["id"]),
                    value=s["value"],
                    type=s["type"],
                    admin_consent_display_name=s["adminConsentDisplayName"],
                    admin_consent_description=s["adminConsentDescription"],
                    user_consent_display_name=s["userConsentDisplayName"],
                    user_consent_description=s["userConsentDescription"],
                    is_enabled=s["isEnabled"],
                )
                for s in props["api.oauth2PermissionScopes"]
            ]
        if "api.preAuthorizedApplications" in props:
            app.api.pre_authorized_applications = [
                PreAuthorizedApplication(
                    app_id=p["appId"], delegated_permission_ids=list(p["delegatedPermissionIds"])
                )
                for p in props["api.preAuthorizedApplications"]
            ]
    if "spa.redirectUris" in props:
        app.spa = SpaApplication(redirect_uris=list(props["spa.redirectUris"]))
    if "web.redirectUris" in props:
        app.web = WebApplication(redirect_uris=list(props["web.redirectUris"]))
    if "publicClient.redirectUris" in props:
        app.public_client = PublicClientApplication(redirect_uris=list(props["publicClient.redirectUris"]))
    if "requiredResourceAccess" in props:
        app.required_resource_access = [
            RequiredResourceAccess(
                resource_app_id=r["resourceAppId"],
                resource_access=[
                    ResourceAccess(id=uuid.UUID(a["id"]), type=a["type"]) for a in r["resourceAccess"]
                ],
            )
            for r in props["requiredResourceAccess"]
        ]
    return app


def app_outputs(app: Any, props: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs as ``orchestrator.spec.refs`` defines them (scope = (identifier URI, else client
    id) + "/" + the first exposed scope)."""
    client_id = app.app_id
    uris = list(app.identifier_uris or [])
    scopes = props.get("api.oauth2PermissionScopes") or []
    base = uris[0] if uris else client_id
    return {
        "client_id": client_id,
        "object_id": app.id,
        "identifier_uri": uris[0] if uris else None,
        "scope": f"{base}/{scopes[0]['value']}" if scopes and base else None,
        "unique_name": app.unique_name,
    }


def known_only(desired: Desired) -> dict[str, Any]:
    """The properties to write now: list items still UNKNOWN are left out (late-bound redirect
    URIs are set by a later update, see ``orchestrator.graph``); an UNKNOWN scalar is an error."""
    out: dict[str, Any] = {}
    for path, value in desired.properties.items():
        if isinstance(value, list):
            value = [v for v in value if not contains_unknown(v)]
        elif not path.startswith("@") and contains_unknown(value):
            raise PermanentError(desired.address, f"cannot write while {path} is not known yet")
        out[path] = value
    return out


class EntraAppProvider(GraphProvider):
    kind = Kind.ENTRA_APP

    def desired(self, address: str, spec: EntraApp, resolved: Mapping[str, Any]) -> Desired:
        return Desired(address, self.kind, spec.unique_name, app_properties(spec, resolved, self.ctx.lab))

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return diff_owned(desired.properties, actual.properties, compare=APP_COMPARE)

    def _actual(self, app: Any) -> Actual:
        props = app_actual_properties(app)
        owned = graph_mark(self.ctx.lab) in (app.tags or [])
        return Actual(
            "",
            self.kind,
            str(app.unique_name),
            props,
            app_outputs(app, props),
            owned,
            app.id,
            owners=graph_owners(app.tags, self.ctx.lab),
        )

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        found: list[tuple[Key, Actual]] = []
        seen: set[str] = set()
        for app in await self.owned_apps():
            if app.unique_name:
                seen.add(str(app.unique_name).lower())
                found.append((key_of(str(app.unique_name)), self._actual(app)))
        # Apps the spec names that the lab does not own (yet): one GET each, only these.
        missing = [d.name for d in addresses.values() if d is not None and d.name.lower() not in seen]
        for other in await gather(self.ctx, missing, self.app_by_unique_name):
            if other is not None:
                found.append((key_of(str(other.unique_name)), self._actual(other)))
        return assign(self.kind, addresses, found, lambda d: key_of(d.name))

    async def _upsert(self, desired: Desired) -> tuple[Any, dict[str, Any]]:
        """PATCH by uniqueName with ``Prefer: create-if-missing``: the entity on 201, None on 204."""
        from kiota_abstractions.base_request_configuration import RequestConfiguration

        props = known_only(desired)
        config: Any = RequestConfiguration()
        # The SDK has no option for the upsert header: set it on the request configuration.
        config.headers.add("Prefer", "create-if-missing")
        builder = keyed(self.graph, "applications_with_unique_name", desired.name)
        with translating(desired.address):
            app = await builder.patch(application_model(props), request_configuration=config)
        self.ctx.memo.clear()
        return (app if app is not None and app.app_id else None), props

    async def create(self, desired: Desired) -> Actual:
        app, _ = await self._upsert(desired)
        if app is None:  # 204: it already existed (a retry after a lost response); read it back
            app = await self.visible_app(desired.name, desired.address)
        return dataclasses.replace(self._actual(app), address=desired.address, owned=True)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        # Keep tags others set (a PATCH replaces the whole list): ours are added, never theirs removed.
        tags = [*(actual.properties.get("tags") or [])]
        tags += [t for t in desired.properties.get("tags") or [] if t not in tags]
        desired = dataclasses.replace(desired, properties={**desired.properties, "tags": tags})
        disabling = disable_first(actual.properties, desired.properties)
        if disabling is not None:
            # Graph's sequence: an enabled scope is neither removed nor changed; disable it first
            await self._upsert(dataclasses.replace(desired, properties=disabling))
        app, written = await self._upsert(desired)
        if app is not None:
            return dataclasses.replace(self._actual(app), address=desired.address, owned=True)
        # 204: updated in place. No read-back: a just-created app may still be replicating.
        props = {**actual.properties, **{k: v for k, v in written.items() if not k.startswith("@")}}
        outputs = dict(actual.outputs)
        uris = props.get("identifierUris") or []
        outputs["identifier_uri"] = uris[0] if uris else None
        scopes = props.get("api.oauth2PermissionScopes") or []
        base = outputs["identifier_uri"] or outputs.get("client_id")
        outputs["scope"] = f"{base}/{scopes[0]['value']}" if scopes and base else None
        return dataclasses.replace(
            actual, address=desired.address, properties=props, outputs=outputs, owned=True
        )

    async def delete(self, actual: Actual) -> None:
        object_id = str(actual.handle)
        await delete_ignoring_missing(
            actual.address, self.graph.applications.by_application_id(object_id).delete
        )
        await purge_deleted(self.graph, object_id, actual.address)
        self.ctx.memo.clear()


async def purge_deleted(graph: GraphServiceClient, object_id: str, address: str) -> None:
    """Entra keeps deleted apps and principals 30 days in ``directory/deletedItems``: purge the
    copy. Best effort: the object is already deleted; a directory that refuses the purge (no
    permission, no soft delete) leaves nothing of ours active. Temporary errors still propagate
    so the executor retries the whole (idempotent) delete."""
    item = graph.directory.deleted_items.by_directory_object_id(object_id)
    try:
        await delete_ignoring_missing(address, item.delete)
    except PermanentError:
        return


def ensure_known(desired: Desired) -> None:
    unknown = [p for p, v in desired.properties.items() if not p.startswith("@") and contains_unknown(v)]
    if unknown:
        raise PermanentError(desired.address, f"cannot write while {', '.join(unknown)} is not known yet")
