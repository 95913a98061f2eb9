"""Claims of the wrong JSON type at ``validate-azure-ad-token`` and ``validate-jwt``
(``tokens.py``, ``identity.keys.verify_token``): every one is a 401 - never a 500 (a list-valued
``iss`` was unhashable), never a pass (``exp: "9999999999"``, ``nbf: true``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest

from emulator.identity.keys import current_key
from tests.emulator.gateway.support import CLIENT_ID, TENANT, Lab, make_context, token

pytestmark = pytest.mark.anyio

SECRET = b"0123456789abcdef0123456789abcdef"
AAD = f"""<validate-azure-ad-token tenant-id="{TENANT}" failed-validation-httpcode="401">
    <client-application-ids><application-id>aebc6443-996d-45c2-90f0-388ff96faa56</application-id></client-application-ids>
    <audiences><audience>{CLIENT_ID}</audience></audiences>
    <required-claims><claim name="scp" match="any" separator=" "><value>user_impersonate</value></claim></required-claims>
</validate-azure-ad-token>"""
JWT = f"""<validate-jwt header-name="Authorization" failed-validation-httpcode="401" require-scheme="Bearer">
    <issuer-signing-keys><key>{base64.b64encode(SECRET).decode()}</key></issuer-signing-keys>
    <audiences><audience>api://x</audience></audiences>
    <issuers><issuer>https://idp.test/</issuer></issuers>
    <required-claims><claim name="roles" match="any"><value>writer</value></claim></required-claims>
</validate-jwt>"""
ON_ERROR = '<set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header><base />'


def policy(inbound: str) -> str:
    return (
        f"<policies><inbound><base />{inbound}</inbound><backend><return-response>"
        '<set-status code="200" reason="OK" /></return-response></backend>'
        f"<outbound><base /></outbound><on-error>{ON_ERROR}</on-error></policies>"
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    lab = Lab(make_context(tmp_path))
    lab.api("aad", "aad", "http://backend.test")
    lab.operation("aad", "get", "GET", "/")
    lab.api("jwt", "jwt", "http://backend.test")
    lab.operation("jwt", "get", "GET", "/")
    lab.policy(policy(AAD), api="aad")
    lab.policy(policy(JWT), api="jwt")
    return lab


@pytest.fixture
async def client(lab: Lab) -> AsyncIterator[httpx.AsyncClient]:
    app, _, _ = lab.app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        yield c


WRONG_TYPES: list[tuple[str, Any]] = [
    ("iss", ["{issuer}"]),
    ("iss", {"v": "{issuer}"}),
    ("iss", 1),
    ("aud", {"a": CLIENT_ID}),
    ("aud", [[CLIENT_ID]]),
    ("aud", []),
    ("exp", "9999999999"),
    ("exp", True),
    ("exp", [9999999999]),
    ("nbf", "0"),
    ("nbf", True),
    ("nbf", {"t": 0}),
    ("iat", "now"),
    ("sub", ["user"]),
]
ENTRA_WRONG_TYPES: list[tuple[str, Any]] = [
    ("tid", [TENANT]),
    ("tid", {"id": TENANT}),
    ("azp", ["aebc6443-996d-45c2-90f0-388ff96faa56"]),
    ("appid", {"id": 1}),
    ("scp", ["user_impersonate"]),
    ("scp", {"user_impersonate": True}),
    ("roles", "writer"),
    ("roles", [["writer"]]),
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jws(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    """A JWS signed by hand: PyJWT refuses to encode some of the wrong types this file sends."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def _entra(lab: Lab, **overrides: Any) -> str:
    """A token of the local identity service (its real key), with claims overridden."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    claims = pyjwt.decode(token(lab.ctx), options={"verify_signature": False})
    claims.update(overrides)
    key = current_key(lab.ctx)
    return _jws(
        {"alg": "RS256", "typ": "JWT", "kid": key.kid},
        claims,
        lambda data: key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
    )


def _fill(value: Any, issuer: str) -> Any:
    if isinstance(value, str):
        return value.replace("{issuer}", issuer)
    if isinstance(value, list):
        return [_fill(v, issuer) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, issuer) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("claim", "value"), WRONG_TYPES + ENTRA_WRONG_TYPES)
async def test_validate_azure_ad_token_refuses_claims_of_the_wrong_type(
    lab: Lab, client: httpx.AsyncClient, claim: str, value: Any
) -> None:
    assert (
        await client.get("/aad/", headers={"Authorization": f"Bearer {token(lab.ctx)}"})
    ).status_code == 200
    forged = _entra(lab, **{claim: _fill(value, lab.ctx.issuer(TENANT))})
    for _ in range(2):  # a refused token is refused again (only well-typed tokens are remembered)
        resp = await client.get("/aad/", headers={"Authorization": f"Bearer {forged}"})
        assert resp.status_code == 401, (claim, value, resp.status_code, resp.headers.get("x-reason"))


def _hs(**overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": "https://idp.test/", "aud": "api://x", "exp": now + 600, "nbf": now, "roles": ["writer"]}
    claims.update(overrides)
    return _jws(
        {"alg": "HS256", "typ": "JWT"}, claims, lambda data: hmac.new(SECRET, data, hashlib.sha256).digest()
    )


@pytest.mark.parametrize(("claim", "value"), WRONG_TYPES)
async def test_validate_jwt_refuses_claims_of_the_wrong_type(
    client: httpx.AsyncClient, claim: str, value: Any
) -> None:
    assert (await client.get("/jwt/", headers={"Authorization": f"Bearer {_hs()}"})).status_code == 200
    forged = _hs(**{claim: _fill(value, "https://idp.test/")})
    resp = await client.get("/jwt/", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401, (claim, value, resp.status_code, resp.headers.get("x-reason"))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_the_bearer_scheme_is_case_insensitive(
    lab: Lab, client: httpx.AsyncClient, scheme: str
) -> None:
    """RFC 7235 section 2.1: the auth-scheme is a case-insensitive token (RFC 6750 uses it)."""
    assert (
        await client.get("/aad/", headers={"Authorization": f"{scheme} {token(lab.ctx)}"})
    ).status_code == 200
    assert (await client.get("/jwt/", headers={"Authorization": f"{scheme} {_hs()}"})).status_code == 200
