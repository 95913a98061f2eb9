"""The verifier's client is spec-strict (``verify.strict``) and ``discovery.entra_metadata`` proves
how Entra is discovered and that the gateway's metadata for it points at Entra's own endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from mcp.shared.auth import OAuthMetadata

from orchestrator.verify.discovery import check_entra_metadata
from orchestrator.verify.model import Outcome
from orchestrator.verify.strict import NoPkceError, refuse_unless_pkce

pytestmark = pytest.mark.anyio

LOGIN = "https://login.example"
TENANT = "7e000000-0000-0000-0000-00000000e7e7"
ENTRA = f"{LOGIN}/{TENANT}/v2.0"
ENDPOINTS = {
    "authorization_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/authorize",
    "token_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/token",
    "jwks_uri": f"{LOGIN}/{TENANT}/discovery/v2.0/keys",
}
ENTRA_DOC = {"issuer": ENTRA, **ENDPOINTS, "response_types_supported": ["code"]}  # no PKCE field
FACADE = {"issuer": "https://gw.example/entra", **ENDPOINTS, "code_challenge_methods_supported": ["S256"]}


def _metadata(doc: Mapping[str, Any]) -> OAuthMetadata:
    return OAuthMetadata.model_validate(doc)


def test_strict_client_refuses_an_authorization_server_without_pkce_s256() -> None:
    with pytest.raises(NoPkceError, match="MUST refuse"):
        refuse_unless_pkce(_metadata(ENTRA_DOC))
    with pytest.raises(NoPkceError, match="absent"):
        refuse_unless_pkce(_metadata({**ENTRA_DOC, "code_challenge_methods_supported": []}))
    with pytest.raises(NoPkceError):
        refuse_unless_pkce(_metadata({**ENTRA_DOC, "code_challenge_methods_supported": ["plain"]}))
    with pytest.raises(NoPkceError, match="no authorization server metadata"):
        refuse_unless_pkce(None)
    refuse_unless_pkce(_metadata(FACADE))  # S256 advertised: proceed


def _entra(served: Mapping[str, Mapping[str, Any]]) -> httpx.AsyncClient:
    """An Entra-like server answering only the URLs in ``served`` (404 elsewhere, no body)."""

    def handle(request: httpx.Request) -> httpx.Response:
        doc = served.get(str(request.url))
        return httpx.Response(200, json=doc) if doc is not None else httpx.Response(404)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def test_entra_found_at_the_third_url_and_the_facade_points_at_it() -> None:
    async with _entra({f"{ENTRA}/.well-known/openid-configuration": ENTRA_DOC}) as http:
        result = await check_entra_metadata(http, ENTRA, FACADE)
    assert result.outcome is Outcome.PASS, result.detail
    assert "2 refusal(s)" in result.detail
    assert f"{LOGIN}/.well-known/oauth-authorization-server/{TENANT}/v2.0 -> 404" in result.detail
    assert "does not advertise PKCE" in result.detail
    assert "sends clients to Entra's own endpoints" in result.detail


@pytest.mark.parametrize("key", sorted(ENDPOINTS))
async def test_a_facade_that_drifts_from_entras_endpoints_fails(key: str) -> None:
    drifted = {**FACADE, key: "https://evil.example/x"}
    async with _entra({f"{ENTRA}/.well-known/openid-configuration": ENTRA_DOC}) as http:
        result = await check_entra_metadata(http, ENTRA, drifted)
    assert result.outcome is Outcome.FAIL
    assert key in result.detail


async def test_entra_not_found_or_under_another_issuer_fails() -> None:
    async with _entra({}) as http:
        missing = await check_entra_metadata(http, ENTRA, FACADE)
    assert missing.outcome is Outcome.FAIL
    assert "not found" in missing.detail
    other = {**ENTRA_DOC, "issuer": f"{LOGIN}/{{tenantid}}/v2.0"}
    async with _entra({f"{ENTRA}/.well-known/openid-configuration": other}) as http:
        renamed = await check_entra_metadata(http, ENTRA, FACADE)
    assert renamed.outcome is Outcome.FAIL


async def test_entra_not_answering_is_a_failed_check_not_a_traceback() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        result = await check_entra_metadata(http, ENTRA, FACADE)
    assert result.outcome is Outcome.FAIL
    assert "no answer (RemoteProtocolError: Server disconnected" in result.detail
