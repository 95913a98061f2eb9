"""Discovery as Entra serves it: the v2 and v1 OpenID configuration documents, field for field,
and 404 for the RFC 8414 / path-inserted URLs Entra does not answer (emulator.identity.discovery)."""

from __future__ import annotations

import pytest

from emulator.identity import keys
from tests.emulator.identity.conftest import BASE, TENANT, Harness

pytestmark = pytest.mark.anyio

ISSUER = f"{BASE}/login/{TENANT}/v2.0"
AUTHORITY = f"{BASE}/login"

# Entra's v2 document, keys in Entra's order (a recorded answer of login.microsoftonline.com).
V2_KEYS = [
    "token_endpoint",
    "token_endpoint_auth_methods_supported",
    "jwks_uri",
    "response_modes_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "response_types_supported",
    "scopes_supported",
    "issuer",
    "request_uri_parameter_supported",
    "userinfo_endpoint",
    "authorization_endpoint",
    "device_authorization_endpoint",
    "http_logout_supported",
    "frontchannel_logout_supported",
    "end_session_endpoint",
    "claims_supported",
    "kerberos_endpoint",
    "tenant_region_scope",
    "cloud_instance_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "rbac_url",
]


async def test_v2_document_is_entras_field_for_field(harness: Harness) -> None:
    r = await harness.http.get(f"{ISSUER}/.well-known/openid-configuration")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["cache-control"] == "max-age=86400, private"
    assert r.headers["access-control-allow-origin"] == "*"
    doc = r.json()
    assert list(doc) == V2_KEYS
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{AUTHORITY}/{TENANT}/oauth2/v2.0/authorize"
    assert doc["token_endpoint"] == f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token"
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "private_key_jwt",
        "client_secret_basic",
    ]
    assert doc["response_types_supported"] == ["code", "id_token", "code id_token", "id_token token"]
    assert doc["subject_types_supported"] == ["pairwise"]
    assert doc["request_uri_parameter_supported"] is False
    # What Entra does not publish — and strict MCP clients look for.
    for absent in (
        "code_challenge_methods_supported",
        "grant_types_supported",
        "authorization_response_iss_parameter_supported",
        "registration_endpoint",
    ):
        assert absent not in doc
    jwks = (await harness.http.get(doc["jwks_uri"])).json()
    assert jwks["keys"][0]["kid"] == keys.current_key(harness.ctx).kid


async def test_v1_document_is_served_with_the_v1_issuer(harness: Harness) -> None:
    r = await harness.http.get(f"{AUTHORITY}/{TENANT}/.well-known/openid-configuration")
    assert r.status_code == 200
    doc = r.json()
    assert doc["issuer"] == f"{BASE}/sts/{TENANT}/"
    assert doc["token_endpoint"] == f"{AUTHORITY}/{TENANT}/oauth2/token"
    assert doc["authorization_endpoint"] == f"{AUTHORITY}/{TENANT}/oauth2/authorize"
    assert doc["jwks_uri"] == f"{AUTHORITY}/common/discovery/keys"
    assert doc["microsoft_multi_refresh_token"] is True
    assert "code_challenge_methods_supported" not in doc
    keys_v1 = (await harness.http.get(doc["jwks_uri"])).json()
    assert keys_v1["keys"][0]["kid"] == keys.current_key(harness.ctx).kid


async def test_alias_tenants_and_unknown_tenants(harness: Harness) -> None:
    common = (await harness.http.get(f"{AUTHORITY}/common/v2.0/.well-known/openid-configuration")).json()
    assert common["issuer"] == f"{AUTHORITY}/{{tenantid}}/v2.0"
    assert common["token_endpoint"] == f"{AUTHORITY}/common/oauth2/v2.0/token"
    assert common["tenant_region_scope"] is None
    v1 = (await harness.http.get(f"{AUTHORITY}/common/.well-known/openid-configuration")).json()
    assert v1["issuer"] == f"{BASE}/sts/{{tenantid}}/"
    unknown = await harness.http.get(f"{AUTHORITY}/nope/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400
    assert unknown.json()["error_codes"] == [90002]


@pytest.mark.parametrize(
    "url",
    [
        # RFC 8414, path inserted (what the MCP spec makes clients try first) and appended
        f"{BASE}/.well-known/oauth-authorization-server/login/{TENANT}/v2.0",
        f"{ISSUER}/.well-known/oauth-authorization-server",
        f"{AUTHORITY}/{TENANT}/.well-known/oauth-authorization-server",
        # OIDC discovery with the well-known segment inserted (RFC 8414 §5 style)
        f"{BASE}/.well-known/openid-configuration/login/{TENANT}/v2.0",
        f"{BASE}/.well-known/openid-configuration/login/{TENANT}",
    ],
)
async def test_discovery_urls_entra_does_not_serve_answer_404(harness: Harness, url: str) -> None:
    r = await harness.http.get(url)
    assert r.status_code == 404
    assert r.content == b""  # nothing a client could take for metadata
