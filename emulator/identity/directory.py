"""The directory as the identity service sees it: read-only views over the store.

Where it sits: the Graph layer writes applications, service principals, federated identity
credentials, users and permission grants (``graph/<collection>``, Graph JSON); the ARM layer
writes managed identities and container apps (ARM GET JSON); the runner writes
``runner/identity-header`` records. This module reads them and turns them into small frozen
views (``App``, ``User``, ``FederatedCredential``, ``ManagedIdentity``) that the pure parts of
the identity service (scope resolution, claims) work with. Nothing here writes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from emulator.identity import wellknown
from emulator.store import Store

RedirectKind = Literal["spa", "web", "publicClient"]


@dataclass(frozen=True, slots=True)
class Scope:
    id: str
    value: str
    type: str  # "User" or "Admin"
    enabled: bool
    consent_name: str
    consent_description: str


@dataclass(frozen=True, slots=True)
class App:
    """An application registration (or a first-party resource such as Microsoft Graph)."""

    object_id: str
    app_id: str
    display_name: str
    identifier_uris: tuple[str, ...]
    scopes: tuple[Scope, ...]
    roles: tuple[str, ...]
    preauthorized: Mapping[str, frozenset[str]]  # client appId -> permission ids
    redirect_uris: Mapping[RedirectKind, tuple[str, ...]]
    required_access: Mapping[str, frozenset[str]]  # resource appId -> delegated permission ids
    token_version: int  # 1 or 2 (api.requestedAccessTokenVersion; null means 1)
    secret_digests: tuple[str, ...]  # sha256 hex of client secrets
    secret_plain: tuple[str, ...]
    first_party: bool = False

    def scope(self, value: str) -> Scope | None:
        for s in self.scopes:
            if s.value == value:
                return s
        return None

    def scope_by_id(self, scope_id: str) -> Scope | None:
        for s in self.scopes:
            if s.id == scope_id:
                return s
        return None

    @property
    def is_confidential_capable(self) -> bool:
        return bool(self.secret_digests or self.secret_plain)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    upn: str
    display_name: str
    mail: str | None
    password_hash: str | None = None  # passwordProfile.passwordHash (scrypt); never the password


@dataclass(frozen=True, slots=True)
class FederatedCredential:
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ManagedIdentity:
    resource_id: str  # lower-cased ARM id of the user-assigned identity
    principal_id: str
    client_id: str
    tenant_id: str | None


GRAPH_APP = App(
    object_id=wellknown.GRAPH_APP_ID,
    app_id=wellknown.GRAPH_APP_ID,
    display_name="Microsoft Graph",
    identifier_uris=(wellknown.GRAPH_RESOURCE, wellknown.GRAPH_RESOURCE + "/"),
    scopes=tuple(
        Scope(pid, value, "User", True, value, f"Microsoft Graph permission {value}")
        for value, pid in wellknown.GRAPH_DELEGATED_SCOPES.items()
    ),
    roles=(),
    preauthorized={},
    redirect_uris={},
    required_access={},
    token_version=2,
    secret_digests=(),
    secret_plain=(),
    first_party=True,
)

# First-party public clients that exist in every tenant (the lab pre-authorises VS Code).
_VSCODE = App(
    object_id=wellknown.VSCODE_CLIENT_ID,
    app_id=wellknown.VSCODE_CLIENT_ID,
    display_name="Visual Studio Code",
    identifier_uris=(),
    scopes=(),
    roles=(),
    preauthorized={},
    redirect_uris={"publicClient": ("http://127.0.0.1/", "http://localhost/", "https://vscode.dev/redirect")},
    required_access={},
    token_version=2,
    secret_digests=(),
    secret_plain=(),
    first_party=True,
)
# Azure Resource Manager: a resource (no scopes of its own here; clients ask for ``.default``).
# A v1 API: its tokens carry the resource URI as requested as ``aud`` (Learn, "Access token claims
# reference": "In v1.0 tokens, it can be the client ID or the resource URI used in the request"),
# and ARM accepts only its four URI forms, never its app id (``wellknown.ARM_AUDIENCES``).
ARM_APP = App(
    object_id=wellknown.ARM_APP_ID,
    app_id=wellknown.ARM_APP_ID,
    display_name="Windows Azure Service Management API",
    identifier_uris=wellknown.ARM_AUDIENCES,
    scopes=(),
    roles=(),
    preauthorized={},
    redirect_uris={},
    required_access={},
    token_version=1,
    secret_digests=(),
    secret_plain=(),
    first_party=True,
)
FIRST_PARTY: Mapping[str, App] = {
    GRAPH_APP.app_id: GRAPH_APP,
    _VSCODE.app_id: _VSCODE,
    ARM_APP.app_id: ARM_APP,
}
OPERATOR_KIND = "identity/operator"  # the local operator (``emulator.identity.operator``)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _app_from_graph(body: Mapping[str, Any]) -> App:
    api = body.get("api") or {}
    scopes = tuple(
        Scope(
            id=_str(s.get("id")),
            value=_str(s.get("value")),
            type=_str(s.get("type")) or "User",
            enabled=s.get("isEnabled", True) is not False,
            consent_name=_str(s.get("userConsentDisplayName")) or _str(s.get("adminConsentDisplayName")),
            consent_description=_str(s.get("userConsentDescription"))
            or _str(s.get("adminConsentDescription")),
        )
        for s in api.get("oauth2PermissionScopes") or []
    )
    pre = {
        _str(p.get("appId")).lower(): frozenset(_str(x) for x in p.get("delegatedPermissionIds") or [])
        for p in api.get("preAuthorizedApplications") or []
    }
    redirects: dict[RedirectKind, tuple[str, ...]] = {}
    for kind in ("spa", "web", "publicClient"):
        section = body.get(kind) or {}
        redirects[kind] = tuple(_str(u) for u in section.get("redirectUris") or [])
    required: dict[str, frozenset[str]] = {}
    for rra in body.get("requiredResourceAccess") or []:
        ids = frozenset(
            _str(a.get("id")) for a in rra.get("resourceAccess") or [] if a.get("type") == "Scope"
        )
        required[_str(rra.get("resourceAppId")).lower()] = (
            required.get(_str(rra.get("resourceAppId")).lower(), frozenset()) | ids
        )
    digests: list[str] = []
    plain: list[str] = []
    for cred in body.get("passwordCredentials") or []:
        # The Graph layer keeps the secret text it generated; a hash where it chose to.
        for name in ("secretHash", "secretTextHash", "hashedSecret"):
            if isinstance(cred.get(name), str):
                digests.append(cred[name].lower())
        if isinstance(cred.get("secretText"), str) and cred["secretText"]:
            plain.append(cred["secretText"])
    version = api.get("requestedAccessTokenVersion")
    return App(
        object_id=_str(body.get("id")),
        app_id=_str(body.get("appId")).lower(),
        display_name=_str(body.get("displayName")),
        identifier_uris=tuple(_str(u) for u in body.get("identifierUris") or []),
        scopes=scopes,
        roles=tuple(_str(r.get("value")) for r in body.get("appRoles") or [] if r.get("isEnabled", True)),
        preauthorized=pre,
        redirect_uris=redirects,
        required_access=required,
        token_version=2 if version == 2 else 1,
        secret_digests=tuple(digests),
        secret_plain=tuple(plain),
    )


def _created_at(body: Mapping[str, Any]) -> float | None:
    text = body.get("createdDateTime")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class Directory:
    """Lookups over the store; cheap enough to call per request (the store is SQLite in-process).

    ``replication_delay`` (the emulator's fault setting) hides an application (and a permission
    grant) whose ``createdDateTime`` is younger than that many seconds, as Entra's replication
    lag does: a sign-in right after creating the app fails with AADSTS700016, an on-behalf-of
    right after the grant with AADSTS65001, until it has "replicated".
    """

    def __init__(self, store: Store, replication_delay: Callable[[], float] = lambda: 0.0) -> None:
        self.store = store
        self.replication_delay = replication_delay

    # -- applications

    def applications(self) -> list[App]:
        delay = self.replication_delay()
        now = time.time()
        out = []
        for doc in self.store.list("graph/applications"):
            created = _created_at(doc.body) if delay > 0 else None
            if created is not None and now - created < delay:
                continue
            out.append(_app_from_graph(doc.body))
        return out

    def operator(self) -> App | None:
        """The local operator (``emulator.identity.operator``): a confidential client of this
        directory that is not a Graph application (it is how prmlab signs in, as ``az login`` is)."""
        doc = self.store.get(OPERATOR_KIND, "operator")
        if doc is None:
            return None
        body = doc.body
        return App(
            object_id=_str(body.get("appId")),
            app_id=_str(body.get("appId")),
            display_name="prmlab local operator",
            identifier_uris=(),
            scopes=(),
            roles=(),
            preauthorized={},
            redirect_uris={},
            required_access={},
            token_version=2,
            secret_digests=(_str(body.get("secretDigest")),),
            secret_plain=(),
            first_party=True,
        )

    def app_by_client_id(self, client_id: str) -> App | None:
        wanted = client_id.lower()
        for app in self.applications():
            if app.app_id == wanted:
                return app
        operator = self.operator()
        if operator is not None and operator.app_id.lower() == wanted:
            return operator
        return FIRST_PARTY.get(wanted)

    def app_by_identifier(self, identifier: str) -> tuple[App, str] | None:
        """The app a scope prefix or ``resource`` names, and the audience to issue for it.

        ``identifier`` is an app id (GUID; audience = the app id) or one of the app's identifier
        URIs (audience = that URI, as written in the registration).
        """
        wanted = identifier.lower()
        if wanted in (u.lower() for u in GRAPH_APP.identifier_uris) or wanted == GRAPH_APP.app_id:
            return GRAPH_APP, GRAPH_APP.app_id
        if wanted == ARM_APP.app_id:
            return ARM_APP, ARM_APP.identifier_uris[0]
        for uri in ARM_APP.identifier_uris:  # the audience is the URI as asked, with its slash
            if uri.rstrip("/").lower() == wanted.rstrip("/"):
                return ARM_APP, uri.rstrip("/") + "/"
        for app in self.applications():
            if app.app_id == wanted:
                return app, app.app_id
            for uri in app.identifier_uris:
                if uri.lower() == wanted or uri.rstrip("/").lower() == wanted.rstrip("/"):
                    return app, uri
        return None

    def federated_credentials(self, app: App) -> list[FederatedCredential]:
        return [
            FederatedCredential(
                name=_str(doc.body.get("name")),
                issuer=_str(doc.body.get("issuer")),
                subject=_str(doc.body.get("subject")),
                audiences=tuple(_str(a) for a in doc.body.get("audiences") or []),
            )
            for doc in self.store.list("graph/federatedIdentityCredentials", parent=app.object_id)
        ]

    def service_principal_id(self, app_id: str) -> str | None:
        operator = self.store.get(OPERATOR_KIND, "operator")
        if operator is not None and _str(operator.body.get("appId")).lower() == app_id.lower():
            return _str(operator.body.get("servicePrincipalId"))
        for doc in self.store.list("graph/servicePrincipals"):
            if _str(doc.body.get("appId")).lower() == app_id.lower():
                return _str(doc.body.get("id")) or doc.key
        return None

    def service_principal_ids(self, app_id: str) -> set[str]:
        return {
            _str(doc.body.get("id")) or doc.key
            for doc in self.store.list("graph/servicePrincipals")
            if _str(doc.body.get("appId")).lower() == app_id.lower()
        }

    def admin_granted_scopes(self, client_app_id: str, resource_app_id: str, user_id: str) -> frozenset[str]:
        """Scopes granted by ``oauth2PermissionGrants`` (admin or per-user consent via Graph).

        A grant younger than the replication delay does not count yet, as a new app is not
        found yet: consent granted a moment ago still fails with AADSTS65001 for a while."""
        client_sps = self.service_principal_ids(client_app_id)
        resources = self.service_principal_ids(resource_app_id) | {resource_app_id}
        if not client_sps:
            return frozenset()
        delay = self.replication_delay()
        now = time.time()
        granted: set[str] = set()
        for doc in self.store.list("graph/oauth2PermissionGrants"):
            body = doc.body
            created = _created_at(body) if delay > 0 else None
            if created is not None and now - created < delay:
                continue
            if _str(body.get("clientId")) not in client_sps or _str(body.get("resourceId")) not in resources:
                continue
            if body.get("consentType") == "AllPrincipals" or _str(body.get("principalId")) == user_id:
                granted.update(_str(body.get("scope")).split())
        return frozenset(granted)

    # -- users

    def users(self) -> list[User]:
        return [
            User(
                id=_str(doc.body.get("id")) or doc.key,
                upn=_str(doc.body.get("userPrincipalName")),
                display_name=_str(doc.body.get("displayName")),
                mail=doc.body.get("mail") if isinstance(doc.body.get("mail"), str) else None,
                password_hash=_password_hash(doc.body),
            )
            for doc in self.store.list("graph/users")
            if doc.body.get("accountEnabled", True) is not False
        ]

    def user_by_id(self, user_id: str) -> User | None:
        return next((u for u in self.users() if u.id == user_id), None)

    def user_by_hint(self, hint: str) -> User | None:
        wanted = hint.strip().lower()
        for user in self.users():
            if wanted in (user.upn.lower(), (user.mail or "").lower(), user.id.lower()):
                return user
        return None

    # -- managed identities

    def managed_identities(self) -> list[ManagedIdentity]:
        out = []
        for doc in self.store.list("microsoft.managedidentity/userassignedidentities"):
            props = doc.body.get("properties") or {}
            out.append(
                ManagedIdentity(
                    resource_id=doc.key.lower(),
                    principal_id=_str(props.get("principalId")),
                    client_id=_str(props.get("clientId")),
                    tenant_id=_str(props.get("tenantId")) or None,
                )
            )
        return out

    def container_app_for_header(self, secret: str) -> str | None:
        """The container app a runner-issued ``X-IDENTITY-HEADER`` secret belongs to."""
        doc = self.store.get("runner/identity-header", hashlib.sha256(secret.encode()).hexdigest())
        if doc is None:
            return None
        return _str(doc.body.get("containerAppId")).lower() or None

    def container_app_identities(self, container_app_id: str) -> list[ManagedIdentity]:
        doc = self.store.get("microsoft.app/containerapps", container_app_id.lower())
        if doc is None:
            return []
        identity = doc.body.get("identity") or {}
        by_id = {mi.resource_id: mi for mi in self.managed_identities()}
        out = []
        for res_id, info in (identity.get("userAssignedIdentities") or {}).items():
            known = by_id.get(res_id.lower())
            principal = _str((info or {}).get("principalId")) or (known.principal_id if known else "")
            client = _str((info or {}).get("clientId")) or (known.client_id if known else "")
            if principal and client:
                out.append(
                    ManagedIdentity(res_id.lower(), principal, client, known.tenant_id if known else None)
                )
        return out


def is_loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")


def redirect_matches(registered: str, requested: str) -> bool:
    """Exact match, except that a loopback ``http`` URI matches on any port (RFC 8252 §7.3)."""
    if registered == requested:
        return True
    if not (is_loopback_http(registered) and is_loopback_http(requested)):
        return False
    r, q = urlsplit(registered), urlsplit(requested)
    return (
        r.hostname == q.hostname
        and (r.path or "/") == (q.path or "/")
        and r.query == q.query
        and not q.fragment
        and not q.username
        and not q.password
    )


def _password_hash(user: Mapping[str, Any]) -> str | None:
    profile = user.get("passwordProfile")
    value = profile.get("passwordHash") if isinstance(profile, dict) else None
    return value if isinstance(value, str) else None


def match_redirect(app: App, requested: str) -> RedirectKind | None:
    """Which registered platform a redirect URI belongs to, or None when it is not registered."""
    parts = urlsplit(requested)
    if parts.fragment or not (parts.scheme == "https" or is_loopback_http(requested)):
        return None
    for kind in ("publicClient", "spa", "web"):
        for registered in app.redirect_uris.get(kind, ()):
            if redirect_matches(registered, requested):
                return kind
    return None
