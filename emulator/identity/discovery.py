"""Discovery documents and keys, exactly the ones Entra serves: OIDC configuration (v2 and v1),
JWKS — and a plain 404 for the RFC 8414 / path-inserted forms Entra does not answer.

Where it sits: clients start here. Per tenant, the v2 issuer is ``<base>/login/<tenant>/v2.0``.

Served (as ``login.microsoftonline.com`` serves them; Learn, "OpenID Connect on the Microsoft
identity platform", https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc —
"https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"):

* ``/login/<tenant>/v2.0/.well-known/openid-configuration`` — the v2 document, its fields in
  Entra's order and nothing more (``metadata``, transcribed from answers of Entra recorded with
  their headers in Azure/azure-sdk-for-js test recordings — nock fixtures of
  ``GET /<tenant>/v2.0/.well-known/openid-configuration``, 2021-2023 — and the same fields users
  quote from MSAL's logs, e.g. Azure/azure-cli#26362). In particular **no**
  ``code_challenge_methods_supported`` (Entra supports PKCE S256 and plain — Learn,
  "Microsoft identity platform and OAuth 2.0 authorization code flow" — but does not say so
  here), **no** ``grant_types_supported``, **no** ``authorization_response_iss_parameter_supported``
  (its authorization responses carry ``code`` and ``state`` only, no RFC 9207 ``iss``: see
  ``authorize``). Headers as Entra's: ``Cache-Control: max-age=86400, private``,
  ``Content-Type: application/json; charset=utf-8``, CORS open for ``GET, OPTIONS``.
* ``/login/<tenant>/.well-known/openid-configuration`` — the v1 document (issuer
  ``https://sts.windows.net/<tid>/`` = ``ctx.v1_issuer``, v1 endpoints, ``/common/discovery/keys``),
  transcribed from an answer of Entra's ``common`` v1 document kept in the tests of Microsoft's
  MSIdentityTools PowerShell module (``Get-MsIdOpenIdProviderConfiguration``).
  The v1 protocol endpoints it names (``/oauth2/authorize``, ``/oauth2/token``) are not emulated.
* JWKS at ``/login/<tenant>/discovery/v2.0/keys`` (v2) and ``/login/<tenant>/discovery/keys`` (v1).

Not served — answered 404 (``not_served``) as Entra answers them: the RFC 8414 metadata
(``<issuer>/.well-known/oauth-authorization-server``, ``/.well-known/oauth-authorization-server
/<tenant>/v2.0``) and the path-inserted OIDC form (``/.well-known/openid-configuration/<tenant>
/v2.0``). Entra has no RFC 8414 document (MCP clients report 404 for those probe URLs and find
Entra only at the appended OIDC URL: microsoft/azure-devops-mcp#1381, VS Code's log "Error
fetching authorization server metadata from OAuth/OpenID probe URLs: 404" then "Discovered
authorization server metadata at https://login.microsoftonline.com/<tenant>/v2.0/.well-known/
openid-configuration"). No source quotes the body of those 404s; the emulator sends none, so
nothing a client could mistake for metadata.

For ``common`` / ``organizations`` the endpoints keep the alias and the issuer is Entra's
template ``…/{tenantid}/v2.0`` (v1: ``https://sts.windows.net/{tenantid}/``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.identity import keys
from emulator.identity.errors import EntraError
from emulator.identity.service import TENANT_ALIASES, IdentityService

# Entra's headers on its discovery documents (the recorded answer above).
_DOC_HEADERS = {
    "Cache-Control": "max-age=86400, private",
    "Content-Type": "application/json; charset=utf-8",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
}
_AUTH_METHODS = ["client_secret_post", "private_key_jwt", "client_secret_basic"]
_RESPONSE_MODES = ["query", "fragment", "form_post"]
# Entra's region of a tenant; the lab's local tenant is "EU" (the default lab is in ukwest).
_REGION = "EU"


def _segment_and_issuers(svc: IdentityService, tenant: str) -> tuple[str, str, str, str | None]:
    """(path segment, v2 issuer, v1 issuer, region) of the tenant a path names."""
    tid = svc.tenant_id(tenant)
    if tenant.lower() in TENANT_ALIASES:
        return tenant, svc.issuer("{tenantid}"), svc.v1_issuer("{tenantid}"), None
    return tid, svc.issuer(tid), svc.v1_issuer(tid), _REGION


def _graph_host(svc: IdentityService) -> str:
    """Entra's ``msgraph_host`` (``graph.microsoft.com``): locally Graph answers on the emulator's
    own host."""
    return urlsplit(svc.ctx.base_url).netloc


def metadata(svc: IdentityService, tenant: str) -> dict[str, Any]:
    """The v2 OpenID configuration document of ``tenant``, field for field as Entra's."""
    segment, issuer, _, region = _segment_and_issuers(svc, tenant)

    def ep(path: str) -> str:
        return svc.endpoint(segment, path)

    return {
        "token_endpoint": ep("oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": list(_AUTH_METHODS),
        "jwks_uri": ep("discovery/v2.0/keys"),
        "response_modes_supported": list(_RESPONSE_MODES),
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{svc.ctx.base_url}/oidc/userinfo",
        "authorization_endpoint": ep("oauth2/v2.0/authorize"),
        "device_authorization_endpoint": ep("oauth2/v2.0/devicecode"),
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": ep("oauth2/v2.0/logout"),
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "at_hash",
            "c_hash",
            "email",
        ],
        "kerberos_endpoint": ep("kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": _graph_host(svc),
        "rbac_url": "https://pas.windows.net",
    }


def v1_metadata(svc: IdentityService, tenant: str) -> dict[str, Any]:
    """The v1 OpenID configuration document of ``tenant``, field for field as Entra's."""
    segment, _, v1_issuer, region = _segment_and_issuers(svc, tenant)

    def ep(path: str) -> str:
        return svc.endpoint(segment, path)

    return {
        "token_endpoint": ep("oauth2/token"),
        "token_endpoint_auth_methods_supported": list(_AUTH_METHODS),
        "jwks_uri": svc.endpoint("common", "discovery/keys"),
        "response_modes_supported": list(_RESPONSE_MODES),
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": v1_issuer,
        "microsoft_multi_refresh_token": True,
        "authorization_endpoint": ep("oauth2/authorize"),
        "device_authorization_endpoint": ep("oauth2/devicecode"),
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": ep("oauth2/logout"),
        "claims_supported": [
            "sub",
            "iss",
            "cloud_instance_name",
            "cloud_instance_host_name",
            "cloud_graph_host_name",
            "msgraph_host",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "amr",
            "nonce",
            "email",
            "given_name",
            "family_name",
            "nickname",
        ],
        "check_session_iframe": ep("oauth2/checksession"),
        "userinfo_endpoint": ep("openid/userinfo"),
        "kerberos_endpoint": ep("kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": _graph_host(svc),
        "rbac_url": "https://pas.windows.net",
    }


async def metadata_route(svc: IdentityService, request: Request) -> Response:
    try:
        return JSONResponse(metadata(svc, request.path_params["tenant"]), headers=_DOC_HEADERS)
    except EntraError as err:
        return err.response()


async def v1_metadata_route(svc: IdentityService, request: Request) -> Response:
    try:
        return JSONResponse(v1_metadata(svc, request.path_params["tenant"]), headers=_DOC_HEADERS)
    except EntraError as err:
        return err.response()


async def not_served(svc: IdentityService, request: Request) -> Response:
    """A discovery URL Entra does not answer (RFC 8414 metadata, path-inserted OIDC): 404."""
    return Response(status_code=404, headers={"Cache-Control": "no-store"})


async def jwks_route(svc: IdentityService, request: Request) -> Response:
    try:
        tid = svc.tenant_id(request.path_params["tenant"])
    except EntraError as err:
        return err.response()
    return JSONResponse(keys.public_jwks(svc.ctx, tid), headers={"Cache-Control": "max-age=300, private"})
