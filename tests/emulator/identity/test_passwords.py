"""Test users' passwords are checked at sign-in, against a stored hash (issue 17 item 11).

Before, the sign-in page signed in whoever picked an account (the password given to ``POST
/users`` was stored in clear and never read). Now Graph stores only a scrypt hash, the sign-in
page asks for the password and refuses a wrong or missing one with Entra's words; the headless
``login_hint`` switch (a documented local shortcut) still signs in without one.
"""

from __future__ import annotations

import re

import pytest

from emulator.graph import entities
from emulator.identity.passwords import check_password, hash_password
from tests.emulator.identity import seed as data
from tests.emulator.identity.conftest import Harness

pytestmark = pytest.mark.anyio

WRONG = "Your account or password is incorrect."


def test_a_hash_checks_its_password_only() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert "correct horse" not in stored
    assert stored != hash_password("correct horse")  # salted
    assert check_password(stored, "correct horse")
    assert not check_password(stored, "correct hors")
    assert not check_password(stored, "")
    for broken in (None, "", "plain-text-password", "scrypt$1$1$1$AA$AA", stored[:-4]):
        assert not check_password(broken, "correct horse")


async def test_graph_stores_a_hash_never_the_password(harness: Harness) -> None:
    store = harness.ctx.store
    body = {
        "accountEnabled": True,
        "displayName": "Carol",
        "mailNickname": "carol",
        "userPrincipalName": "carol@lab.example",
        "passwordProfile": {"forceChangePasswordNextSignIn": False, "password": "carol-Pa55"},
    }
    user = entities.new_user(store, body)
    profile = user["passwordProfile"]
    assert "password" not in profile
    assert profile["forceChangePasswordNextSignIn"] is False
    assert check_password(profile["passwordHash"], "carol-Pa55")
    changed = entities.update_user(store, user, {"passwordProfile": {"password": "carol-N3w"}})
    assert "password" not in changed["passwordProfile"]
    assert check_password(changed["passwordProfile"]["passwordHash"], "carol-N3w")
    assert not check_password(changed["passwordProfile"]["passwordHash"], "carol-Pa55")
    assert "carol-Pa55" not in str(changed)


async def test_clear_passwords_left_by_an_older_emulator_are_hashed_at_start(harness: Harness) -> None:
    store = harness.ctx.store
    store.put("graph/users", "legacy", {"id": "legacy", "passwordProfile": {"password": "old-clear"}})
    assert entities.hash_stored_passwords(store) == 1
    legacy = store.get("graph/users", "legacy")
    assert legacy is not None
    profile = legacy.body["passwordProfile"]
    assert "password" not in profile
    assert check_password(profile["passwordHash"], "old-clear")
    assert entities.hash_stored_passwords(store) == 0


async def _signin_page(harness: Harness) -> str:
    _, challenge = data.pkce()
    r = await harness.authorize(
        client_id=data.PUBLIC_ID,
        response_type="code",
        redirect_uri=data.LOOPBACK_REDIRECT,
        scope=f"{data.API_ID}/user_impersonate",
        state="s",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert r.status_code == 200
    assert 'type="password" name="password"' in r.text
    txn = re.search(r'name="txn" value="([^"]+)"', r.text)
    assert txn is not None
    return txn[1]


@pytest.mark.parametrize(
    "form",
    [
        {"user": data.BOB, "password": "not-bobs-password"},
        {"user": data.BOB, "password": data.ALICE_PASSWORD},  # another user's password
        {"user": data.BOB, "password": ""},
        {"user": data.BOB},
    ],
    ids=["wrong", "another user's", "empty", "missing"],
)
async def test_a_wrong_or_missing_password_is_refused(harness: Harness, form: dict[str, str]) -> None:
    txn = await _signin_page(harness)
    r = await harness.http.post(harness.url("oauth2/v2.0/authorize/signin"), data={"txn": txn, **form})
    assert r.status_code == 200
    assert WRONG in r.text
    assert "location" not in r.headers
    assert "Permissions requested" not in r.text
    # the page is offered again, for the same transaction
    assert f'name="txn" value="{txn}"' in r.text


async def test_an_account_without_a_stored_hash_cannot_sign_in(harness: Harness) -> None:
    store = harness.ctx.store
    bob = store.get("graph/users", data.BOB)
    assert bob is not None
    store.put("graph/users", data.BOB, {k: v for k, v in bob.body.items() if k != "passwordProfile"})
    txn = await _signin_page(harness)
    for password in ("", data.BOB_PASSWORD, "anything"):
        r = await harness.http.post(
            harness.url("oauth2/v2.0/authorize/signin"),
            data={"txn": txn, "user": data.BOB, "password": password},
        )
        assert WRONG in r.text


async def test_the_right_password_signs_in(harness: Harness) -> None:
    txn = await _signin_page(harness)
    r = await harness.http.post(
        harness.url("oauth2/v2.0/authorize/signin"),
        data={"txn": txn, "user": data.BOB, "password": data.BOB_PASSWORD},
    )
    assert r.status_code == 200
    assert "Permissions requested" in r.text


async def test_headless_login_hint_stays_a_local_switch_without_password(harness: Harness) -> None:
    # The documented local switch (on by default; PUT /_emulator/identity/settings turns it off).
    code, _ = await harness.code_for(login_hint="bob@lab.example")
    assert code
