"""Emulator sub-app: an Entra-like identity service (the local ``login.microsoftonline.com``).

Routes (all on the emulator's HTTPS port, 127.0.0.1 only), issuer ``<base>/login/<tenant>/v2.0``:

* discovery, exactly what Entra serves — ``/login/<tenant>/v2.0/.well-known/openid-configuration``
  (v2) and ``/login/<tenant>/.well-known/openid-configuration`` (v1); JWKS at
  ``/login/<tenant>/discovery/v2.0/keys`` and ``…/discovery/keys``; the RFC 8414 and path-inserted
  forms Entra does not answer answer 404 (module ``discovery``);
* ``/login/<tenant>/oauth2/v2.0/authorize`` (+ ``/signin``, ``/consent`` form posts) (``authorize``);
* ``/login/<tenant>/oauth2/v2.0/token`` (``token``);
* ``/msi/token`` — managed identity (``msi``);
* ``/_emulator/identity/...`` — keys and settings (``admin``).

Public API for other sub-apps (``__all__``; import these from ``emulator.identity``, nothing
else): ``public_jwks(ctx)``, ``verify_token(ctx, token, audiences=..., tenant=..., issuers=...)``
(raises ``emulator.tokens.TokenValidationError``), ``sign``, ``rotate_keys``,
``retire_previous``, ``GRAPH_AUDIENCES``, ``ARM_AUDIENCES``, ``hash_password`` (the stored form of
a test user's password, ``passwords.py``), ``GRAPH_APP_ID`` and ``GRAPH_DELEGATED_SCOPES`` (Graph's
service principal, which the Graph sub-app seeds), ``operator_client_id(ctx)`` and ``OPERATOR``
(the local operator, ``operator``: the confidential client prmlab signs in as, and its service
principal's object id). The issuers are ``EmulatorContext.issuer`` (v2) and
``EmulatorContext.v1_issuer``; reading a token unverified is ``emulator.tokens``.

Runner contract (the runner that starts container apps as processes follows it):

* for each process of container app ``<id>`` (lower-case ARM id) it generates a random secret
  (``secrets.token_urlsafe(32)``) and stores kind ``runner/identity-header``, key = sha256 hex of
  the secret, body ``{"containerAppId": "<id>"}`` (parent = the container app id); it deletes the
  record when the process stops;
* it gives the process ``IDENTITY_ENDPOINT=<ctx.base_url>/msi/token`` (``<ctx.identity_base>/msi/token``
  is served too) and
  ``IDENTITY_HEADER=<secret>`` (azure-identity's App Service source; HTTPS works, no plain-HTTP
  port is needed), and makes the emulator's CA trusted by the process — ``REQUESTS_CA_BUNDLE`` and
  ``SSL_CERT_FILE`` pointing at a bundle that contains ``ctx.ca_file`` — because azure-identity's
  transports (requests) verify TLS for both the MSI endpoint and the token endpoint;
* the process's credentials use authority ``<ctx.base_url>/login`` (``AZURE_AUTHORITY_HOST``)
  with instance discovery disabled (``disable_instance_discovery=True``), tenant ``ctx.tenant_id``.

The headless switch (``login_hint`` naming a test user signs in and consents without pages; on
by default) is ``IdentitySettings.headless_sign_in``, switchable via
``PUT /_emulator/identity/settings``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator.context import EmulatorContext
from emulator.identity import admin, authorize, discovery, msi, token
from emulator.identity.keys import public_jwks, retire_previous, rotate_keys, sign, verify_token
from emulator.identity.operator import OPERATOR, ensure_operator, operator_client_id
from emulator.identity.passwords import hash_password
from emulator.identity.service import IdentityService
from emulator.identity.settings import IdentitySettings
from emulator.identity.wellknown import (
    ARM_AUDIENCES,
    GRAPH_APP_ID,
    GRAPH_AUDIENCES,
    GRAPH_DELEGATED_SCOPES,
)

__all__ = [
    "ARM_AUDIENCES",
    "GRAPH_APP_ID",
    "GRAPH_AUDIENCES",
    "GRAPH_DELEGATED_SCOPES",
    "OPERATOR",
    "build_routes",
    "hash_password",
    "operator_client_id",
    "public_jwks",
    "retire_previous",
    "rotate_keys",
    "routes",
    "run",
    "sign",
    "verify_token",
]

Handler = Callable[[IdentityService, Request], Awaitable[Response]]


def _bind(svc: IdentityService, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(svc, request)

    return endpoint


def build_routes(ctx: EmulatorContext, settings: IdentitySettings | None = None) -> list[BaseRoute]:
    """The identity routes over one ``IdentityService`` (tests pass their own settings/clock)."""
    svc = IdentityService(ctx, settings)
    ensure_operator(ctx)

    def b(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return _bind(svc, handler)

    none = b(discovery.not_served)
    return [
        Route(
            "/login/{tenant}/v2.0/.well-known/openid-configuration",
            b(discovery.metadata_route),
            methods=["GET"],
        ),
        Route(
            "/login/{tenant}/.well-known/openid-configuration",
            b(discovery.v1_metadata_route),
            methods=["GET"],
        ),
        # What Entra does not serve (no RFC 8414 document, no path-inserted OIDC): 404.
        Route("/login/{tenant}/v2.0/.well-known/oauth-authorization-server", none, methods=["GET"]),
        Route("/login/{tenant}/.well-known/oauth-authorization-server", none, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server/login/{rest:path}", none, methods=["GET"]),
        Route("/.well-known/openid-configuration/login/{rest:path}", none, methods=["GET"]),
        Route("/login/{tenant}/discovery/v2.0/keys", b(discovery.jwks_route), methods=["GET"]),
        Route("/login/{tenant}/discovery/keys", b(discovery.jwks_route), methods=["GET"]),
        Route("/login/{tenant}/oauth2/v2.0/authorize", b(authorize.authorize), methods=["GET", "POST"]),
        Route("/login/{tenant}/oauth2/v2.0/authorize/signin", b(authorize.signin_post), methods=["POST"]),
        Route("/login/{tenant}/oauth2/v2.0/authorize/consent", b(authorize.consent_post), methods=["POST"]),
        Route("/login/{tenant}/oauth2/v2.0/token", b(token.token), methods=["POST"]),
        Route("/msi/token", b(msi.msi_token), methods=["GET"]),
        Route("/login/msi/token", b(msi.msi_token), methods=["GET"]),  # <identity_base>/msi/token
        Route("/_emulator/identity/keys", b(admin.list_keys), methods=["GET"]),
        Route("/_emulator/identity/keys/rotate", b(admin.rotate), methods=["POST"]),
        Route("/_emulator/identity/keys/retire", b(admin.retire), methods=["POST"]),
        Route("/_emulator/identity/settings", b(admin.settings), methods=["GET", "PUT"]),
        Route("/_emulator/identity/mint", b(admin.mint), methods=["POST"]),
    ]


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    return build_routes(ctx)


async def run(ctx: EmulatorContext) -> None:
    """No background work; creating the first signing key early keeps the first request fast."""
    from emulator.identity.keys import current_key

    current_key(ctx)
