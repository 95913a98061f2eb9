"""Incoming bearer-token validation: the server checks every token itself.

The gateway validates tokens before forwarding, but the container app's ingress can be reached
around it, so the server is at least as strict as the gateway's ``validate-azure-ad-token`` with
the lab's policy (``policy_templates/mcp-api-entra.xml.j2``): it refuses anything that is not a
v2 access token from its tenant's issuer (``<authority>/<tenant>/v2.0``, ``tid`` = the tenant)
for one of the audiences the gateway accepts (the client id, or a configured identifier URI from
``AZURE_CLIENT_AUDIENCES``; v2 tokens never carry ``api://<client id>``), signed RS256 by a key
published in the issuer's JWKS (found through OIDC discovery and cached; refreshed when an
unknown ``kid`` shows up, at most once per ``min_refresh_s``), inside its ``nbf``/``exp``
window. Claims have Entra's types or the token is refused: ``exp``/``nbf``/``iat`` numbers
(PyJWT alone would take ``"exp": "9999999999"``), ``iss``/``tid``/``scp`` strings, ``aud`` a
string or a list of strings, ``roles`` a list of strings. ``alg: none`` and every symmetric
algorithm are refused before any key is looked at, so a token HMAC-signed with the public key
cannot pass.

Scopes are the delegated ``scp`` only, as the gateway's ``required-claims`` on ``scp``: app
roles (``roles``, and so every app-only token) grant nothing here, so such a token is valid but
lacks the scope (403 ``insufficient_scope``, as at the gateway).

``EntraTokenVerifier`` implements the ``mcp`` SDK's ``TokenVerifier``; the SDK's bearer middleware
turns ``None`` into ``401`` with ``WWW-Authenticate: Bearer error="invalid_token"`` and a token
without the required scope into ``403``. Tokens are never logged — only the reason a token was
refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import jwt
from mcp.server.auth.provider import AccessToken

from mcp_server.config import Settings

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("RS256",)
LEEWAY_S = 60


class JwksError(Exception):
    """Discovery or the JWKS could not be fetched or parsed."""


class OidcJwks:
    """Signing keys of one issuer, found by OIDC discovery and cached."""

    def __init__(
        self,
        discovery_url: str,
        http: httpx.AsyncClient,
        *,
        ttl_s: float = 3600.0,
        min_refresh_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._discovery_url = discovery_url
        self._http = http
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()
        self.fetches = 0  # how many times the JWKS was downloaded (observable by tests)

    async def get(self, kid: str) -> jwt.PyJWK | None:
        """The key with this ``kid``, or ``None`` if the issuer does not publish it."""
        async with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at > self._ttl_s
            unknown = kid not in self._keys
            may_refresh = self._fetched_at is None or now - self._fetched_at >= self._min_refresh_s
            if stale or (unknown and may_refresh):
                await self._fetch()
            return self._keys.get(kid)

    async def _fetch(self) -> None:
        try:
            discovery = await self._get_json(self._discovery_url)
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
                raise JwksError("OIDC discovery has no https jwks_uri")
            document = await self._get_json(jwks_uri)
        finally:
            # Even a failed fetch counts, so a broken issuer is not hammered on every request.
            self._fetched_at = self._clock()
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if (
                not isinstance(entry, dict)
                or entry.get("kty") != "RSA"
                or not isinstance(entry.get("kid"), str)
            ):
                continue
            if entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256")
            except jwt.PyJWTError:
                log.warning("ignoring an unusable JWKS key %r", entry.get("kid"))
        self._keys = keys
        self.fetches += 1

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as exc:
            raise JwksError(f"GET {url} failed: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise JwksError(f"GET {url} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise JwksError(f"GET {url} did not answer JSON") from exc
        if not isinstance(body, dict):
            raise JwksError(f"GET {url} did not answer a JSON object")
        return body


class EntraTokenVerifier:
    """``mcp.server.auth.provider.TokenVerifier`` for Entra v2 access tokens (and the emulator's)."""

    def __init__(self, settings: Settings, jwks: OidcJwks) -> None:
        self._issuer = settings.issuer
        self._tenant = settings.tenant_id
        self._audiences = list(settings.audiences)
        self._jwks = jwks

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = await self._validate(token)
        except InvalidTokenError as exc:
            log.info("bearer token refused: %s", exc)
            return None
        # Delegated scopes only: an app role is not a scope (the gateway requires `scp` too).
        # Split on spaces only, as the gateway's `separator=" "` (a tab is not a separator there).
        scopes = [scope for scope in str(claims.get("scp", "")).split(" ") if scope]
        return AccessToken(
            token=token,
            client_id=str(claims.get("azp") or claims.get("appid") or ""),
            scopes=scopes,
            expires_at=int(claims["exp"]),
            subject=str(claims.get("oid") or claims.get("sub") or "") or None,
            claims={"iss": claims["iss"], "tid": claims.get("tid")},
        )

    async def _validate(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("not a JWT") from exc
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise InvalidTokenError(f"algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("no kid in the header")
        try:
            key = await self._jwks.get(kid)
        except JwksError as exc:
            raise InvalidTokenError(f"signing keys unavailable: {exc}") from exc
        if key is None:
            raise InvalidTokenError(f"unknown kid {kid!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=self._audiences,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError("expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidTokenError("not yet valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidTokenError("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidTokenError("wrong issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidTokenError("bad signature") from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"invalid ({type(exc).__name__})") from exc
        _check_types(claims)
        if claims["tid"] != self._tenant:
            raise InvalidTokenError("wrong tenant (tid)")
        return claims


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_types(claims: dict[str, Any]) -> None:
    """Entra's claim types, or the token is refused (PyJWT converts ``"exp": "123"`` with int())."""
    if not _number(claims.get("exp")):
        raise InvalidTokenError("exp is not a number")
    for name in ("nbf", "iat"):
        if name in claims and not _number(claims[name]):
            raise InvalidTokenError(f"{name} is not a number")
    for name in ("iss", "tid"):
        if not isinstance(claims.get(name), str):
            raise InvalidTokenError(f"{name} is missing or not a string")
    aud = claims.get("aud")
    if not (isinstance(aud, str) or _strings(aud)):
        raise InvalidTokenError("aud is not a string or a list of strings")
    if "scp" in claims and not isinstance(claims["scp"], str):
        raise InvalidTokenError("scp is not a string")
    if "roles" in claims and not _strings(claims["roles"]):
        raise InvalidTokenError("roles is not a list of strings")


class InvalidTokenError(Exception):
    """Why a token was refused (safe to log: never contains the token)."""
