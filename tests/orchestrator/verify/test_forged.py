"""The forged-token battery against a small resource server whose protections can be removed.

Each protection is switched off in turn to show that the matching check reports a failure:
a check that cannot fail proves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestrator.verify.forged import check_forgeries, forgeries
from orchestrator.verify.model import Outcome, VerifyTarget

ISSUER = "https://login.test/tenant-1/v2.0"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "k1"
TARGET = VerifyTarget(
    mcp_url="https://gw.test/mcp",
    app_client_id="app-1",
    tenant_id="tenant-1",
    scope="app-1/user_impersonate",
    client_id="client-1",
)


async def mint(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    return jwt.encode(dict(claims), KEY, algorithm="RS256", headers={"kid": KID, **header})


def jwks() -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}


def resource_app(disabled: frozenset[str]) -> Starlette:
    """A protected resource validating like the lab's gateway, minus the ``disabled`` checks."""

    def challenge(status: int, error: str) -> Response:
        return Response(
            status_code=status,
            headers={"WWW-Authenticate": f'Bearer error="{error}", scope="{TARGET.scope}"'},
        )

    async def mcp(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer scope="x"'})
        token = auth.removeprefix("Bearer ")
        try:
            header = jwt.get_unverified_header(token)
            if "signature" in disabled:
                claims = jwt.decode(token, options={"verify_signature": False})
            else:
                if header.get("kid") != KID:
                    raise jwt.InvalidTokenError("unknown kid")
                claims = jwt.decode(
                    token,
                    KEY.public_key(),
                    algorithms=["RS256"],
                    audience=None if "audience" in disabled else TARGET.app_client_id,
                    issuer=None if "issuer" in disabled else ISSUER,
                    options={
                        "verify_aud": "audience" not in disabled,
                        "verify_exp": "expiry" not in disabled,
                    },
                )
            if "tenant" not in disabled and claims.get("tid") != TARGET.tenant_id:
                raise jwt.InvalidTokenError("tenant")
            if "claim_types" not in disabled and not isinstance(claims.get("exp"), int | float):
                raise jwt.InvalidTokenError("exp is not a number")  # PyJWT takes "123"
        except jwt.PyJWTError:
            return challenge(401, "invalid_token")
        granted = str(claims.get("scp", "")).split()
        if "roles_as_scopes" in disabled:
            granted += claims.get("roles", [])
        if "scope" not in disabled and "user_impersonate" not in granted:
            return challenge(403, "insufficient_scope")
        return JSONResponse({"jsonrpc": "2.0", "id": 1, "result": {}})

    return Starlette(routes=[Route("/mcp", mcp, methods=["POST"])])


async def run(disabled: frozenset[str]) -> dict[str, Outcome]:
    target = replace(TARGET, minter=mint)
    transport = httpx.ASGITransport(app=resource_app(disabled))
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.test") as http:
        results = await check_forgeries(http, target.mcp_url, forgeries(target, ISSUER, None, jwks()))
    return {r.name: r.outcome for r in results}


@pytest.mark.anyio
async def test_every_forgery_refused_by_a_correct_resource() -> None:
    outcomes = await run(frozenset())
    assert outcomes, "the battery ran no case"
    assert all(o is Outcome.PASS for o in outcomes.values()), outcomes


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("disabled", "must_fail"),
    [
        ({"audience"}, "forged.wrong_audience"),
        ({"issuer"}, "forged.wrong_issuer"),
        ({"expiry"}, "forged.expired"),
        # another tenant's token also carries another issuer: both checks must go for it to pass
        ({"tenant", "issuer"}, "forged.wrong_tenant"),
        ({"scope"}, "forged.missing_scope"),
        ({"signature"}, "forged.bad_signature"),
        ({"signature"}, "forged.alg_none"),
        ({"signature"}, "forged.unknown_kid"),
        ({"signature"}, "forged.hs256_public_key"),
        ({"claim_types"}, "forged.exp_as_string"),
        ({"tenant"}, "forged.tid_mismatch"),
        ({"audience"}, "forged.aud_api_client_id"),
        ({"roles_as_scopes"}, "forged.roles_instead_of_scp"),
        ({"roles_as_scopes"}, "forged.app_only"),
        ({"scope"}, "forged.app_only"),
    ],
)
async def test_removing_a_protection_is_reported(disabled: set[str], must_fail: str) -> None:
    outcomes = await run(frozenset(disabled))
    assert outcomes[must_fail] is Outcome.FAIL


@pytest.mark.anyio
async def test_cases_needing_the_key_are_skipped_without_a_minter() -> None:
    transport = httpx.ASGITransport(app=resource_app(frozenset()))
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.test") as http:
        results = await check_forgeries(http, TARGET.mcp_url, forgeries(TARGET, ISSUER, None, jwks()))
    outcomes = {r.name: r.outcome for r in results}
    assert outcomes["forged.expired"] is Outcome.SKIP
    assert outcomes["forged.alg_none"] is Outcome.PASS


@pytest.mark.anyio
async def test_a_refusal_without_the_gateway_challenge_is_reported() -> None:
    # The resource above answers like the MCP server behind the gateway (no resource_metadata):
    # at the gateway that means the gateway let the token through.
    transport = httpx.ASGITransport(app=resource_app(frozenset()))
    target = replace(TARGET, minter=mint)
    async with httpx.AsyncClient(transport=transport, base_url="https://gw.test") as http:
        results = await check_forgeries(
            http,
            target.mcp_url,
            forgeries(target, ISSUER, None, jwks()),
            resource_metadata="https://gw.test/.well-known/oauth-protected-resource/mcp",
        )
    refused = [r for r in results if r.name != "forged.none"]
    assert refused
    assert all(r.outcome is Outcome.FAIL and "let the token through" in r.detail for r in refused)


def test_api_client_id_is_no_forgery_when_it_is_the_identifier_uri() -> None:
    target = replace(TARGET, scope="api://app-1/user_impersonate")
    names = {case.name for case in forgeries(target, ISSUER, None, jwks())}
    assert "aud_api_client_id" not in names
    assert {"exp_as_string", "tid_mismatch", "roles_instead_of_scp", "app_only"} <= names
