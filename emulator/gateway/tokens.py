"""Token checks of ``validate-jwt`` and ``validate-azure-ad-token`` (per request).

``validate-azure-ad-token`` trusts the local identity service (the emulator's Entra): its
signing keys and issuers (v2 ``<base>/login/<tenant>/v2.0`` and the v1 form) through
``emulator.identity.keys.verify_token``. ``validate-jwt`` verifies against the keys of its
``openid-config`` URLs (fetched over HTTPS, cached) and inline ``issuer-signing-keys``.
Claim rules (audiences, issuers, required claims, client application ids) are checked here.
``TokenRules`` is what an element asks (compiled by ``elements.identity``, which owns the step).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwt as pyjwt

from emulator.gateway.expr.netlib import Jwt
from emulator.tokens import TokenValidationError, is_numeric_date

if TYPE_CHECKING:
    from emulator.gateway.elements.core import Runtime
    from emulator.gateway.values import Val


@dataclass(frozen=True)
class ClaimRule:
    name: str
    match: str
    separator: str | None
    values: list[Val]


@dataclass(frozen=True)
class TokenRules:
    """What a ``validate-jwt`` / ``validate-azure-ad-token`` asks of a token (``kind``), as
    compiled by ``elements.identity``."""

    kind: str
    header_name: str | None
    query_name: str | None
    token_value: Val | None
    code: int
    message: str | None
    output_var: str | None
    audiences: list[Val]
    issuers: list[Val]
    claims: list[ClaimRule]
    tenant: Val | None = None
    client_apps: list[Val] = field(default_factory=list)
    backend_apps: list[Val] = field(default_factory=list)
    openid_urls: list[Val] = field(default_factory=list)
    keys: list[dict[str, str]] = field(default_factory=list)
    require_exp: bool = True
    require_scheme: str | None = None
    require_signed: bool = True
    clock_skew: int = 0


class TokenRejected(Exception):  # noqa: N818 - the APIM term
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


_REASONS = {
    "malformed": "TokenNotValid",
    "algorithm": "TokenSignatureAlgorithmNotAllowed",
    "unknown_key": "TokenSignatureKeyNotFound",
    "signature": "TokenSignatureInvalid",
    "issuer": "TokenIssuerNotAllowed",
    "expired": "TokenExpired",
    "not_yet_valid": "TokenNotYetValid",
    "audience": "TokenAudienceNotAllowed",
    "tenant": "TokenIssuerNotAllowed",
}
DEFAULT_MESSAGE = "Unauthorized. Access token is missing or invalid."


def extract(rules: TokenRules, rt: Runtime) -> str:
    ctx = rt.ctx
    if rules.token_value is not None:
        token = rules.token_value.text(ctx).strip()
    elif rules.query_name:
        token = ctx.Request.Url.Query.m_GetValueOrDefault(rules.query_name, "") or ""
    else:
        raw = ctx.Request.Headers.m_GetValueOrDefault(rules.header_name or "Authorization", "") or ""
        scheme, _, rest = raw.strip().partition(" ")
        if rules.require_scheme is not None and scheme.lower() != rules.require_scheme.lower():
            raise TokenRejected("TokenSchemeNotAllowed", DEFAULT_MESSAGE)
        token = rest.strip() if rest and scheme.lower() == "bearer" else raw.strip()
    if not token:
        raise TokenRejected("TokenNotPresent", DEFAULT_MESSAGE)
    return token


async def validate(rules: TokenRules, rt: Runtime) -> tuple[dict[str, Any], Jwt]:
    token = extract(rules, rt)
    header = _header(token)
    if rules.kind == "validate-azure-ad-token":
        claims = _aad(rules, rt, token)
    else:
        claims = await _generic(rules, rt, token, header)
    _check_claims(rules.claims, claims, rt)
    return claims, Jwt(header, claims)


# The claims a token is judged by, and the JSON type each must have: RFC 7519 section 4.1 for
# the registered ones (iss/sub StringOrURI, aud one or an array of them, exp/nbf/iat
# NumericDate); for Entra tokens (validate-azure-ad-token) also tid, azp, appid and scp (a
# space-separated string) and roles (an array of strings) - the access token claims reference,
# https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference. A claim of
# another type makes the token invalid (401): never a 500, never a pass.
_STRING_CLAIMS = ("iss", "sub")
_ENTRA_STRING_CLAIMS = ("iss", "sub", "tid", "azp", "appid", "scp")
_DATE_CLAIMS = ("exp", "nbf", "iat")


# Tokens (text, entra) whose claims were found well typed. A token's claims are a function of its
# text (the signed payload), so a client sending the same token again is not checked again: the
# checks cost ~8 µs per request of the lab policy (issue 20, gateway throughput). Bounded.
_WELL_TYPED: dict[tuple[str, bool], None] = {}
_WELL_TYPED_SIZE = 1024


def _check_types(token: str, claims: dict[str, Any], *, entra: bool) -> None:
    if (token, entra) in _WELL_TYPED:
        return
    _check_claim_types(claims, entra=entra)
    if len(_WELL_TYPED) >= _WELL_TYPED_SIZE:
        _WELL_TYPED.clear()
    _WELL_TYPED[token, entra] = None


def _check_claim_types(claims: dict[str, Any], *, entra: bool) -> None:
    get = claims.get
    for name in _ENTRA_STRING_CLAIMS if entra else _STRING_CLAIMS:
        value = get(name, "")
        if not isinstance(value, str):
            raise TokenRejected("TokenNotValid", DEFAULT_MESSAGE)
    for name in _DATE_CLAIMS:
        if name in claims and not is_numeric_date(claims[name]):
            raise TokenRejected("TokenNotValid", DEFAULT_MESSAGE)
    aud = get("aud", "")
    if not isinstance(aud, str) and not (
        isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud)
    ):
        raise TokenRejected("TokenNotValid", DEFAULT_MESSAGE)
    roles = get("roles")
    if (
        entra
        and "roles" in claims
        and not (isinstance(roles, list) and all(isinstance(r, str) for r in roles))
    ):
        raise TokenRejected("TokenNotValid", DEFAULT_MESSAGE)


def _header(token: str) -> dict[str, Any]:
    """The JOSE header (cheap: PyJWT's own helper validates the base64 char by char)."""
    first = token.split(".", 1)[0]
    try:
        value = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise TokenRejected("TokenNotValid", DEFAULT_MESSAGE) from exc
    if not isinstance(value, dict) or token.count(".") != 2:
        raise TokenRejected("TokenNotValid", DEFAULT_MESSAGE)
    return value


def _aad(rules: TokenRules, rt: Runtime, token: str) -> dict[str, Any]:
    from emulator.identity import verify_token

    ectx = rt.services.emulator
    assert rules.tenant is not None
    tenant = rules.tenant.text(rt.ctx).strip()
    issuers = {ectx.issuer(tenant), ectx.v1_issuer(tenant)}
    try:
        claims = verify_token(ectx, token, issuers=issuers)
    except TokenValidationError as exc:
        raise TokenRejected(_REASONS.get(exc.reason, "TokenNotValid"), DEFAULT_MESSAGE) from exc
    _check_types(token, claims, entra=True)
    if claims.get("tid") not in (None, tenant):
        raise TokenRejected("TokenIssuerNotAllowed", DEFAULT_MESSAGE)
    auds = _aud_list(claims)
    if rules.audiences:
        allowed = {v.text(rt.ctx) for v in rules.audiences}
        if not allowed & set(auds):
            raise TokenRejected("TokenAudienceNotAllowed", DEFAULT_MESSAGE)
    if rules.backend_apps:
        allowed = {v.text(rt.ctx) for v in rules.backend_apps}
        if not allowed & set(auds):
            raise TokenRejected("TokenAudienceNotAllowed", DEFAULT_MESSAGE)
    if rules.client_apps:
        allowed = {v.text(rt.ctx) for v in rules.client_apps}
        client = claims.get("azp", claims.get("appid"))
        if not isinstance(client, str) or client not in allowed:
            raise TokenRejected("TokenClientApplicationNotAllowed", DEFAULT_MESSAGE)
    return claims


def _aud_list(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    return [a for a in auds if isinstance(a, str)]


async def _generic(rules: TokenRules, rt: Runtime, token: str, header: dict[str, Any]) -> dict[str, Any]:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise TokenRejected("TokenSignatureAlgorithmNotAllowed", DEFAULT_MESSAGE)
    keys: list[dict[str, Any]] = list(rules.keys)
    config_issuers: list[str] = []
    for url_val in rules.openid_urls:
        config = await rt.services.openid_config(url_val.text(rt.ctx))
        keys.extend(config.keys)
        if config.issuer:
            config_issuers.append(config.issuer)
    kid = header.get("kid")
    candidates = [k for k in keys if not kid or not k.get("kid") or k.get("kid") == kid]
    if not candidates:
        raise TokenRejected("TokenSignatureKeyNotFound", DEFAULT_MESSAGE)
    claims: dict[str, Any] | None = None
    for key in candidates:
        try:
            if key.get("kty") == "oct":
                if not alg.startswith("HS"):
                    continue
                secret = base64.b64decode(key["k"] + "=" * (-len(key["k"]) % 4))
                claims = _decode(token, secret, alg, rules)
            elif key.get("kty") == "RSA":
                if not alg.startswith(("RS", "PS")):
                    continue
                public = pyjwt.PyJWK(
                    {k: v for k, v in key.items() if k in ("kty", "n", "e", "kid", "use")}, algorithm=alg
                ).key
                claims = _decode(token, public, alg, rules)
            else:
                continue
            break
        except pyjwt.ExpiredSignatureError as exc:
            raise TokenRejected("TokenExpired", DEFAULT_MESSAGE) from exc
        except pyjwt.ImmatureSignatureError as exc:
            raise TokenRejected("TokenNotYetValid", DEFAULT_MESSAGE) from exc
        except pyjwt.MissingRequiredClaimError as exc:
            raise TokenRejected("TokenExpirationTimeMissing", DEFAULT_MESSAGE) from exc
        except (pyjwt.PyJWTError, ValueError, KeyError, TypeError):
            continue
    if claims is None:
        raise TokenRejected("TokenSignatureInvalid", DEFAULT_MESSAGE)
    _check_types(token, claims, entra=False)
    issuers = [v.text(rt.ctx) for v in rules.issuers] or config_issuers
    if issuers and claims.get("iss") not in issuers:
        raise TokenRejected("TokenIssuerNotAllowed", DEFAULT_MESSAGE)
    if rules.audiences:
        allowed = {v.text(rt.ctx) for v in rules.audiences}
        if not allowed & set(_aud_list(claims)):
            raise TokenRejected("TokenAudienceNotAllowed", DEFAULT_MESSAGE)
    return claims


def _decode(token: str, key: Any, alg: str, rules: TokenRules) -> dict[str, Any]:
    options: Any = {
        "verify_aud": False,
        "verify_iss": False,
        "verify_exp": True,
        "verify_nbf": True,
    }
    if rules.require_exp:
        options["require"] = ["exp"]
    claims: dict[str, Any] = pyjwt.decode(
        token, key, algorithms=[alg], options=options, leeway=rules.clock_skew
    )
    return claims


def _claim_values(value: Any, separator: str | None) -> list[str]:
    if isinstance(value, list):
        items = [v if isinstance(v, str) else json.dumps(v) for v in value]
    elif isinstance(value, str):
        items = [value]
    elif isinstance(value, bool):
        items = ["true" if value else "false"]
    else:
        items = [json.dumps(value)]
    if separator:
        return [part for item in items for part in item.split(separator) if part]
    return items


def _check_claims(rules: list[ClaimRule], claims: dict[str, Any], rt: Runtime) -> None:
    for rule in rules:
        if rule.name not in claims:
            raise TokenRejected("TokenClaimNotFound", DEFAULT_MESSAGE)
        if not rule.values:
            continue
        have = set(_claim_values(claims[rule.name], rule.separator))
        wanted = [v.text(rt.ctx) for v in rule.values]
        ok = all(w in have for w in wanted) if rule.match == "all" else any(w in have for w in wanted)
        if not ok:
            raise TokenRejected("TokenClaimValueNotAllowed", DEFAULT_MESSAGE)


_ = time
