"""The forged-token battery: tokens a protected resource must refuse.

Each case is a name, how to build the token, and the answer it must get: 401 (invalid token)
or 403 ``insufficient_scope`` (a valid token that lacks the scope: another scope, app roles
instead of ``scp``, an app-only token). The same battery runs at the gateway and at the server
reached directly (``bypass``), with the same expectations: the server applies the gateway's
claims rules (``mcp_server/auth.py``). Cases that need a token
signed with the authorization server's real key (expired, wrong audience, ...) use the
``minter`` the local target provides; on Azure they are skipped, the others still run.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import jwt
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from orchestrator.verify.discovery import post_mcp
from orchestrator.verify.http import parse_bearer_challenge
from orchestrator.verify.model import CheckResult, Outcome, TokenMinter, VerifyTarget


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _hs256_with_key(header: Mapping[str, Any], claims: Mapping[str, Any], key: bytes) -> str:
    # Built by hand: PyJWT rightly refuses to use a PEM public key as an HMAC secret.
    head = _b64(json.dumps({**header, "alg": "HS256"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(f"{head}.{body}".encode())
    return f"{head}.{body}.{_b64(mac.finalize())}"


@dataclass(frozen=True, slots=True)
class Forgery:
    name: str
    expect: int  # 401 or 403
    build: Callable[[], Awaitable[str | None]]  # None: cannot be built here (skipped)


def _once(build: Callable[[], Awaitable[str | None]]) -> Callable[[], Awaitable[str | None]]:
    """``build``, run at most once: the gateway and the server reached around it (``bypass``)
    get the very same forged token (one mint, one RSA key for ``unknown_kid``, not two)."""
    made: list[str | None] = []
    lock = anyio.Lock()  # the two batteries may ask at the same time

    async def built() -> str | None:
        async with lock:
            if not made:
                made.append(await build())
        return made[0]

    return built


def base_claims(target: VerifyTarget, issuer: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "aud": target.app_client_id,
        "iss": issuer,
        "tid": target.tenant_id,
        "oid": str(uuid.uuid4()),
        "sub": str(uuid.uuid4()),
        "azp": target.client_id,
        "scp": target.scope.rsplit("/", 1)[-1],
        "ver": "2.0",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
    }


def forgeries(
    target: VerifyTarget, issuer: str, real_token: str | None, jwks: Mapping[str, Any] | None
) -> list[Forgery]:
    minter: TokenMinter | None = target.minter
    claims = base_claims(target, issuer)
    real_header: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "kid": "unknown"}
    if real_token is not None:
        real_header = jwt.get_unverified_header(real_token)
        claims = {**jwt.decode(real_token, options={"verify_signature": False}), "exp": claims["exp"]}
    now = int(time.time())
    identifier_uri, _, scope_value = target.scope.rpartition("/")

    def minted(**changes: Any) -> Callable[[], Awaitable[str | None]]:
        async def build() -> str | None:
            if minter is None:
                return None
            new = {k: v for k, v in {**claims, **changes}.items() if v is not None}
            return await minter({}, new)

        return build

    def const(value: str | None) -> Callable[[], Awaitable[str | None]]:
        async def build() -> str | None:
            return value

        return build

    cases = [
        Forgery("none", 401, const(None)),
        Forgery("garbage", 401, const("not-a-jwt")),
        Forgery("expired", 401, minted(exp=now - 600, iat=now - 4000, nbf=now - 4000)),
        Forgery("not_yet_valid", 401, minted(nbf=now + 3600, iat=now)),
        Forgery("wrong_audience", 401, minted(aud=str(uuid.uuid4()))),
        Forgery("wrong_issuer", 401, minted(iss="https://issuer.invalid/" + target.tenant_id + "/v2.0")),
        Forgery(
            "wrong_tenant",
            401,
            minted(tid=(other := str(uuid.uuid4())), iss=issuer.replace(target.tenant_id, other)),
        ),
        *_signature_forgeries(claims, real_token, real_header, minter, jwks),
        # Claims of the wrong type or from elsewhere, in a correctly signed token.
        Forgery("exp_as_string", 401, minted(exp=str(now + 3600))),
        Forgery("tid_mismatch", 401, minted(tid=str(uuid.uuid4()))),
        *(
            # v2 tokens carry the client id; api://<client id> is accepted only as the identifier URI
            [Forgery("aud_api_client_id", 401, minted(aud=api_uri))]
            if (api_uri := f"api://{target.app_client_id}") != identifier_uri
            else []
        ),
        Forgery("missing_scope", 403, minted(scp="Some.Other.Scope")),
        # An app role is not a delegated scope: valid tokens, without the scope.
        Forgery("roles_instead_of_scp", 403, minted(scp=None, roles=[scope_value])),
        Forgery(
            "app_only",
            403,
            minted(
                scp=None,
                roles=[scope_value],
                idtyp="app",
                azpacr="1",
                name=None,
                preferred_username=None,
                sub=claims.get("oid"),
            ),
        ),
    ]
    return [Forgery(case.name, case.expect, _once(case.build)) for case in cases]


def _signature_forgeries(
    claims: Mapping[str, Any],
    real_token: str | None,
    real_header: Mapping[str, Any],
    minter: TokenMinter | None,
    jwks: Mapping[str, Any] | None,
) -> list[Forgery]:
    """Tokens whose signature is wrong, absent, made with the public key, or by an unknown key."""

    async def bad_signature() -> str | None:
        if real_token is not None:  # a real token with one claim changed: the signature no longer matches
            head, _, rest = real_token.partition(".")
            _, _, sig = rest.partition(".")
            body = _b64(json.dumps({**claims, "oid": str(uuid.uuid4())}, separators=(",", ":")).encode())
            return f"{head}.{body}.{sig}"
        if minter is None:
            return None
        token = await minter({}, claims)
        head, body, sig = token.split(".")
        flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
        return f"{head}.{body}.{flipped}"

    async def unknown_kid() -> str | None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(
            dict(claims), key, algorithm="RS256", headers={"kid": f"forged-{uuid.uuid4().hex[:8]}"}
        )

    async def alg_none() -> str | None:
        return _unsigned({"alg": "none", "typ": "JWT", "kid": real_header.get("kid")}, claims)

    async def hs256_public_key() -> str | None:
        keys = (jwks or {}).get("keys") or []
        if not keys:
            return None
        jwk = keys[0]
        public = jwt.PyJWK(jwk).key
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return _hs256_with_key({"typ": "JWT", "kid": jwk.get("kid")}, claims, pem)

    return [
        Forgery("bad_signature", 401, bad_signature),
        Forgery("alg_none", 401, alg_none),
        Forgery("hs256_public_key", 401, hs256_public_key),
        Forgery("unknown_kid", 401, unknown_kid),
    ]


async def check_forgeries(
    http: httpx.AsyncClient,
    url: str,
    cases: list[Forgery],
    *,
    group: str = "forged",
    resource_metadata: str | None = None,
) -> list[CheckResult]:
    """Send each forged token; ``resource_metadata``, when given, is the PRM URL the refusal must
    name — the gateway's RFC 9728 challenge. A refusal without it came from further back (the
    server's own validation): the lab is still safe, but the gateway let the token through."""
    results: list[CheckResult] = []
    for case in cases:
        name = f"{group}.{case.name}"
        token: str | None = None
        if case.name != "none":
            token = await case.build()
            if token is None:
                results.append(
                    CheckResult(name, Outcome.SKIP, "needs the issuer's signing key (local target only)")
                )
                continue
        resp = await post_mcp(http, url, token)
        expect = case.expect
        challenge = parse_bearer_challenge(resp.headers.get("www-authenticate"))
        if resp.status_code != expect:
            results.append(CheckResult(name, Outcome.FAIL, f"answered {resp.status_code}, expected {expect}"))
        elif challenge is None:
            results.append(CheckResult(name, Outcome.FAIL, f"{expect} without a Bearer challenge"))
        elif resource_metadata is not None and challenge.get("resource_metadata") != resource_metadata:
            results.append(
                CheckResult(
                    name,
                    Outcome.FAIL,
                    f"{resp.status_code} without the gateway's resource_metadata: the gateway let the token through"
                    " and the server behind it refused it",
                )
            )
        elif expect == 403 and challenge.get("error") != "insufficient_scope":
            results.append(CheckResult(name, Outcome.FAIL, f"403 with error={challenge.get('error')!r}"))
        else:
            results.append(
                CheckResult(name, Outcome.PASS, f"{resp.status_code} {challenge.get('error', '')}".strip())
            )
    return results
