"""Scope resolution: what a ``scope`` (and ``resource``) parameter asks for, as Entra reads it.

Where it sits: the authorize and token endpoints call ``resolve`` before anything is issued.
Rules (Entra v2):

* ``openid profile email offline_access`` are OIDC scopes; they name no resource.
* Every other scope is ``<prefix>/<name>``: the prefix is an app id or an identifier URI of a
  registered app (``api://…``, the MCP URL, …) or Microsoft Graph
  (``https://graph.microsoft.com``); a bare name (``User.Read``) means Graph. ``<prefix>/.default``
  asks for everything the client was granted on that resource.
* One request, one resource (AADSTS28000); an unknown resource is AADSTS500011; an unknown or
  disabled scope is AADSTS70011.
* The access token's ``aud``: for an API that receives v2 tokens always its app id (Learn,
  "Access token claims reference", https://learn.microsoft.com/entra/identity-platform/
  access-token-claims-reference: "In v2.0 tokens, this value is always the client ID of the API.
  In v1.0 tokens, it can be the client ID or the resource URI used in the request"); for a v1
  API the identifier URI when the scope was written with it; for Graph Graph's app id.
* ``resource`` (RFC 8707) next to ``scope``: accepted only when it names the very app that owns
  the requested scopes — one of its identifier URIs as registered — else AADSTS9010010 "The
  resource parameter provided in the request doesn't match with the requested scopes." (Entra's
  enforcement since early 2026, reported by MCP client users: VS Code with PRM resource
  ``https://<host>/mcp`` and scope ``api://<app-id>/user_impersonation`` is refused,
  microsoft/vscode#321249; an app without the MCP URL among its identifier URIs is refused,
  CyberDrain/CIPP#351; a bare scope (which means Graph) with the MCP URL as resource is refused,
  anthropics/claude-ai-mcp#514). Also for OIDC-only requests (the resource names no scope's app).
  Omitting ``resource`` is always fine: the v2 endpoint takes the resource from ``scope``.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.identity import wellknown
from emulator.identity.directory import GRAPH_APP, App, Directory
from emulator.identity.errors import EntraError, invalid_scope


@dataclass(frozen=True, slots=True)
class ScopeRequest:
    app: App  # the resource the access token is for (Graph for OIDC-only requests)
    aud: str
    prefix: str  # how the request named the resource (for echoing ``scope`` back)
    scopes: tuple[str, ...]  # scope values (``user_impersonate``); empty with ``.default``
    default: bool  # ``.default`` was requested
    oidc: frozenset[str]
    explicit_resource: bool  # False when only OIDC scopes were requested

    @property
    def offline(self) -> bool:
        return "offline_access" in self.oidc

    def scope_ids(self) -> frozenset[str]:
        ids = set()
        for value in self.scopes:
            scope = self.app.scope(value)
            if scope is not None:
                ids.add(scope.id)
        return frozenset(ids)

    def response_scope(self, granted: tuple[str, ...] | None = None) -> str:
        """The ``scope`` echoed in a token response: resource scopes fully qualified + OIDC."""
        values = self.scopes if granted is None else granted
        parts = [f"{self.prefix}/{v}" for v in values] if self.explicit_resource else list(values)
        parts += sorted(self.oidc)
        return " ".join(parts)

    def with_scopes(self, values: tuple[str, ...]) -> ScopeRequest:
        return ScopeRequest(
            self.app, self.aud, self.prefix, values, self.default, self.oidc, self.explicit_resource
        )


def _split(scope: str) -> tuple[str, str]:
    if "/" not in scope:
        return wellknown.GRAPH_RESOURCE, scope
    prefix, _, name = scope.rpartition("/")
    return prefix, name


def resolve(directory: Directory, scope_param: str | None, resource: str | None = None) -> ScopeRequest:
    requested = [s for s in (scope_param or "").split(" ") if s]
    if not requested:
        raise EntraError(
            "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
        )
    oidc = frozenset(s for s in requested if s in wellknown.OIDC_SCOPES)
    others = [s for s in requested if s not in wellknown.OIDC_SCOPES]
    if not others:
        if resource is not None:
            raise _resource_mismatch()
        # A sign-in only request: the access token is for Graph with the OIDC permissions.
        values = tuple(sorted(s for s in oidc if s != "offline_access"))
        return ScopeRequest(GRAPH_APP, GRAPH_APP.app_id, wellknown.GRAPH_RESOURCE, values, False, oidc, False)

    prefixes = {_split(s)[0] for s in others}
    resolved = {}
    for prefix in prefixes:
        found = directory.app_by_identifier(prefix)
        if found is None:
            raise EntraError(
                "invalid_resource",
                500011,
                f"The resource principal named {prefix} was not found in the tenant. This can happen if "
                "the application has not been installed by the administrator of the tenant or consented "
                "to by any user in the tenant.",
            )
        resolved[prefix] = found
    if len({app.app_id for app, _ in resolved.values()}) > 1 or len(prefixes) > 1:
        raise invalid_scope(
            28000,
            "Provided value for the input parameter scope is not valid because it contains more than "
            f"one resource. Scope {' '.join(requested)} is not valid.",
        )
    prefix = next(iter(prefixes))
    app, aud = resolved[prefix]
    if app.token_version == 2:
        aud = app.app_id
    names = [_split(s)[1] for s in others]
    default = ".default" in names
    if default and len(names) > 1:
        raise invalid_scope(
            70011,
            f"The provided value for the input parameter 'scope' is not valid. The scope {' '.join(requested)} "
            "is not valid. static scope limit exceeded.",
        )
    if not default:
        for name in names:
            scope = app.scope(name)
            if scope is None or not scope.enabled:
                raise invalid_scope(
                    70011,
                    f"The provided value for the input parameter 'scope' is not valid. The scope "
                    f"{prefix}/{name} is not valid. It does not exist on the resource '{app.app_id}'.",
                )
    if resource is not None and not _resource_names_app(resource, app):
        raise _resource_mismatch()
    values = () if default else tuple(dict.fromkeys(names))
    return ScopeRequest(app, aud, prefix, values, default, oidc, True)


def _resource_names_app(resource: str, app: App) -> bool:
    return resource in app.identifier_uris


def _resource_mismatch() -> EntraError:
    return EntraError(
        "invalid_target",
        9010010,
        "The resource parameter provided in the request doesn't match with the requested scopes.",
    )
