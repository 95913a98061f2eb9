"""Real clients against the real emulator process (HTTPS, its CA): azure-identity's
``ManagedIdentityCredential`` + ``OnBehalfOfCredential`` (client assertion = managed-identity
token accepted through a federated credential), msal (public auth-code flow, confidential client
credentials), and the ``mcp`` SDK's ``OAuthClientProvider`` running discovery + authorization
headlessly against a tiny protected resource."""

from __future__ import annotations

import html
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import anyio.to_thread
import httpx
import httpx2
import jwt
import msal
import pytest
from azure.identity import ManagedIdentityCredential, OnBehalfOfCredential
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.identity import wellknown
from emulator.server import DB_FILE
from emulator.store import Store
from tests.emulator.identity import seed as data
from tests.support.emulator import RunningEmulator, start_emulator

RESOURCE_HOST = "https://mcp.resource.test"
RESOURCE = f"{RESOURCE_HOST}/mcp"
_MI_VARS = (
    "IDENTITY_SERVER_THUMBPRINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "AZURE_FEDERATED_TOKEN_FILE",
)


@dataclass
class Lab:
    emu: RunningEmulator
    seeded: data.Seeded

    @property
    def issuer(self) -> str:
        return f"{self.emu.base_url}/login/{self.emu.tenant_id}/v2.0"

    @property
    def authority(self) -> str:
        return f"{self.emu.base_url}/login/{self.emu.tenant_id}"


@pytest.fixture(scope="module")
def module_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One private emulator for this module, seeded through a second connection to its SQLite."""
    emu = start_emulator(tmp_path_factory.mktemp("identity-emulator"))
    try:
        store = Store(emu.state_dir / DB_FILE)
        try:
            seeded = data.seed(store, f"{emu.base_url}/login/{emu.tenant_id}/v2.0", resource=RESOURCE)
        finally:
            store.close()
        yield Lab(emu, seeded)
    finally:
        emu.stop()


@pytest.fixture
def lab(module_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Lab:
    # requests lets REQUESTS_CA_BUNDLE (exported on this machine) override a session's
    # ``verify``; msal uses requests, so trust the emulator's CA the way the runner does.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(module_lab.emu.ca_file))
    return module_lab


def headless_code(lab: Lab, auth_url: str, hint: str = "alice@lab.example") -> dict[str, str]:
    """What a browser would do: open the authorize URL (naming a test user) and read the redirect."""
    with httpx.Client(verify=lab.emu.ssl_context()) as c:
        r = c.get(auth_url + "&" + urlencode({"login_hint": hint}))
    if r.status_code == 200:  # response_mode=form_post: an auto-submitting form
        action = re.search(r'<form method="post" action="([^"]+)"', r.text)
        assert action is not None, r.text
        assert html.unescape(action[1]).startswith("http://127.0.0.1:")
        return {
            html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', r.text)
        }
    assert r.status_code == 302, r.text
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}


def query_of(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def msal_user_token(lab: Lab, hint: str = "alice@lab.example") -> str:
    app = msal.PublicClientApplication(
        data.PREAUTH_ID, authority=lab.authority, instance_discovery=False, verify=str(lab.emu.ca_file)
    )
    flow = app.initiate_auth_code_flow(
        [f"{data.API_ID}/user_impersonate"],
        redirect_uri="http://127.0.0.1:40123/callback",
        response_mode="form_post",
    )
    result = app.acquire_token_by_auth_code_flow(flow, headless_code(lab, flow["auth_uri"], hint))
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == hint
    token: str = result["access_token"]
    return token


def test_msal_public_and_confidential_clients(lab: Lab) -> None:
    user_token = msal_user_token(lab)
    claims = jwt.decode(user_token, options={"verify_signature": False})
    assert claims["aud"] == data.API_ID
    assert claims["scp"] == "user_impersonate"
    assert claims["iss"] == lab.issuer
    cca = msal.ConfidentialClientApplication(
        data.PUBLIC_ID,
        client_credential=data.PUBLIC_SECRET,
        authority=lab.authority,
        instance_discovery=False,
        verify=str(lab.emu.ca_file),
    )
    result = cca.acquire_token_for_client([f"{data.API_ID}/.default"])
    assert "access_token" in result, result
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["idtyp"] == "app"
    bad = msal.ConfidentialClientApplication(
        data.PUBLIC_ID,
        client_credential="wrong",
        authority=lab.authority,
        instance_discovery=False,
        verify=str(lab.emu.ca_file),
    ).acquire_token_for_client([f"{data.API_ID}/.default"])
    assert bad["error"] == "invalid_client"
    assert 7000215 in bad["error_codes"]


def test_azure_identity_obo_with_managed_identity_client_assertion(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the environment the runner gives a container app process
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{lab.emu.base_url}/login/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", lab.seeded.identity_header)
    for var in _MI_VARS:
        monkeypatch.delenv(var, raising=False)
    verify = str(lab.emu.ca_file)
    store = Store(lab.emu.state_dir / DB_FILE)
    try:  # Alice's own consent to Graph User.Read for the API app (a grant for her only)
        data.grant_graph_consent(store, principal=data.ALICE, key="grant-alice")
    finally:
        store.close()
    mi = ManagedIdentityCredential(client_id=data.MI_CLIENT, connection_verify=verify)
    user_token = msal_user_token(lab)

    def assertion() -> str:
        token: str = mi.get_token(f"{wellknown.TOKEN_EXCHANGE_AUDIENCE}/.default").token
        return token

    obo = OnBehalfOfCredential(
        lab.emu.tenant_id,
        data.API_ID,
        client_assertion_func=assertion,
        user_assertion=user_token,
        authority=f"{lab.emu.base_url}/login",
        disable_instance_discovery=True,
        connection_verify=verify,
    )
    token = obo.get_token("https://graph.microsoft.com/User.Read")
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["aud"] == wellknown.GRAPH_APP_ID
    assert claims["oid"] == data.ALICE
    assert claims["scp"] == "User.Read"
    assert claims["azp"] == data.API_ID
    # the managed identity that has no federated credential on the app is refused
    other = ManagedIdentityCredential(client_id=data.MI2_CLIENT, connection_verify=verify)
    refused = OnBehalfOfCredential(
        lab.emu.tenant_id,
        data.API_ID,
        client_assertion_func=lambda: other.get_token(f"{wellknown.TOKEN_EXCHANGE_AUDIENCE}/.default").token,
        user_assertion=user_token,
        authority=f"{lab.emu.base_url}/login",
        disable_instance_discovery=True,
        connection_verify=verify,
    )
    from azure.core.exceptions import ClientAuthenticationError

    with pytest.raises(ClientAuthenticationError, match="AADSTS700213"):
        refused.get_token("https://graph.microsoft.com/User.Read")


class MemoryStorage:
    def __init__(self, client: OAuthClientInformationFull) -> None:
        self.tokens: OAuthToken | None = None
        self.client = client

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def protected_resource(lab: Lab) -> Starlette:
    """A minimal RFC 9728 resource: 401 + resource_metadata, PRM naming the emulator's issuer,
    and bearer validation against the emulator's JWKS (what the gateway does)."""
    jwks_client = jwt.PyJWKClient(
        f"{lab.authority}/discovery/v2.0/keys",
        ssl_context=ssl.create_default_context(cafile=str(lab.emu.ca_file)),
    )

    async def prm(request: Request) -> Response:
        return JSONResponse(
            {
                "resource": RESOURCE,
                "authorization_servers": [lab.issuer],
                "scopes_supported": [f"{data.API_ID}/user_impersonate"],
                "bearer_methods_supported": ["header"],
            }
        )

    async def mcp(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        challenge = f'Bearer resource_metadata="{RESOURCE_HOST}/.well-known/oauth-protected-resource/mcp"'
        if not auth.startswith("Bearer "):
            return Response(status_code=401, headers={"WWW-Authenticate": challenge})
        token = auth[7:]
        try:
            key = jwks_client.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=["RS256"], audience=data.API_ID, issuer=lab.issuer
            )
        except jwt.PyJWTError:
            return Response(
                status_code=401, headers={"WWW-Authenticate": challenge + ', error="invalid_token"'}
            )
        return JSONResponse({"user": claims["preferred_username"], "scp": claims["scp"]})

    return Starlette(
        routes=[
            Route("/.well-known/oauth-protected-resource/mcp", prm),
            Route("/mcp", mcp, methods=["GET", "POST"]),
        ]
    )


@pytest.mark.anyio
async def test_mcp_sdk_oauth_client_provider_completes_headlessly(lab: Lab) -> None:
    redirect = "http://127.0.0.1:33418/callback"
    client_info = OAuthClientInformationFull(
        client_id=data.PREAUTH_ID,
        redirect_uris=[redirect],
        token_endpoint_auth_method="none",
    )
    storage = MemoryStorage(client_info)
    captured: dict[str, str] = {}
    seen_urls: list[str] = []

    async def redirect_handler(url: str) -> None:
        seen_urls.append(url)
        async with httpx.AsyncClient(verify=lab.emu.ssl_context()) as c:
            r = await c.get(url + "&login_hint=alice%40lab.example")
        assert r.status_code == 302, r.text
        captured.update({k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()})

    async def callback_handler() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(
            code=captured["code"], state=captured.get("state"), iss=captured.get("iss")
        )

    provider = OAuthClientProvider(
        server_url=RESOURCE,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[redirect],
            grant_types=["authorization_code", "refresh_token"],
            token_endpoint_auth_method="none",
            client_name="identity test",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    transport = httpx2.ASGITransport(app=protected_resource(lab))
    async with httpx2.AsyncClient(
        auth=provider, verify=lab.emu.ssl_context(), mounts={RESOURCE_HOST: transport}, timeout=30
    ) as client:
        r = await client.post(RESOURCE, json={})
        assert r.status_code == 200, r.text
        assert storage.tokens is not None
        first = storage.tokens
        provider.context.token_expiry_time = 1.0  # the access token "expired": the SDK refreshes
        again = await client.post(RESOURCE, json={})
        assert again.status_code == 200, again.text
        assert storage.tokens.access_token != first.access_token
        assert storage.tokens.refresh_token != first.refresh_token  # rotated
    assert r.status_code == 200, r.text
    assert r.json() == {"user": "alice@lab.example", "scp": "user_impersonate"}
    params = parse_qs(urlsplit(seen_urls[0]).query)
    assert params["code_challenge_method"] == ["S256"]
    assert params["resource"] == [RESOURCE]
    assert params["scope"] == [f"{data.API_ID}/user_impersonate offline_access"]
    assert storage.tokens is not None
    assert storage.tokens.refresh_token


@pytest.mark.anyio
async def test_the_lab_servers_own_obo_exchanger_and_consent_link(lab: Lab) -> None:
    """``mcp_server.graph.AzureOboExchanger`` (azure-identity aio) exactly as the server runs it,
    and its consent link completed through the sign-in and consent pages."""
    from mcp_server.config import Settings
    from mcp_server.graph import AzureOboExchanger, ConsentRequiredError
    from mcp_server.tool import consent_url

    settings = Settings(
        tenant_id=lab.emu.tenant_id,
        client_id=data.API_ID,
        managed_identity_client_id=data.MI_CLIENT,
        required_scope="user_impersonate",
        authority_host=f"{lab.emu.base_url}/login",
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("IDENTITY_ENDPOINT", f"{lab.emu.base_url}/msi/token")
    mp.setenv("IDENTITY_HEADER", lab.seeded.identity_header)
    for var in _MI_VARS:
        mp.delenv(var, raising=False)
    bob_token = await anyio.to_thread.run_sync(msal_user_token, lab, "bob@lab.example")
    exchanger = AzureOboExchanger(settings, connection_verify=str(lab.emu.ca_file))
    async with httpx.AsyncClient(verify=lab.emu.ssl_context(), base_url=lab.emu.base_url) as http:
        try:
            # Declaring User.Read grants nothing (nor does the headless switch): no consent yet.
            with pytest.raises(ConsentRequiredError):
                await exchanger.exchange(bob_token)
            (
                await http.put("/_emulator/identity/settings", json={"headlessSignIn": False})
            ).raise_for_status()
            # Bob follows the consent link: sign-in page, consent page, back to /auth/callback
            link = consent_url(settings, "https://server.example.test")
            if "code_challenge=" not in link:
                # PKCE is required on every authorize request (OAuth 2.1, MCP-AUTH.md); without it the
                # link gets an invalid_request redirect. The server's link does not add it yet.
                refused = await http.get(link)
                assert query_of(refused)["error_description"].startswith("AADSTS9002325:")
                link += "&" + urlencode({"code_challenge": data.pkce()[1], "code_challenge_method": "S256"})
            page = await http.get(link)
            assert page.status_code == 200
            txn = re.search(r'name="txn" value="([^"]+)"', page.text)
            assert txn is not None
            page = await http.post(
                f"/login/{lab.emu.tenant_id}/oauth2/v2.0/authorize/signin",
                data={"txn": txn[1], "user": data.BOB, "password": data.BOB_PASSWORD},
            )
            assert "User.Read" in page.text
            txn = re.search(r'name="txn" value="([^"]+)"', page.text)
            assert txn is not None
            done = await http.post(
                f"/login/{lab.emu.tenant_id}/oauth2/v2.0/authorize/consent",
                data={"txn": txn[1], "decision": "accept"},
            )
            assert done.status_code == 302
            assert done.headers["location"].startswith("https://server.example.test/auth/callback?code=")
            graph_token = await exchanger.exchange(bob_token)
            claims = jwt.decode(graph_token, options={"verify_signature": False})
            assert claims["oid"] == data.BOB
            assert claims["aud"] == wellknown.GRAPH_APP_ID
        finally:
            await http.put("/_emulator/identity/settings", json={"headlessSignIn": True})
            await exchanger.close()
            mp.undo()
