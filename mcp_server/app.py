"""Assembly of the MCP server: the ``MCPServer`` with its tool, routes and token verifier.

``build_server`` wires the tool to its seams (``Dependencies``); ``build_app`` returns the
Starlette app that ``__main__`` serves: streamable HTTP at ``/mcp`` behind the SDK's bearer
middleware (our ``EntraTokenVerifier``), ``GET /health`` and ``GET /auth/callback`` (the consent
landing page) open. Tests use ``build_server`` with fakes through the SDK's in-memory client
and ``build_app`` through an httpx ASGI transport.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from mcp_server.auth import EntraTokenVerifier, OidcJwks
from mcp_server.config import Settings
from mcp_server.graph import AzureOboExchanger, GraphClient, ProfileSource, TokenExchanger
from mcp_server.tls import ca_file, outbound_context
from mcp_server.tool import CALLBACK_PATH, consent_url, show_user_profile

SERVER_NAME = "prmlab-mcp-server"
SERVER_VERSION = "0.1.0"  # serverInfo.version in the initialize answer (the verifier prints it)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _validated_token() -> str | None:
    """The bearer token the SDK's middleware accepted for the request being served."""
    token = get_access_token()
    return token.token if token else None


@dataclass(frozen=True, slots=True)
class Dependencies:
    exchanger: TokenExchanger
    graph: ProfileSource
    token_verifier: TokenVerifier | None
    user_token: Callable[[], str | None] = _validated_token
    closers: tuple[Callable[[], Any], ...] = field(default=())


def build_server(settings: Settings, deps: Dependencies) -> MCPServer[Any]:
    auth = (
        AuthSettings(
            issuer_url=settings.issuer,
            resource_server_url=None,
            required_scopes=[settings.required_scope],
        )
        if deps.token_verifier is not None
        else None
    )
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        version=SERVER_VERSION,
        instructions="Shows the signed-in user's Microsoft Graph profile.",
        token_verifier=deps.token_verifier,
        auth=auth,
        log_level=settings.log_level if settings.log_level in _LEVELS else "INFO",  # type: ignore[arg-type]
    )

    @server.tool(
        name="show_user_profile",
        description="Show the signed-in user's Microsoft Graph profile (displayName, mail, id, "
        "jobTitle, department, officeLocation). Returns a consent sign-in URL if Graph consent is missing.",
    )
    async def _show_user_profile(ctx: Context) -> dict[str, Any]:
        link = consent_url(settings, settings.public_base_url or _request_base(ctx))
        return await show_user_profile(deps.user_token(), deps.exchanger, deps.graph, link)

    async def _health(request: Request) -> Response:
        return JSONResponse({"status": "healthy"})

    async def _callback(request: Request) -> Response:
        return consent_page(request.query_params)

    # ``custom_route`` is unannotated in the SDK, so it is called rather than used as a decorator.
    server.custom_route("/health", methods=["GET"])(_health)
    server.custom_route(CALLBACK_PATH, methods=["GET"])(_callback)

    return server


_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _request_base(ctx: Context) -> str:
    request = getattr(ctx.request_context, "request", None)
    base = getattr(request, "base_url", None)
    return str(base).rstrip("/") if base is not None else "https://localhost"


def consent_page(query: Mapping[str, str]) -> HTMLResponse:
    """Landing page after the consent sign-in; shows the outcome, never the code, never redirects."""
    error = query.get("error")
    if error:
        detail = html.escape(query.get("error_description", "")[:500])
        body = (
            f"<h1>Consent was not granted</h1><p>{html.escape(error[:100])}</p><p>{detail}</p>"
            "<p>Close this window and try again, or ask an administrator to grant consent.</p>"
        )
        status = 400
    else:
        body = (
            "<h1>Consent granted</h1><p>You can close this window and call "
            "<code>show_user_profile</code> again.</p>"
        )
        status = 200
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>prmlab MCP server</title></head><body>{body}</body></html>"
    return HTMLResponse(
        page,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'",
            "Referrer-Policy": "no-referrer",
        },
    )


def transport_security(settings: Settings) -> TransportSecuritySettings | None:
    """DNS-rebinding protection on loopback (local runs); the cloud ingress fronts the container."""
    if settings.host not in LOOPBACK:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"]
    origins = [
        f"{scheme}://{h}" for scheme in ("http", "https") for h in ("127.0.0.1:*", "localhost:*", "[::1]:*")
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def build_app(settings: Settings, deps: Dependencies) -> Starlette:
    server = build_server(settings, deps)
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        # No per-session state: any replica can answer any request (the app scales 1-3 behind
        # APIM without session affinity), and nothing lingers after a client goes away.
        stateless_http=True,
        transport_security=transport_security(settings),
        host=settings.host,
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Starlette) -> AsyncIterator[None]:
        try:
            async with inner(a):
                yield
        finally:
            for close in deps.closers:
                result = close()
                if hasattr(result, "__await__"):
                    await result

    app.router.lifespan_context = lifespan
    return app


def production_dependencies(settings: Settings, env: Mapping[str, str]) -> Dependencies:
    """The real seams: JWKS over HTTPS, OBO via azure-identity, Graph via httpx."""
    http = httpx.AsyncClient(
        verify=outbound_context(env), timeout=httpx.Timeout(15.0), follow_redirects=False
    )
    jwks = OidcJwks(settings.openid_configuration_url, http)
    exchanger = AzureOboExchanger(settings, connection_verify=ca_file(env))
    return Dependencies(
        exchanger=exchanger,
        graph=GraphClient(settings.graph_endpoint, http),
        token_verifier=EntraTokenVerifier(settings, jwks),
        closers=(http.aclose, exchanger.close),
    )
