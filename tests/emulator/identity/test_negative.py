"""Negative suite: every protection of the identity service refuses what it must, in Entra's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from emulator.identity import wellknown
from tests.emulator.identity import seed as data
from tests.emulator.identity.conftest import BASE, Harness, error_code, query

pytestmark = pytest.mark.anyio

API_SCOPE = f"{data.API_ID}/user_impersonate"
OBO = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _auth_params(**over: str) -> dict[str, str]:
    _, challenge = data.pkce()
    params = {
        "client_id": data.PREAUTH_ID,
        "response_type": "code",
        "redirect_uri": data.LOOPBACK_REDIRECT,
        "scope": API_SCOPE,
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "login_hint": "alice@lab.example",
    }
    params.update(over)
    return params


async def _redeem(harness: Harness, code: str, verifier: str, **over: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": data.PREAUTH_ID,
        "code": code,
        "redirect_uri": data.LOOPBACK_REDIRECT,
        "code_verifier": verifier,
    }
    form.update(over)
    return await harness.token(**form)


# ----------------------------------------------------------------- authorize: no open redirect


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        "http://127.0.0.1/other-path",
        "http://127.0.0.1/callback#frag",
        "http://127.0.0.1/callback?x=1",
        "http://evil.example/callback",
        "https://127.0.0.1/callback",
        "",
    ],
)
async def test_unregistered_redirect_gets_error_page_never_a_redirect(
    harness: Harness, redirect_uri: str
) -> None:
    r = await harness.authorize(**_auth_params(redirect_uri=redirect_uri))
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "AADSTS50011" in r.text


async def test_unknown_client_gets_error_page_even_with_a_redirect(harness: Harness) -> None:
    r = await harness.authorize(
        **_auth_params(
            client_id="99999999-9999-9999-9999-999999999999", redirect_uri="https://evil.example/cb"
        )
    )
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "AADSTS700016" in r.text


async def test_loopback_redirect_any_port_but_not_other_hosts(harness: Harness) -> None:
    r = await harness.authorize(**_auth_params(redirect_uri="http://127.0.0.1:61234/callback"))
    assert r.status_code == 302
    assert r.headers["location"].startswith("http://127.0.0.1:61234/callback?code=")
    r = await harness.authorize(**_auth_params(redirect_uri="http://localhost:61234/callback"))
    assert r.status_code == 400  # registered as 127.0.0.1, not localhost


@pytest.mark.parametrize(
    ("over", "error", "code"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request", 9002326),
        ({"code_challenge_method": ""}, "invalid_request", 9002326),
        ({"code_challenge": ""}, "invalid_request", 9002325),
        ({"code_challenge": "short"}, "invalid_request", 9002327),
        ({"response_type": "token"}, "unsupported_response_type", 700054),
        ({"scope": f"{data.API_ID}/not_a_scope"}, "invalid_scope", 70011),
        ({"scope": "api://unknown-app/user_impersonate"}, "invalid_resource", 500011),
        ({"scope": f"{API_SCOPE} https://graph.microsoft.com/User.Read"}, "invalid_scope", 28000),
        ({"resource": "https://other.example/mcp"}, "invalid_target", 9010010),
    ],
)
async def test_bad_requests_redirect_an_entra_error_with_state(
    harness: Harness, over: dict[str, str], error: str, code: int
) -> None:
    r = await harness.authorize(**_auth_params(**over))
    assert r.status_code == 302
    q = query(r)
    assert q["error"] == error
    assert q["error_description"].startswith(f"AADSTS{code}:")
    assert q["state"] == "st"
    assert "iss" not in q  # Entra sends no RFC 9207 iss
    assert "code" not in q


async def test_resource_matching_identifier_uri_is_accepted(harness: Harness) -> None:
    r = await harness.authorize(**_auth_params(resource=harness.seeded.resource))
    assert r.status_code == 302
    assert "code" in query(r)


# ----------------------------------------------------------------- authorization codes


async def test_wrong_or_missing_pkce_verifier(harness: Harness) -> None:
    code, _ = await harness.code_for()
    r = await _redeem(harness, code, "x" * 64)
    assert r.status_code == 400
    assert error_code(r) == 501481
    code, _ = await harness.code_for()
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
    )
    assert error_code(r) == 501481


async def test_reused_code_is_refused_and_revokes_its_refresh_tokens(harness: Harness) -> None:
    code, verifier = await harness.code_for(scope=f"{API_SCOPE} offline_access")
    first = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    assert first.status_code == 200
    again = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert error_code(again) == 54005
    r = await harness.token(
        grant_type="refresh_token", client_id=data.PREAUTH_ID, refresh_token=first.json()["refresh_token"]
    )
    assert error_code(r) == 50173


async def test_expired_code(harness: Harness) -> None:
    code, verifier = await harness.code_for()
    harness.clock.t += 301
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    assert error_code(r) == 70008


async def test_code_bound_to_client_and_redirect(harness: Harness) -> None:
    code, verifier = await harness.code_for()
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PUBLIC_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    assert error_code(r) == 70000
    code, verifier = await harness.code_for()
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri="http://127.0.0.1/elsewhere",
        code_verifier=verifier,
    )
    assert error_code(r) == 50011
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code="1.made-up",
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    assert error_code(r) == 70000


async def test_web_redirect_code_needs_a_confidential_client(harness: Harness) -> None:
    code, verifier = await harness.code_for(client_id=data.PUBLIC_ID, redirect_uri=data.WEB_REDIRECT)
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PUBLIC_ID,
        code=code,
        redirect_uri=data.WEB_REDIRECT,
        code_verifier=verifier,
    )
    assert r.status_code == 401
    assert error_code(r) == 7000218


async def test_unknown_client_wrong_secret_unknown_tenant_and_grant(harness: Harness) -> None:
    r = await harness.token(grant_type="client_credentials", client_id="nobody", client_secret="x")
    assert r.json()["error"] == "unauthorized_client"
    assert error_code(r) == 700016
    r = await harness.token(
        grant_type="client_credentials",
        client_id=data.PUBLIC_ID,
        client_secret="wrong",
        scope=f"{data.API_ID}/.default",
    )
    assert r.status_code == 401
    assert error_code(r) == 7000215
    r = await harness.token(
        grant_type="client_credentials", client_id=data.PUBLIC_ID, scope=f"{data.API_ID}/.default"
    )
    assert error_code(r) == 7000218
    r = await harness.token(
        grant_type="client_credentials",
        client_id=data.PUBLIC_ID,
        client_secret=data.PUBLIC_SECRET,
        scope=API_SCOPE,
    )
    assert error_code(r) == 1002012
    r = await harness.http.post(
        f"{BASE}/login/other-tenant/oauth2/v2.0/token", data={"grant_type": "client_credentials"}
    )
    assert error_code(r) == 90002
    r = await harness.token(grant_type="password", client_id=data.PUBLIC_ID)
    assert r.json()["error"] == "unsupported_grant_type"


# ----------------------------------------------------------------- refresh tokens


async def _refresh_token(harness: Harness) -> str:
    code, verifier = await harness.code_for(scope=f"{API_SCOPE} offline_access")
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    token: str = r.json()["refresh_token"]
    return token


async def test_rotated_away_refresh_token_revokes_the_family(harness: Harness) -> None:
    old = await _refresh_token(harness)
    r = await harness.token(grant_type="refresh_token", client_id=data.PREAUTH_ID, refresh_token=old)
    new = r.json()["refresh_token"]
    replay = await harness.token(grant_type="refresh_token", client_id=data.PREAUTH_ID, refresh_token=old)
    assert replay.json()["error"] == "invalid_grant"
    assert error_code(replay) == 50173
    # reuse detection: the legitimate newest token dies with the family
    r = await harness.token(grant_type="refresh_token", client_id=data.PREAUTH_ID, refresh_token=new)
    assert error_code(r) == 50173


async def test_expired_refresh_token(harness: Harness) -> None:
    token = await _refresh_token(harness)
    harness.clock.t += 86_401
    r = await harness.token(grant_type="refresh_token", client_id=data.PREAUTH_ID, refresh_token=token)
    assert error_code(r) == 700082


async def test_refresh_token_bound_to_client_and_consent(harness: Harness) -> None:
    token = await _refresh_token(harness)
    r = await harness.token(grant_type="refresh_token", client_id=data.PUBLIC_ID, refresh_token=token)
    assert error_code(r) == 70000
    # a scope the client was never granted needs interactive consent
    r = await harness.token(
        grant_type="refresh_token",
        client_id=data.PREAUTH_ID,
        refresh_token=token,
        scope="https://graph.microsoft.com/Mail.Read",
    )
    assert r.json()["suberror"] == "consent_required"
    assert error_code(r) == 65001
    # the failed attempt did not burn the token
    r = await harness.token(grant_type="refresh_token", client_id=data.PREAUTH_ID, refresh_token=token)
    assert r.status_code == 200
    r = await harness.token(grant_type="refresh_token", client_id=data.PREAUTH_ID, refresh_token="0.made-up")
    assert error_code(r) == 9002313


# ----------------------------------------------------------------- federated credentials and OBO


async def _mi(harness: Harness, resource: str, client_id: str) -> str:
    r = await harness.http.get(
        f"{BASE}/msi/token",
        params={"resource": resource, "client_id": client_id},
        headers={"X-IDENTITY-HEADER": harness.seeded.identity_header},
    )
    token: str = r.json()["access_token"]
    return token


async def _user_token(harness: Harness) -> str:
    code, verifier = await harness.code_for()
    r = await harness.token(
        grant_type="authorization_code",
        client_id=data.PREAUTH_ID,
        code=code,
        redirect_uri=data.LOOPBACK_REDIRECT,
        code_verifier=verifier,
    )
    token: str = r.json()["access_token"]
    return token


async def _obo(
    harness: Harness, assertion: str, user_token: str, client_id: str = data.API_ID, **over: str
) -> httpx.Response:
    form = {
        "grant_type": OBO,
        "client_id": client_id,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        "assertion": user_token,
        "requested_token_use": "on_behalf_of",
        "scope": "https://graph.microsoft.com/User.Read",
    }
    form.update(over)
    return await harness.token(**form)


async def test_assertion_from_identity_without_fic(harness: Harness) -> None:
    user = await _user_token(harness)
    other = await _mi(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, data.MI2_CLIENT)
    r = await _obo(harness, other, user)
    assert r.status_code == 401
    assert error_code(r) == 700213
    # an app without any federated credential: issuer has no match
    mine = await _mi(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, data.MI_CLIENT)
    r = await harness.token(
        grant_type="client_credentials",
        client_id=data.PUBLIC_ID,
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=mine,
        scope=f"{data.API_ID}/.default",
    )
    assert error_code(r) == 700211


async def test_assertion_with_wrong_audience(harness: Harness) -> None:
    user = await _user_token(harness)
    graph_mi = await _mi(harness, "https://graph.microsoft.com", data.MI_CLIENT)
    r = await _obo(harness, graph_mi, user)
    assert error_code(r) == 700212


async def test_expired_or_forged_assertion(harness: Harness) -> None:
    user = await _user_token(harness)
    mine = await _mi(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, data.MI_CLIENT)
    head, body, sig = mine.split(".")
    r = await _obo(harness, f"{head}.{body}.{sig[:-4]}AAAA", user)
    assert error_code(r) == 700027
    r = await _obo(harness, mine, user, client_assertion_type="urn:other")
    assert error_code(r) == 900144
    harness.clock.t += 86_401
    r = await _obo(harness, mine, user)
    assert error_code(r) == 700024


async def test_obo_refusals(harness: Harness) -> None:
    data.grant_graph_consent(harness.ctx.store)
    user = await _user_token(harness)
    mine = await _mi(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, data.MI_CLIENT)
    # a user token addressed to someone else
    r = await _obo(harness, mine, await _mi(harness, data.API_ID, data.MI_CLIENT))
    assert error_code(r) == 50013
    graph_token = await _obo(harness, mine, user)
    r = await _obo(harness, mine, graph_token.json()["access_token"])
    assert error_code(r) == 500131
    # public client cannot do OBO
    r = await harness.token(
        grant_type=OBO,
        client_id=data.API_ID,
        assertion=user,
        requested_token_use="on_behalf_of",
        scope="https://graph.microsoft.com/User.Read",
    )
    assert error_code(r) == 7000218
    # a permission the app never declared needs consent
    r = await _obo(harness, mine, user, scope="https://graph.microsoft.com/Mail.Read")
    assert r.json()["suberror"] == "consent_required"


CONSENT_65001 = (
    "AADSTS65001: The user or administrator has not consented to use the application with ID "
    f"'{data.API_ID}' named 'MCP API'. Send an interactive authorization request for this user and resource."
)


async def test_obo_without_consent_is_refused_65001(harness: Harness) -> None:
    """Declaring Graph User.Read in requiredResourceAccess asks for it, it grants nothing; the
    headless sign-in switch (on) does not consent for the middle tier either."""
    assert harness.ctx.store.list("graph/oauth2PermissionGrants") == []
    user = await _user_token(harness)
    mine = await _mi(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, data.MI_CLIENT)
    r = await _obo(harness, mine, user)
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "invalid_grant"
    assert body["suberror"] == "consent_required"
    assert body["error_codes"] == [65001]
    assert body["error_description"].startswith(CONSENT_65001 + " Trace ID: ")


async def test_obo_with_an_admin_grant_once_it_has_replicated(harness: Harness) -> None:
    user = await _user_token(harness)
    mine = await _mi(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, data.MI_CLIENT)
    harness.ctx.faults.replication_delay_s = 30.0
    # made just now: not replicated yet, still no consent
    data.grant_graph_consent(harness.ctx.store, created=datetime.now(UTC))
    assert error_code(await _obo(harness, mine, user)) == 65001
    # made a minute ago: it counts
    data.grant_graph_consent(harness.ctx.store, created=datetime.now(UTC) - timedelta(minutes=1))
    r = await _obo(harness, mine, user)
    assert r.status_code == 200, r.text
    # a grant of another permission is not consent for this one
    assert (await _obo(harness, mine, user, scope="https://graph.microsoft.com/Mail.Read")).json()[
        "suberror"
    ] == "consent_required"


async def test_obo_with_a_grant_for_this_user_only(harness: Harness) -> None:
    data.grant_graph_consent(harness.ctx.store, principal=data.BOB)
    mine = await _mi(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, data.MI_CLIENT)
    assert error_code(await _obo(harness, mine, await _user_token(harness))) == 65001  # Alice
    code, verifier = await harness.code_for(login_hint="bob@lab.example")
    bob = (
        await harness.token(
            grant_type="authorization_code",
            client_id=data.PREAUTH_ID,
            code=code,
            redirect_uri=data.LOOPBACK_REDIRECT,
            code_verifier=verifier,
        )
    ).json()["access_token"]
    assert (await _obo(harness, mine, bob)).status_code == 200


async def test_obo_after_the_users_own_consent(harness: Harness) -> None:
    """The user consents for the middle tier (the consent link the MCP server hands out:
    client = the API app, scope = Graph User.Read): then on-behalf-of works for that user."""
    user = await _user_token(harness)
    mine = await _mi(harness, wellknown.TOKEN_EXCHANGE_AUDIENCE, data.MI_CLIENT)
    assert error_code(await _obo(harness, mine, user)) == 65001
    _, challenge = data.pkce()
    r = await harness.authorize(
        client_id=data.API_ID,
        response_type="code",
        redirect_uri="https://server.example.test/auth/callback",
        scope="openid https://graph.microsoft.com/User.Read",
        state="c",
        code_challenge=challenge,
        code_challenge_method="S256",
        login_hint="alice@lab.example",
    )
    assert r.status_code == 302, r.text
    assert "code" in query(r)
    assert (await _obo(harness, mine, user)).status_code == 200


async def test_error_page_escapes_what_the_request_carried(harness: Harness) -> None:
    r = await harness.authorize(**_auth_params(redirect_uri='https://x.example/"><script>alert(1)</script>'))
    assert r.status_code == 400
    assert "<script>" not in r.text
    assert "&lt;script&gt;" in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
