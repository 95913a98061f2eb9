"""Incoming token validation, at the HTTP level: the server reached around the gateway.

Every forgery gets ``401`` with ``WWW-Authenticate: Bearer``; a valid token gets through to the
MCP transport; the JWKS is fetched once and refreshed for an unknown ``kid`` (rate-limited).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from mcp_server.app import Dependencies, build_app
from mcp_server.auth import EntraTokenVerifier, OidcJwks
from mcp_server.config import Settings
from tests.mcp_server.fakes import FakeExchanger, FakeGraph
from tests.mcp_server.tokens import (
    CLIENT_ID,
    ISSUER,
    TENANT,
    IssuerTransport,
    Signer,
    hs256_with_public_key,
    settings,
    unsigned_token,
)

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


# The lab's identifier URI (the MCP URL): the gateway's second audience, AZURE_CLIENT_AUDIENCES here.
IDENTIFIER_URI = "https://gateway.test.example/mcp"
SIGNER = Signer()
OTHER = Signer(kid="key-1")  # same kid, different key: a bad signature


@pytest.fixture
async def server() -> AsyncIterator[tuple[httpx.AsyncClient, IssuerTransport]]:
    issuer = IssuerTransport(SIGNER)
    s = settings(host="127.0.0.1", extra_audiences=(IDENTIFIER_URI,))
    async with issuer.client() as jwks_http:
        verifier = EntraTokenVerifier(s, OidcJwks(s.openid_configuration_url, jwks_http))
        app = build_app(
            s, Dependencies(exchanger=FakeExchanger(), graph=FakeGraph(), token_verifier=verifier)
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000"
            ) as client,
        ):
            yield client, issuer


async def _post(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post("/mcp", json=INITIALIZE, headers=headers)


async def test_valid_token_reaches_the_transport(server: tuple[httpx.AsyncClient, IssuerTransport]) -> None:
    client, _ = server
    response = await _post(client, SIGNER.token())
    assert response.status_code == 200, response.text
    assert "prmlab-mcp-server" in response.text


@pytest.mark.parametrize("audience", [CLIENT_ID, IDENTIFIER_URI, [IDENTIFIER_URI, "other"]])
async def test_client_id_and_identifier_uri_audiences(
    server: tuple[httpx.AsyncClient, IssuerTransport], audience: str | list[str]
) -> None:
    client, _ = server
    assert (await _post(client, SIGNER.token(aud=audience))).status_code == 200


def now() -> int:
    """The moment a forgery is built (when its test runs), never the moment of collection: a
    suite that ran the test an hour after collecting it would otherwise send a "not yet valid"
    token whose nbf had passed (the defect test_keys had)."""
    return int(time.time())


FORGERIES: dict[str, Callable[[], str | None]] = {
    "none": lambda: None,
    "garbage": lambda: "not-a-jwt",
    "expired": lambda: SIGNER.token(iat=now() - 7200, nbf=now() - 7200, exp=now() - 3600),
    "not_yet_valid": lambda: SIGNER.token(nbf=now() + 3600, exp=now() + 7200),
    "wrong_audience": lambda: SIGNER.token(aud="00000003-0000-0000-c000-000000000000"),
    "wrong_issuer": lambda: SIGNER.token(iss="https://evil.example/v2.0"),
    "wrong_tenant": lambda: SIGNER.token(iss=ISSUER.replace(TENANT, "99999999-0000-0000-0000-000000000000")),
    "v1_issuer": lambda: SIGNER.token(iss=f"https://sts.windows.net/{TENANT}/"),
    "bad_signature": lambda: OTHER.token(),
    "tampered_payload": lambda: _tamper(SIGNER.token()),
    "alg_none": lambda: unsigned_token(SIGNER.claims(), SIGNER.kid),
    "hs256_with_public_key": lambda: hs256_with_public_key(SIGNER.claims(), SIGNER.public_pem, SIGNER.kid),
    "unknown_kid": lambda: SIGNER.token(kid="no-such-key"),
    "no_exp": lambda: SIGNER.token(exp=None),
    # Accepted before issue 17 (item 17) although the gateway refuses them:
    "exp_as_string": lambda: SIGNER.token(exp=str(now() + 3600)),
    "mismatched_tid": lambda: SIGNER.token(tid="99999999-0000-0000-0000-000000000000"),
    "api_client_id_audience": lambda: SIGNER.token(aud=f"api://{CLIENT_ID}"),
    # The same family: claims of the wrong type, or missing.
    "exp_as_bool": lambda: SIGNER.token(exp=True),
    "nbf_as_string": lambda: SIGNER.token(nbf=str(now())),
    "iat_as_string": lambda: SIGNER.token(iat=str(now())),
    "iss_as_list": lambda: SIGNER.token(iss=[ISSUER]),
    "aud_as_number": lambda: SIGNER.token(aud=42),
    "no_tid": lambda: SIGNER.token(tid=None),
    "tid_as_list": lambda: SIGNER.token(tid=[TENANT]),
    "scp_as_list": lambda: SIGNER.token(scp=["user_impersonate"]),
    "roles_as_string": lambda: SIGNER.token(roles="user_impersonate"),
}


def _tamper(token: str) -> str:
    import base64
    import json

    head, payload, sig = token.split(".")
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["oid"] = "someone-else"
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{raw}.{sig}"


@pytest.mark.parametrize("name", sorted(FORGERIES))
async def test_forged_tokens_get_401(server: tuple[httpx.AsyncClient, IssuerTransport], name: str) -> None:
    client, _ = server
    response = await _post(client, FORGERIES[name]())
    assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge


# Valid tokens without the delegated scope: 403 insufficient_scope, as the gateway answers them.
WITHOUT_SCOPE: dict[str, Callable[[], str]] = {
    "other_scope": lambda: SIGNER.token(scp="Files.Read"),
    # Accepted before issue 17 (item 17): app roles were counted as scopes.
    "roles_instead_of_scp": lambda: SIGNER.token(scp=None, roles=["user_impersonate"]),
    "app_only": lambda: SIGNER.token(scp=None, roles=["user_impersonate"], idtyp="app", azpacr="1"),
    "scope_after_a_tab": lambda: SIGNER.token(scp="Files.Read\tuser_impersonate"),
}


@pytest.mark.parametrize("name", sorted(WITHOUT_SCOPE))
async def test_valid_tokens_without_the_scope_get_403(
    server: tuple[httpx.AsyncClient, IssuerTransport], name: str
) -> None:
    client, _ = server
    response = await _post(client, WITHOUT_SCOPE[name]())
    assert response.status_code == 403, f"{name}: {response.status_code} {response.text}"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_the_scope_among_others_is_enough(server: tuple[httpx.AsyncClient, IssuerTransport]) -> None:
    client, _ = server
    response = await _post(client, SIGNER.token(scp="Files.Read user_impersonate"))
    assert response.status_code == 200


async def test_token_in_query_string_is_not_accepted(
    server: tuple[httpx.AsyncClient, IssuerTransport],
) -> None:
    client, _ = server
    response = await client.post(
        "/mcp", params={"access_token": SIGNER.token()}, json=INITIALIZE, headers=MCP_HEADERS
    )
    assert response.status_code == 401


async def test_health_and_callback_are_open(server: tuple[httpx.AsyncClient, IssuerTransport]) -> None:
    client, _ = server
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "healthy"}
    ok = await client.get("/auth/callback", params={"code": "secret-code", "state": "s"})
    assert ok.status_code == 200
    assert "Consent granted" in ok.text
    assert "secret-code" not in ok.text
    denied = await client.get(
        "/auth/callback", params={"error": "access_denied", "error_description": "<script>x</script>"}
    )
    assert denied.status_code == 400
    assert "<script>" not in denied.text
    assert "location" not in denied.headers


async def test_jwks_is_cached_and_refreshed_for_unknown_kid_at_most_once_per_interval() -> None:
    rotated = Signer(kid="key-2")
    issuer = IssuerTransport(SIGNER)
    s: Settings = settings()
    clock = [1000.0]
    async with issuer.client() as http:
        jwks = OidcJwks(s.openid_configuration_url, http, min_refresh_s=30, clock=lambda: clock[0])
        verifier = EntraTokenVerifier(s, jwks)
        for _ in range(3):
            assert await verifier.verify_token(SIGNER.token()) is not None
        assert jwks.fetches == 1
        # The issuer rotates in a new key: the first token with its kid triggers one refresh.
        issuer.signers.append(rotated)
        clock[0] += 31
        assert await verifier.verify_token(rotated.token()) is not None
        assert jwks.fetches == 2
        # An unknown kid right after a refresh does not hammer the issuer.
        assert await verifier.verify_token(SIGNER.token(kid="bogus")) is None
        assert jwks.fetches == 2


async def test_accepted_token_carries_scopes_and_subject() -> None:
    issuer = IssuerTransport(SIGNER)
    s = settings()
    async with issuer.client() as http:
        verifier = EntraTokenVerifier(s, OidcJwks(s.openid_configuration_url, http))
        access = await verifier.verify_token(SIGNER.token(scp="user_impersonate other"))
    assert access is not None
    assert access.scopes == ["user_impersonate", "other"]
    assert access.subject == "user-oid"
    assert access.client_id == "vscode-client"


async def test_unreachable_issuer_refuses_rather_than_crashes() -> None:
    s = settings()

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        verifier = EntraTokenVerifier(s, OidcJwks(s.openid_configuration_url, http))
        assert await verifier.verify_token(SIGNER.token()) is None
