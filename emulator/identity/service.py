"""The identity service object shared by its endpoints: context, settings, directory, URLs.

Where it sits: ``emulator.identity.routes(ctx)`` builds one ``IdentityService`` and hands it to
the endpoint modules (``discovery``, ``authorize``, ``token``, ``msi``, ``admin``). It also owns
the rules every endpoint shares: which tenants exist, the issuer and endpoint URLs, consent
decisions, and turning a resolved request into signed tokens.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from emulator.context import EmulatorContext
from emulator.identity import claims, grants, keys
from emulator.identity.directory import App, Directory, User
from emulator.identity.errors import EntraError
from emulator.identity.scopes import ScopeRequest
from emulator.identity.settings import IdentitySettings

TENANT_ALIASES = frozenset({"common", "organizations"})
SETTINGS_KIND = "identity/settings"


class IdentityService:
    def __init__(self, ctx: EmulatorContext, settings: IdentitySettings | None = None) -> None:
        self.ctx = ctx
        self.directory = Directory(ctx.store, lambda: ctx.faults.replication_delay_s)
        stored = ctx.store.get(SETTINGS_KIND, "settings")
        base = settings or IdentitySettings()
        if settings is None and stored is not None and isinstance(stored.body.get("headlessSignIn"), bool):
            base = dataclasses.replace(base, headless_sign_in=stored.body["headlessSignIn"])
        self.settings = base

    def set_headless(self, enabled: bool) -> None:
        self.settings = dataclasses.replace(self.settings, headless_sign_in=enabled)
        self.ctx.store.put(SETTINGS_KIND, "settings", {"headlessSignIn": enabled})

    # -- tenants and URLs

    def tenant_id(self, segment: str) -> str:
        """The tenant id a path segment names; AADSTS90002 for an unknown tenant."""
        if segment.lower() == self.ctx.tenant_id.lower() or segment.lower() in TENANT_ALIASES:
            return self.ctx.tenant_id
        raise EntraError(
            "invalid_tenant",
            90002,
            f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud.",
        )

    def issuer(self, tid: str) -> str:
        return self.ctx.issuer(tid)

    def v1_issuer(self, tid: str) -> str:
        return self.ctx.v1_issuer(tid)

    def endpoint(self, tenant: str, path: str) -> str:
        return f"{self.ctx.identity_base}/{tenant}/{path}"

    def now(self) -> int:
        return self.settings.now()

    # -- consent

    def granted_scopes(self, client: App, user: User, req: ScopeRequest) -> frozenset[str]:
        """Scope values of ``req.app`` this client may use for this user without asking."""
        resource = req.app
        if not req.explicit_resource or resource.app_id == client.app_id:
            return frozenset(s.value for s in resource.scopes) | frozenset(req.scopes)
        granted: set[str] = set()
        pre_ids = resource.preauthorized.get(client.app_id, frozenset())
        granted |= {s.value for s in resource.scopes if s.id in pre_ids}
        granted |= grants.consented_scopes(self.ctx.store, client.app_id, user.id, resource.app_id)
        granted |= self.directory.admin_granted_scopes(client.app_id, resource.app_id, user.id)
        return frozenset(granted)

    def required_scopes(self, client: App, req: ScopeRequest) -> tuple[str, ...]:
        """What the request needs granted: its scopes, or for ``.default`` the client's
        ``requiredResourceAccess`` on that resource."""
        if not req.default:
            return req.scopes
        ids = client.required_access.get(req.app.app_id, frozenset())
        return tuple(s.value for s in req.app.scopes if s.id in ids)

    def missing_consent(self, client: App, user: User, req: ScopeRequest) -> tuple[str, ...]:
        granted = self.granted_scopes(client, user, req)
        return tuple(s for s in self.required_scopes(client, req) if s not in granted)

    def effective_scopes(self, client: App, user: User, req: ScopeRequest) -> tuple[str, ...]:
        """The ``scp`` of the token: the requested scopes, or for ``.default`` all granted ones."""
        if not req.default:
            return req.scopes
        granted = self.granted_scopes(client, user, req)
        return tuple(sorted(granted | set(self.required_scopes(client, req))))

    # -- tokens

    def user_token(
        self, *, tid: str, client_id: str, azpacr: str, user: User, req: ScopeRequest, scopes: tuple[str, ...]
    ) -> tuple[str, int]:
        lifetime = self.settings.access_token_lifetime_s
        body = claims.user_access_token(
            issuer=self.issuer(tid),
            v1_iss=self.v1_issuer(tid),
            tenant=tid,
            aud=req.aud,
            version=req.app.token_version,
            user=user,
            client_id=client_id,
            azpacr=azpacr,
            scopes=scopes,
            now=self.now(),
            lifetime=lifetime,
        )
        return keys.sign(self.ctx, body), lifetime

    def id_token(self, *, tid: str, client_id: str, user: User, nonce: str | None) -> str:
        body = claims.id_token(
            issuer=self.issuer(tid),
            tenant=tid,
            client_id=client_id,
            user=user,
            nonce=nonce,
            now=self.now(),
            lifetime=self.settings.access_token_lifetime_s,
        )
        return keys.sign(self.ctx, body)

    def token_response(
        self,
        *,
        access_token: str,
        lifetime: int,
        scope: str,
        refresh_token: str | None = None,
        id_token: str | None = None,
        user: User | None = None,
        tid: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
        }
        if refresh_token:
            body["refresh_token"] = refresh_token
        if id_token:
            body["id_token"] = id_token
        if user is not None and tid is not None:
            body["client_info"] = claims.client_info(user, tid)
        return body
