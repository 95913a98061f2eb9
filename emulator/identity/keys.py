"""Signing keys of the identity service: persistence, rotation, JWKS, signing, verification.

Where it sits: every token the identity service issues is signed here (``sign``); every part
of the emulator that accepts a token (the APIM gateway's ``validate-jwt`` /
``validate-azure-ad-token``, Graph's ``/me``, the token endpoint itself for assertions)
verifies it here (``verify_token``). ``public_jwks`` is what
``/login/{tenant}/discovery/v2.0/keys`` serves.

Keys are RSA-2048, RS256, persisted as one JSON file in the state folder
(``<state>/identity-keys.json``, mode 0600) so that tokens survive an emulator restart. Each
key has a status:

* ``current``  — signs new tokens, is published, validates;
* ``previous`` — no longer signs, still published and still validates (after a rotation);
* ``retired``  — not published, never validates again.

``rotate_keys`` makes a fresh key current and the old current previous (an older previous is
retired); ``retire_previous`` retires the previous key. Both are also admin routes
(``/_emulator/identity/keys/rotate|retire``).

Speed: private/public key objects are cached per state folder (reloaded only when the file
changes), and ``verify_token`` remembers the claims of tokens whose signature it already
checked (bounded cache, cleared on rotation), so the gateway's hot path costs a dict lookup
plus the time checks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.context import EmulatorContext
from emulator.tokens import TokenValidationError, is_numeric_date, unverified_header

KeyStatus = Literal["current", "previous", "retired"]

KEYS_FILE = "identity-keys.json"
ALGORITHM = "RS256"
CLOCK_SKEW_S = 300  # Entra and validate-jwt both tolerate five minutes of skew
_VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    status: KeyStatus
    created: int
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    jwk: Mapping[str, str]


class _KeyRing:
    """The loaded keys of one state folder, plus the verified-token cache."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._name = str(path)  # os.stat of a str: Path.stat re-derives it every call
        self.lock = threading.RLock()
        self.mtime_ns = -1
        self.keys: tuple[SigningKey, ...] = ()
        self.by_kid: dict[str, SigningKey] = {}
        self.verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def load(self) -> None:
        """(Re)load from disk when the file changed; create a first key when there is none."""
        with self.lock:
            try:
                mtime = os.stat(self._name).st_mtime_ns
            except FileNotFoundError:
                self._write([_new_entry("current")])
                mtime = os.stat(self._name).st_mtime_ns
            if mtime == self.mtime_ns:
                return
            entries = json.loads(self.path.read_text())["keys"]
            self.keys = tuple(_entry_to_key(e) for e in entries)
            self.by_kid = {k.kid: k for k in self.keys if k.status != "retired"}
            self.verified.clear()
            self.mtime_ns = mtime

    def entries(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = json.loads(self.path.read_text())["keys"]
        return entries

    def _write(self, entries: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"keys": entries}, f, indent=1)
        os.replace(tmp, self.path)

    def rewrite(self, entries: list[dict[str, Any]]) -> None:
        with self.lock:
            self._write(entries)
            self.mtime_ns = -1
            self.load()


_RINGS: dict[Path, _KeyRing] = {}
_RINGS_LOCK = threading.Lock()


def _ring(ctx: EmulatorContext) -> _KeyRing:
    # Keyed by the state folder itself: a path built per call cost more than the stat below
    # (the gateway verifies every request's token here; issue 20, gateway throughput).
    ring = _RINGS.get(ctx.state_dir)
    if ring is None:
        with _RINGS_LOCK:
            ring = _RINGS.setdefault(ctx.state_dir, _KeyRing(Path(ctx.state_dir) / KEYS_FILE))
    ring.load()
    return ring


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64u(value: int) -> str:
    return _b64u(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _new_entry(status: KeyStatus) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return {"status": status, "created": int(time.time()), "pem": pem}


def _entry_to_key(entry: Mapping[str, Any]) -> SigningKey:
    private = serialization.load_pem_private_key(entry["pem"].encode("ascii"), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    public = private.public_key()
    numbers = public.public_numbers()
    n, e = _int_b64u(numbers.n), _int_b64u(numbers.e)
    # RFC 7638 thumbprint: the kid is stable for a key, whatever file it comes from.
    thumb = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True)
    kid = _b64u(hashlib.sha256(thumb.encode()).digest())[:27]
    jwk = {"kty": "RSA", "use": "sig", "alg": ALGORITHM, "kid": kid, "x5t": kid, "n": n, "e": e}
    return SigningKey(kid, entry["status"], int(entry["created"]), private, public, jwk)


# --------------------------------------------------------------------------- public API


def signing_keys(ctx: EmulatorContext) -> tuple[SigningKey, ...]:
    """Every key with its status (retired ones included), oldest first."""
    return _ring(ctx).keys


def current_key(ctx: EmulatorContext) -> SigningKey:
    ring = _ring(ctx)
    for key in ring.keys:
        if key.status == "current":
            return key
    raise RuntimeError(f"no current signing key in {ring.path}")  # pragma: no cover - file edited by hand


def public_jwks(ctx: EmulatorContext, tenant: str | None = None) -> dict[str, Any]:
    """The JWKS document: current and previous keys (never retired ones)."""
    issuer = ctx.issuer(tenant)
    keys = [{**key.jwk, "issuer": issuer} for key in reversed(_ring(ctx).keys) if key.status != "retired"]
    return {"keys": keys}


def sign(ctx: EmulatorContext, claims: Mapping[str, Any], *, typ: str = "JWT") -> str:
    """Sign ``claims`` (RS256) with the current key; the header carries ``kid`` (and ``x5t``)."""
    key = current_key(ctx)
    return jwt.encode(
        dict(claims),
        key.private_key,
        algorithm=ALGORITHM,
        headers={"kid": key.kid, "x5t": key.kid, "typ": typ},
    )


def rotate_keys(ctx: EmulatorContext) -> SigningKey:
    """New current key; the old current becomes previous; an older previous is retired."""
    ring = _ring(ctx)
    with ring.lock:
        entries = ring.entries()
        for entry in entries:
            if entry["status"] == "previous":
                entry["status"] = "retired"
            elif entry["status"] == "current":
                entry["status"] = "previous"
        entries.append(_new_entry("current"))
        ring.rewrite(entries)
    return current_key(ctx)


def retire_previous(ctx: EmulatorContext) -> list[str]:
    """Retire the previous key(s): tokens they signed stop validating. Returns retired kids."""
    ring = _ring(ctx)
    with ring.lock:
        entries = ring.entries()
        retired = []
        for entry, key in zip(entries, ring.keys, strict=True):
            if entry["status"] == "previous":
                entry["status"] = "retired"
                retired.append(key.kid)
        ring.rewrite(entries)
    return retired


def verify_token(
    ctx: EmulatorContext,
    token: str,
    *,
    audiences: Collection[str] | None = None,
    tenant: str | None = None,
    issuers: Collection[str] | None = None,
    now: float | None = None,
    leeway_s: float = CLOCK_SKEW_S,
) -> dict[str, Any]:
    """Verify a token this identity service issued; return its claims.

    Checks: well-formed JWS, ``alg`` RS256 only (``none`` and HMAC confusion refused), ``kid``
    naming a current or previous key, the signature, ``iss`` (the v2 issuer of ``tenant``,
    default the emulator's tenant; or any of ``issuers`` when given), ``exp`` and ``nbf``
    (with ``leeway_s`` of skew) and, when ``audiences`` is given, ``aud`` being one of them.
    Raises ``TokenValidationError`` (with ``reason``) on any failure.
    """
    ring = _ring(ctx)
    claims = ring.verified.get(token)
    if claims is None:
        header = unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise TokenValidationError("algorithm", f"token algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        key = ring.by_kid.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenValidationError("unknown_key", f"no signing key with kid {kid!r} (rotated away?)")
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
            )
        except jwt.InvalidSignatureError as exc:
            raise TokenValidationError("signature", "token signature is invalid") from exc
        except jwt.PyJWTError as exc:
            raise TokenValidationError("malformed", f"token could not be decoded: {exc}") from exc
        with ring.lock:
            ring.verified[token] = claims
            if len(ring.verified) > _VERIFIED_CACHE_SIZE:
                ring.verified.popitem(last=False)
    expected = set(issuers) if issuers is not None else {ctx.issuer(tenant)}
    iss = claims.get("iss")
    # Claims of the wrong JSON type are a malformed token, never a crash (a list is unhashable)
    # nor a pass: iss is a StringOrURI, exp/nbf NumericDates (RFC 7519 sections 4.1.1, 4.1.4,
    # 4.1.5, 2) - a JSON number, not a string or a boolean.
    if not isinstance(iss, str) or iss not in expected:
        raise TokenValidationError("issuer", f"token issuer {iss!r} is not accepted")
    t = time.time() if now is None else now
    exp = claims.get("exp")
    if exp is not None and not is_numeric_date(exp):
        raise TokenValidationError("malformed", "token exp is not a NumericDate")
    if exp is None or t > exp + leeway_s:
        raise TokenValidationError("expired", "token has expired")
    nbf = claims.get("nbf")
    if nbf is not None and not is_numeric_date(nbf):
        raise TokenValidationError("malformed", "token nbf is not a NumericDate")
    if nbf is not None and t + leeway_s < nbf:
        raise TokenValidationError("not_yet_valid", "token is not valid yet")
    if audiences is not None:
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and a in audiences for a in auds):
            raise TokenValidationError("audience", f"token audience {aud!r} is not accepted")
    return dict(claims)
