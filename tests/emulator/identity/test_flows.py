"""Happy paths over plain HTTP: headless and interactive sign-in, tokens, refresh,
client credentials, managed identity and on-behalf-of through a federated credential."""

from __future__ import annotations

import hashlib
import re

import jwt
import pytest

from emulator.identity import keys, operator_client_id, wellknown
from emulator.tokens import TokenValidationError
from tests.emulator.identity import seed as data
from tests.emulator.identity.conftest import BASE, TENANT, Harness, query
from tests.support.tokens import arm_bearer

pytestmark = pytest.mark.anyio


async def test_preauthorized_client_headless_code_flow_gives_entra_v2_tokens(harness: Harness) -> None:
    code, verifier = await harness.code_for()
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == f"{data.API_ID}/user_impersonate offline_access openid"
    assert body["refresh_token"]
    assert body["id_token"]
    assert body["client_info"]
    header = jwt.get_unverified_header(body["access_token"])
    assert header["kid"] == keys.current_key(harness.ctx).kid
    claims = keys.verify_token(harness.ctx, body["access_token"], audiences=[data.API_ID])
    assert claims["iss"] == harness.issuer
    assert claims["tid"] == TENANT
    assert claims["oid"] == data.ALICE
    assert claims["scp"] == "user_impersonate"
    assert claims["azp"] == data.PREAUTH_ID
    assert claims["preferred_username"] == "alice@lab.example"
    assert claims["name"] == "Alice Example"
    assert claims["ver"] == "2.0"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["nbf"] == claims["iat"]
    assert claims["sub"]
    assert claims["sub"] != data.ALICE
    id_claims = keys.verify_token(harness.ctx, body["id_token"], audiences=[data.PREAUTH_ID])
    assert id_claims["preferred_username"] == "alice@lab.example"


async def test_identifier_uri_scope_and_resource_give_uri_audience(harness: Harness) -> None:
    resource = harness.seeded.resource
    code, verifier = await harness.code_for(scope=f"{resource}/user_impersonate", resource=resource)
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri="http://127.0.0.1:53111/callback",  # must equal the one used at authorize
        code_verifier=verifier,
        resource=resource,
    )
    assert r.status_code == 400
    code, verifier = await harness.code_for(
        scope=f"{resource}/user_impersonate",
        resource=resource,
        redirect_uri="http://127.0.0.1:53111/callback",
    )
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri="http://127.0.0.1:53111/callback",
        code_verifier=verifier,
        resource=resource,
    )
    assert r.status_code == 200, r.text
    claims = keys.verify_token(harness.ctx, r.json()["access_token"])
    assert claims["aud"] == data.API_ID  # a v2 API: aud is always its client id, whatever the scope's form
    assert "refresh_token" not in r.json()  # no offline_access asked


async def test_interactive_sign_in_and_consent_pages(harness: Harness) -> None:
    verifier, challenge = data.pkce()
    r = await harness.authorize(
        client_id=data.PUBLIC_ID,
        response_type="code",
        redirect_uri=data.LOOPBACK_REDIRECT,
        scope=f"{data.API_ID}/user_impersonate",
        state="s<t>",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert "alice@lab.example" in page
    assert "bob@lab.example" in page
    assert "Bob &lt;b&gt;Example&lt;/b&gt;" in page  # escaped
    txn = re.search(r'name="txn" value="([^"]+)"', page)
    assert txn is not None
    r = await harness.http.post(
        harness.url("oauth2/v2.0/authorize/signin"),
        data={"txn": txn[1], "user": data.BOB, "password": data.BOB_PASSWORD},
    )
    assert r.status_code == 200
    assert "Access the MCP server as you" in r.text
    assert "Accept" in r.text
    txn2 = re.search(r'name="txn" value="([^"]+)"', r.text)
    assert txn2 is not None
    r = await harness.http.post(
        harness.url("oauth2/v2.0/authorize/consent"), data={"txn": txn2[1], "decision": "accept"}
    )
    assert r.status_code == 302
    q = query(r)
    assert q["state"] == "s<t>"
    assert "iss" not in q  # Entra sends no RFC 9207 iss
    tok = await harness.token(
        grant_type="authorization_code",
        client_id=data.PUBLIC_ID,
        code=q["code"],
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    assert tok.status_code == 200, tok.text
    assert keys.verify_token(harness.ctx, tok.json()["access_token"])["oid"] == data.BOB
    # consent is remembered: prompt=none now succeeds silently for Bob? No session exists, so
    # prompt=none without a hint asks for sign-in (login_required) — never a page.
    r = await harness.authorize(
        client_id=data.PUBLIC_ID,
        response_type="code",
        redirect_uri=data.LOOPBACK_REDIRECT,
        scope=f"{data.API_ID}/user_impersonate",
        code_challenge=challenge,
        code_challenge_method="S256",
        prompt="none",
    )
    assert r.status_code == 302
    assert query(r)["error"] == "login_required"


async def test_declining_consent_redirects_access_denied(harness: Harness) -> None:
    _, challenge = data.pkce()
    await harness.http.put(f"{BASE}/_emulator/identity/settings", json={"headlessSignIn": False})
    r = await harness.authorize(
        client_id=data.PUBLIC_ID,
        response_type="code",
        redirect_uri=data.LOOPBACK_REDIRECT,
        scope=f"{data.API_ID}/user_impersonate",
        code_challenge=challenge,
        code_challenge_method="S256",
        login_hint="alice@lab.example",  # ignored: headless is off
    )
    assert "Sign in" in r.text
    txn = re.search(r'name="txn" value="([^"]+)"', r.text)
    assert txn is not None
    r = await harness.http.post(
        harness.url("oauth2/v2.0/authorize/signin"),
        data={"txn": txn[1], "user": data.ALICE, "password": data.ALICE_PASSWORD},
    )
    txn2 = re.search(r'name="txn" value="([^"]+)"', r.text)
    assert txn2 is not None
    r = await harness.http.post(
        harness.url("oauth2/v2.0/authorize/consent"), data={"txn": txn2[1], "decision": "cancel"}
    )
    assert r.status_code == 302
    assert query(r)["error"] == "access_denied"
    # the transaction is gone: replaying the form does nothing
    again = await harness.http.post(
        harness.url("oauth2/v2.0/authorize/consent"), data={"txn": txn2[1], "decision": "accept"}
    )
    assert again.status_code == 400
    assert "expired or is unknown" in again.text


async def test_headless_switch_admin_route(harness: Harness) -> None:
    r = await harness.http.put(f"{BASE}/_emulator/identity/settings", json={"headlessSignIn": False})
    assert r.json() == {"headlessSignIn": False}
    _, challenge = data.pkce()
    r = await harness.authorize(
        client_id=data.PREAUTH_ID,
        response_type="code",
        redirect_uri=data.LOOPBACK_REDIRECT,
        scope=f"{data.API_ID}/user_impersonate",
        code_challenge=challenge,
        code_challenge_method="S256",
        login_hint="alice@lab.example",
    )
    assert r.status_code == 200
    assert "Sign in" in r.text
    r = await harness.http.put(f"{BASE}/_emulator/identity/settings", json={"headlessSignIn": "yes"})
    assert r.status_code == 400


async def test_refresh_token_rotates(harness: Harness) -> None:
    code, verifier = await harness.code_for()
    first = (
        await harness.token(
            grant_type="authorization_code",
            client_id=data.PREAUTH_ID,
            code=code,
            redirect_uri=data.LOOPBACK_REDIRECT,
            code_verifier=verifier,
        )
    ).json()
    r = await harness.token(
        grant_type="refresh_token", client_id=data.PREAUTH_ID, refresh_token=first["refresh_token"]
    )
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (
        keys.verify_token(harness.ctx, second["access_token"], audiences=[data.API_ID])["scp"]
        == "user_impersonate"
    )
    r = await harness.token(
        grant_type="refresh_token", client_id=data.PREAUTH_ID, refresh_token=second["refresh_token"]
    )
    assert r.status_code == 200


async def test_client_credentials_with_secret_and_basic_auth(harness: Harness) -> None:
    r = await harness.token(
        grant_type="client_credentials",
        client_id=data.PUBLIC_ID,
        client_secret=data.PUBLIC_SECRET,
        scope=f"{data.API_ID}/.default",
    )
    assert r.status_code == 200, r.text
    claims = keys.verify_token(harness.ctx, r.json()["access_token"], audiences=[data.API_ID])
    assert claims["idtyp"] == "app"
    assert claims["oid"] == "sp-public"
    assert claims["azpacr"] == "1"
    import base64

    basic = base64.b64encode(f"{data.PUBLIC_ID}:{data.PUBLIC_SECRET}".encode()).decode()
    r = await harness.http.post(
        harness.url("oauth2/v2.0/token"),
        data={"grant_type": "client_credentials", "scope": f"{data.API_ID}/.default"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200, r.text


async def _mi_token(harness: Harness, resource: str, **params: str) -> str:
    r = await harness.http.get(
        f"{BASE}/msi/token",
        params={"api-version": "2019-08-01", "resource": resource, **params},
        headers={"X-IDENTITY-HEADER": harness.seeded.identity_header},
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


async def test_managed_identity_token_shape(harness: Harness) -> None:
    token = await _mi_token(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, client_id=data.MI_CLIENT)
    claims = keys.verify_token(harness.ctx, token, audiences=[wellknown.TOKEN_EXCHANGE_AUDIENCE])
    assert claims["sub"] == claims["oid"] == data.MI_PRINCIPAL
    assert claims["azp"] == data.MI_CLIENT
    assert claims["xms_mirid"] == data.MI_ID
    by_res = await _mi_token(harness, "https://graph.microsoft.com", mi_res_id=data.MI2_ID)
    assert (
        keys.verify_token(harness.ctx, by_res, audiences=wellknown.GRAPH_AUDIENCES)["oid"]
        == data.MI2_PRINCIPAL
    )
    # also under the identity base, where the runner points IDENTITY_ENDPOINT
    r = await harness.http.get(
        f"{BASE}/login/msi/token",
        params={"resource": "api://AzureADTokenExchange", "principal_id": data.MI_PRINCIPAL},
        headers={"X-IDENTITY-HEADER": harness.seeded.identity_header},
    )
    assert r.status_code == 200


async def test_managed_identity_refusals(harness: Harness) -> None:
    url = f"{BASE}/msi/token"
    assert (await harness.http.get(url, params={"resource": "x"})).status_code == 401
    r = await harness.http.get(url, params={"resource": "x"}, headers={"X-IDENTITY-HEADER": "guess"})
    assert r.status_code == 401
    h = {"X-IDENTITY-HEADER": harness.seeded.identity_header}
    r = await harness.http.get(url, params={"resource": "x"}, headers=h)  # two identities, none named
    assert r.status_code == 400
    assert r.json()["statusCode"] == 400
    r = await harness.http.get(url, params={"resource": "x", "client_id": "not-assigned"}, headers=h)
    assert r.status_code == 400


async def _user_token_for_api(harness: Harness) -> str:
    code, verifier = await harness.code_for(scope=f"{data.API_ID}/user_impersonate")
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    token: str = r.json()["access_token"]
    return token


async def test_on_behalf_of_with_managed_identity_assertion(harness: Harness) -> None:
    data.grant_graph_consent(harness.ctx.store)  # admin consent for Graph User.Read
    user_token = await _user_token_for_api(harness)
    assertion = await _mi_token(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, client_id=data.MI_CLIENT)
    r = await harness.token(
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        client_id=data.API_ID,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=assertion,
        assertion=user_token,
        requested_token_use="on_behalf_of",
        scope="https://graph.microsoft.com/User.Read",
    )
    assert r.status_code == 200, r.text
    claims = keys.verify_token(harness.ctx, r.json()["access_token"], audiences=wellknown.GRAPH_AUDIENCES)
    assert claims["aud"] == wellknown.GRAPH_APP_ID
    assert claims["oid"] == data.ALICE
    assert claims["scp"] == "User.Read"
    assert claims["azp"] == data.API_ID
    assert claims["azpacr"] == "2"
    # .default works too and names what the app declared
    r = await harness.token(
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        client_id=data.API_ID,
        client_secret=data.API_SECRET,
        assertion=user_token,
        requested_token_use="on_behalf_of",
        scope="https://graph.microsoft.com/.default",
    )
    assert r.status_code == 200, r.text
    assert "User.Read" in keys.verify_token(harness.ctx, r.json()["access_token"])["scp"].split()


def test_refresh_tokens_and_codes_stored_hashed(tmp_path: object) -> None:
    from emulator.identity import grants

    assert grants.digest("abc") == hashlib.sha256(b"abc").hexdigest()


async def test_admin_rotation_and_retirement_over_http(harness: Harness) -> None:
    code, verifier = await harness.code_for()
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    before = r.json()["access_token"]
    old_kid = jwt.get_unverified_header(before)["kid"]
    r = await harness.http.post(f"{BASE}/_emulator/identity/keys/rotate")
    new_kid = r.json()["current"]
    assert new_kid != old_kid
    jwks = (await harness.http.get(harness.url("discovery/v2.0/keys"))).json()
    assert [k["kid"] for k in jwks["keys"]] == [new_kid, old_kid]
    assert keys.verify_token(harness.ctx, before)["oid"] == data.ALICE
    r = await harness.http.post(f"{BASE}/_emulator/identity/keys/retire")
    assert r.json()["retired"] == [old_kid]
    statuses = {
        k["kid"]: k["status"]
        for k in (await harness.http.get(f"{BASE}/_emulator/identity/keys")).json()["keys"]
    }
    assert statuses == {old_kid: "retired", new_kid: "current"}
    with pytest.raises(TokenValidationError):
        keys.verify_token(harness.ctx, before)


async def test_api_without_pinned_v2_gets_v1_tokens(harness: Harness) -> None:
    doc = harness.ctx.store.get("graph/applications", data.API_OBJ)
    assert doc is not None
    body = dict(doc.body)
    body["api"] = {**body["api"], "requestedAccessTokenVersion": None}
    harness.ctx.store.put("graph/applications", data.API_OBJ, body)
    code, verifier = await harness.code_for()
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    token = r.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["ver"] == "1.0"
    assert claims["iss"] == f"{BASE}/sts/{TENANT}/"
    assert claims["appid"] == data.PREAUTH_ID
    with pytest.raises(TokenValidationError) as err:  # a v2 validator refuses it, as in Azure
        keys.verify_token(harness.ctx, token, audiences=[data.API_ID])
    assert err.value.reason == "issuer"


async def test_client_credentials_with_federated_managed_identity_assertion(harness: Harness) -> None:
    assertion = await _mi_token(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, client_id=data.MI_CLIENT)
    r = await harness.token(
        grant_type="client_credentials",
        client_id=data.API_ID,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=assertion,
        scope="https://graph.microsoft.com/.default",
    )
    assert r.status_code == 200, r.text
    claims = keys.verify_token(harness.ctx, r.json()["access_token"], audiences=wellknown.GRAPH_AUDIENCES)
    assert claims["azp"] == data.API_ID
    assert claims["azpacr"] == "2"
    assert claims["oid"] == "sp-api"


async def test_default_scope_at_authorize_gives_preauthorized_scopes(harness: Harness) -> None:
    code, verifier = await harness.code_for(scope=f"{data.API_ID}/.default")
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    assert r.status_code == 200, r.text
    assert keys.verify_token(harness.ctx, r.json()["access_token"])["scp"] == "user_impersonate"


async def test_unknown_tenant_at_authorize_is_an_error_page(harness: Harness) -> None:
    _, challenge = data.pkce()
    r = await harness.http.get(
        f"{BASE}/login/not-a-tenant/oauth2/v2.0/authorize",
        params={
            "client_id": data.PREAUTH_ID,
            "response_type": "code",
            "redirect_uri": data.LOOPBACK_REDIRECT,
            "scope": f"{data.API_ID}/user_impersonate",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "AADSTS90002" in r.text


async def test_replication_delay_hides_a_new_application(harness: Harness) -> None:
    import datetime as dt

    doc = harness.ctx.store.get("graph/applications", data.PREAUTH_OBJ)
    assert doc is not None
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    harness.ctx.store.put("graph/applications", data.PREAUTH_OBJ, {**doc.body, "createdDateTime": now})
    harness.ctx.faults.replication_delay_s = 60
    _, challenge = data.pkce()
    params = {
        "client_id": data.PREAUTH_ID,
        "response_type": "code",
        "redirect_uri": data.LOOPBACK_REDIRECT,
        "scope": f"{data.API_ID}/user_impersonate",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": "alice@lab.example",
    }
    r = await harness.authorize(**params)
    assert r.status_code == 400
    assert "AADSTS700016" in r.text
    harness.ctx.faults.replication_delay_s = 0
    r = await harness.authorize(**params)
    assert r.status_code == 302


async def test_mint_signs_arbitrary_claims_with_the_current_key(harness: Harness) -> None:
    claims = {"aud": "x", "iss": harness.issuer, "exp": 1, "scp": "nothing"}
    url = f"{BASE}/_emulator/identity/mint"
    # only the local operator may mint (a minted token passes every check): anyone else gets 401
    assert (await harness.http.post(url, json={"claims": claims})).status_code == 401
    stranger = arm_bearer(harness.ctx)  # a valid ARM token, but not the operator's
    assert (await harness.http.post(url, json={"claims": claims}, headers=stranger)).status_code == 401
    operator = arm_bearer(harness.ctx, azp=operator_client_id(harness.ctx))
    r = await harness.http.post(url, json={"claims": claims}, headers=operator)
    token = r.json()["token"]
    assert jwt.decode(token, options={"verify_signature": False}) == claims
    assert jwt.get_unverified_header(token)["kid"] == keys.current_key(harness.ctx).kid
    # the key is real: with the expiry check off, the signature verifies against the JWKS
    with pytest.raises(TokenValidationError) as info:
        keys.verify_token(harness.ctx, token, audiences=["x"])
    assert info.value.reason == "expired"
    bad = await harness.http.post(url, json={"claims": "no"}, headers=operator)
    assert bad.status_code == 400
