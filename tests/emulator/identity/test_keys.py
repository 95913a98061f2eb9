"""Signing keys: persistence, JWKS, rotation/retirement, and every verification failure."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from emulator.context import EmulatorContext
from emulator.identity import keys
from emulator.store import Store
from emulator.tokens import TokenValidationError


def _ctx(tmp_path: Path) -> EmulatorContext:
    return EmulatorContext(
        state_dir=tmp_path,
        store=Store(tmp_path / "emulator.sqlite"),
        base_url="https://127.0.0.1:9",
        ca_file=tmp_path / "ca.pem",
        cert_file=tmp_path / "cert.pem",
        key_file=tmp_path / "key.pem",
        tenant_id="11111111-1111-1111-1111-111111111111",
        subscription_id="22222222-2222-2222-2222-222222222222",
    )


# Every token of these tests is issued and verified at this one instant (``verify_token(now=T0)``),
# never at the wall clock's: a suite that paused the test between signing and verifying (load,
# a debugger) cannot move a time check's outcome.
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def _claims(ctx: EmulatorContext, **over: object) -> dict[str, object]:
    base: dict[str, object] = {"iss": ctx.issuer(), "aud": "api-1", "iat": T0, "nbf": T0, "exp": T0 + 600}
    base.update(over)
    return base


@pytest.fixture
def ctx(tmp_path: Path) -> EmulatorContext:
    return _ctx(tmp_path)


def test_keys_persist_with_private_mode_and_same_kid_after_reload(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    kid = keys.current_key(ctx).kid
    path = tmp_path / keys.KEYS_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    keys._RINGS.clear()  # a new process: nothing cached
    assert keys.current_key(_ctx(tmp_path)).kid == kid


def test_signed_token_verifies_and_jwks_publishes_key(ctx: EmulatorContext) -> None:
    # valid for a day from now too: the generic library below checks exp at the wall clock
    token = keys.sign(ctx, _claims(ctx, exp=int(time.time()) + 86_400))
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == keys.current_key(ctx).kid
    claims = keys.verify_token(ctx, token, audiences=["api-1"], now=T0)
    assert claims["aud"] == "api-1"
    jwks = keys.public_jwks(ctx)
    assert [k["kid"] for k in jwks["keys"]] == [header["kid"]]
    assert jwks["keys"][0]["issuer"] == ctx.issuer()
    # a generic JOSE library validates it with the published JWKS alone
    jwk = jwt.PyJWK(jwks["keys"][0])
    assert jwt.decode(token, jwk.key, algorithms=["RS256"], audience="api-1")["iss"] == ctx.issuer()


def test_rotation_keeps_previous_until_retired(ctx: EmulatorContext) -> None:
    old = keys.sign(ctx, _claims(ctx))
    old_kid = keys.current_key(ctx).kid
    new_kid = keys.rotate_keys(ctx).kid
    assert new_kid != old_kid
    new = keys.sign(ctx, _claims(ctx))
    assert jwt.get_unverified_header(new)["kid"] == new_kid
    assert keys.verify_token(ctx, old, now=T0)["aud"] == "api-1"
    assert {k["kid"] for k in keys.public_jwks(ctx)["keys"]} == {old_kid, new_kid}
    assert keys.retire_previous(ctx) == [old_kid]
    assert {k["kid"] for k in keys.public_jwks(ctx)["keys"]} == {new_kid}
    with pytest.raises(TokenValidationError) as err:
        keys.verify_token(ctx, old, now=T0)
    assert err.value.reason == "unknown_key"
    assert keys.verify_token(ctx, new, now=T0)["aud"] == "api-1"


def test_second_rotation_retires_the_older_previous(ctx: EmulatorContext) -> None:
    first = keys.sign(ctx, _claims(ctx))
    keys.rotate_keys(ctx)
    second = keys.sign(ctx, _claims(ctx))
    keys.rotate_keys(ctx)
    with pytest.raises(TokenValidationError):
        keys.verify_token(ctx, first, now=T0)
    assert keys.verify_token(ctx, second, now=T0)
    assert [k.status for k in keys.signing_keys(ctx)] == ["retired", "previous", "current"]


# Times are offsets from T0, the instant of verification, never values computed at collection or
# read from the wall clock: a long suite once ran this test more than 1,000 s after collection,
# when "nbf = collection + 1000" was already in the past and the token valid.
@pytest.mark.parametrize(
    ("over", "kwargs", "reason"),
    [
        ({"iss": "https://evil.example/v2.0"}, {}, "issuer"),
        ({"exp": -1000}, {}, "expired"),
        ({"nbf": +1000}, {}, "not_yet_valid"),
        ({}, {"audiences": ["other"]}, "audience"),
        ({}, {"tenant": "33333333-3333-3333-3333-333333333333"}, "issuer"),
    ],
)
def test_claim_checks(
    ctx: EmulatorContext, over: dict[str, object], kwargs: dict[str, object], reason: str
) -> None:
    claims = {k: T0 + v if k in ("exp", "nbf") and isinstance(v, int) else v for k, v in over.items()}
    token = keys.sign(ctx, _claims(ctx, **claims))
    with pytest.raises(TokenValidationError) as err:
        keys.verify_token(ctx, token, now=T0, **kwargs)  # type: ignore[arg-type]
    assert err.value.reason == reason


def test_expired_checked_even_when_cached(ctx: EmulatorContext) -> None:
    token = keys.sign(ctx, _claims(ctx, exp=T0 + 10))
    assert keys.verify_token(ctx, token, now=T0)
    with pytest.raises(TokenValidationError) as err:
        keys.verify_token(ctx, token, now=T0 + 10 + keys.CLOCK_SKEW_S + 1)
    assert err.value.reason == "expired"


def test_forged_and_confused_tokens_refused(ctx: EmulatorContext) -> None:
    good = keys.sign(ctx, _claims(ctx))
    head, _body, sig = good.split(".")
    tampered = jwt.encode(_claims(ctx, aud="api-2"), "x" * 32, algorithm="HS256")
    forged_body = tampered.split(".")[1]
    with pytest.raises(TokenValidationError) as err:
        keys.verify_token(ctx, f"{head}.{forged_body}.{sig}", now=T0)
    assert err.value.reason == "signature"
    with pytest.raises(TokenValidationError) as err:
        keys.verify_token(ctx, tampered, now=T0)
    assert err.value.reason == "algorithm"
    none_token = jwt.encode(_claims(ctx), "", algorithm="none")
    with pytest.raises(TokenValidationError) as err:
        keys.verify_token(ctx, none_token, now=T0)
    assert err.value.reason == "algorithm"
    # HMAC keyed with the public key (algorithm confusion) and a kid we publish
    with pytest.raises(TokenValidationError):
        keys.verify_token(
            ctx,
            jwt.encode(_claims(ctx), "k" * 32, algorithm="HS256", headers={"kid": keys.current_key(ctx).kid}),
        )
    with pytest.raises(TokenValidationError) as err:
        keys.verify_token(ctx, "not-a-jwt")
    assert err.value.reason == "malformed"
