"""Discovery documents and keys: OIDC configuration, RFC 8414 metadata, JWKS.

Where it sits: clients start here. Per tenant, the issuer is ``<base>/login/<tenant>/v2.0`` and
the same document is served at

* ``<issuer>/.well-known/openid-configuration`` (OIDC, what msal and Entra clients read),
* ``<issuer>/.well-known/oauth-authorization-server`` (RFC 8414 appended form),
* ``/.well-known/oauth-authorization-server/login/<tenant>/v2.0`` and
  ``/.well-known/openid-configuration/login/<tenant>/v2.0`` (RFC 8414 path-inserted form, the
  first URLs the MCP SDK tries).

Unlike Entra it advertises ``code_challenge_methods_supported: ["S256"]`` (strict MCP clients
need it) and ``authorization_response_iss_parameter_supported`` (RFC 9207). For ``common`` /
``organizations`` the issuer is Entra's template ``…/{tenantid}/v2.0``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.identity import keys
from emulator.identity.errors import EntraError
from emulator.identity.service import TENANT_ALIASES, IdentityService

_CACHE = {"Cache-Control": "max-age=86400, private", "Access-Control-Allow-Origin": "*"}


def metadata(svc: IdentityService, tenant: str) -> dict[str, Any]:
    tid = svc.tenant_id(tenant)
    segment = tenant if tenant.lower() in TENANT_ALIASES else tid
    issuer = svc.issuer("{tenantid}") if tenant.lower() in TENANT_ALIASES else svc.issuer(tid)
    return {
        "issuer": issuer,
        "authorization_endpoint": svc.endpoint(segment, "oauth2/v2.0/authorize"),
        "token_endpoint": svc.endpoint(segment, "oauth2/v2.0/token"),
        "jwks_uri": svc.endpoint(segment, "discovery/v2.0/keys"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
        ],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "client_secret_basic",
            "private_key_jwt",
            "none",
        ],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "nbf",
            "name",
            "oid",
            "tid",
            "preferred_username",
            "email",
            "nonce",
            "ver",
            "azp",
            "scp",
            "roles",
        ],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "request_uri_parameter_supported": False,
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "msgraph_host": "graph.microsoft.com",
    }


async def metadata_route(svc: IdentityService, request: Request) -> Response:
    try:
        return JSONResponse(metadata(svc, request.path_params["tenant"]), headers=_CACHE)
    except EntraError as err:
        return err.response()


async def jwks_route(svc: IdentityService, request: Request) -> Response:
    try:
        tid = svc.tenant_id(request.path_params["tenant"])
    except EntraError as err:
        return err.response()
    return JSONResponse(keys.public_jwks(svc.ctx, tid), headers={"Cache-Control": "max-age=300, private"})
