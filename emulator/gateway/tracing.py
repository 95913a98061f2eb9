"""APIM request tracing as Azure serves it: debug credentials, the trace of one request, its store.

Where it sits: ARM's ``POST .../service/{s}/gateways/managed/listDebugCredentials`` (``emulator/arm``)
issues a credential here; the local gateway (``app``) checks the ``Apim-Debug-Authorization``
header of a request against it, records what each policy element did while the pipeline runs
(``Recorder``, fed by ``elements.core.run_steps``) and answers ``Apim-Trace-Id``; ARM's
``POST .../gateways/managed/listTrace {"traceId"}`` returns the stored record.

The contract (Learn, "Tutorial: Debug your APIs using request tracing",
articles/api-management/api-management-howto-api-inspector.md; REST spec
specification/apimanagement/resource-manager/Microsoft.ApiManagement/stable/2024-05-01/apimgateways.json,
``Gateway_ListDebugCredentials`` / ``Gateway_ListTrace``):

- the body names the full resource id of one API (``apiId``), ``purposes: ["tracing"]`` and
  ``credentialsExpireAfter`` (ISO 8601 duration, default and maximum one hour);
- the answer is ``{"token": "aid=<api>&..."}``; a request carrying it in ``Apim-Debug-Authorization``
  is traced and answered with ``Apim-Trace-Id``; an expired credential is answered with
  ``Apim-Debug-Authorization-Expired``, one for another API with ``Apim-Debug-Authorization-WrongAPI``
  (the request itself is served as usual, untraced).

Security: the credential is an HMAC (SHA-256) over the API id, the purpose and the expiry with a
random per-service key kept in the emulator's store (never in a response or a log); the gateway
compares in constant time. Trace records never hold the debug credential, the ``Authorization``
header or other secrets (``_SECRET_HEADERS`` are shown as ``***``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from emulator.store import Store

TRACE_KIND = "apim/traces"
SECRET_KIND = "apim/debug-secret"
MAX_LIFETIME_S = 3600  # "the expiry time is limited to a maximum of 1 hour" (Learn, above)
MAX_TRACES = 200  # per service; the oldest go first
DEBUG_HEADER = "apim-debug-authorization"
_SECRET_HEADERS = frozenset({"authorization", DEBUG_HEADER, "ocp-apim-subscription-key", "cookie"})
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


class DebugCredentialError(ValueError):
    """A listDebugCredentials body Azure refuses (the ARM layer answers 400 ValidationError)."""


def parse_duration(text: str) -> float:
    """Seconds of an ISO 8601 duration (``PT1H``, ``PT30M``, ``P0DT0H5M``), or ValueError."""
    m = _DURATION.match(text or "")
    if m is None or text in ("P", "PT"):
        raise ValueError(f"'{text}' is not an ISO 8601 duration")
    return int(m["d"] or 0) * 86400 + int(m["h"] or 0) * 3600 + int(m["m"] or 0) * 60 + float(m["s"] or 0)


def _key(store: Store, service_key: str) -> bytes:
    stored = store.get(SECRET_KIND, service_key)
    if stored is None:
        stored = store.put(SECRET_KIND, service_key, {"key": secrets.token_hex(32)}, parent=service_key)
    return bytes.fromhex(str(stored.body["key"]))


def _sign(key: bytes, api: str, purpose: str, expires: int) -> str:
    mac = hmac.new(key, f"{api.lower()}\n{purpose}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue(store: Store, service_key: str, api_id: str, lifetime_s: float, now: float | None = None) -> str:
    """A tracing credential for ``api_id`` (the API's name, lower-case) valid ``lifetime_s``."""
    expires = int((time.time() if now is None else now) + lifetime_s)
    sig = _sign(_key(store, service_key), api_id, "tracing", expires)
    return urlencode({"aid": api_id.lower(), "p": "tracing", "ex": expires, "sig": sig})


def invalidate(store: Store, service_key: str) -> None:
    """``Gateway_InvalidateDebugCredentials``: a new key, so every issued credential fails."""
    store.put(SECRET_KIND, service_key, {"key": secrets.token_hex(32)}, parent=service_key)


@dataclass(frozen=True, slots=True)
class Check:
    """What the gateway does with an ``Apim-Debug-Authorization`` header."""

    trace: bool
    header: tuple[str, str] | None = None  # the response header that says why not


def check(store: Store, service_key: str, token: str, api_id: str, now: float | None = None) -> Check:
    """Is ``token`` a valid tracing credential for the API ``api_id`` (its name) right now?"""
    fields = dict(parse_qsl(token, keep_blank_values=True))
    try:
        expires = int(fields.get("ex", ""))
    except ValueError:
        return Check(False, ("Apim-Debug-Authorization-Invalid", "The debug credential is malformed."))
    aid, purpose = fields.get("aid", ""), fields.get("p", "")
    want = _sign(_key(store, service_key), aid, purpose, expires)
    if purpose != "tracing" or not hmac.compare_digest(want, fields.get("sig", "")):
        return Check(False, ("Apim-Debug-Authorization-Invalid", "The debug credential is not valid."))
    if (time.time() if now is None else now) >= expires:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        return Check(False, ("Apim-Debug-Authorization-Expired", f"The debug credential expired at {when}."))
    if aid != api_id.lower():
        return Check(
            False,
            (
                "Apim-Debug-Authorization-WrongAPI",
                f"The debug credential was issued for another API ({aid}).",
            ),
        )
    return Check(True)


# APIM's reasons of validate-jwt / validate-azure-ad-token (``context.LastError.Reason``), in words.
REASONS = {
    "TokenNotPresent": "no token",
    "TokenSchemeNotAllowed": "not a Bearer token",
    "TokenNotValid": "not a valid JWT",
    "TokenAudienceNotAllowed": "audience mismatch",
    "TokenIssuerNotAllowed": "issuer not allowed",
    "TokenClientApplicationNotAllowed": "client application not allowed",
    "TokenClaimNotFound": "a required claim is missing",
    "TokenClaimValueNotAllowed": "a required claim value is missing (scope or role)",
    "TokenExpired": "token expired",
    "TokenNotYetValid": "token not yet valid",
    "TokenExpirationTimeMissing": "token has no expiry",
    "TokenSignatureInvalid": "signature invalid",
    "TokenSignatureKeyNotFound": "signing key not found",
    "TokenSignatureAlgorithmNotAllowed": "signature algorithm not allowed",
}


def refusal(reason: str, message: str) -> str:
    """The decision of an element that refused: ``refused — audience mismatch (Token...): msg``."""
    words = REASONS.get(reason)
    return f"refused — {words} ({reason}): {message}" if words else f"refused — {reason}: {message}"


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass
class Recorder:
    """The trace of one request: each element that ran, per scope and section, in order."""

    api: str
    operation: str
    method: str
    url: str
    started: float = field(default_factory=time.perf_counter)
    records: list[dict[str, Any]] = field(default_factory=list)
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)

    def begin(self, *, scope: str, section: str, name: str, line: int, depth: int) -> dict[str, Any]:
        """An element starts (recorded now, so nested elements follow their parent)."""
        entry: dict[str, Any] = {
            "scope": scope,
            "section": section,
            "source": name,
            "line": line,
            "depth": depth,
            "elapsed": self.elapsed_ms(),
        }
        self.records.append(entry)
        return entry

    @staticmethod
    def refusal(reason: str, message: str) -> str:
        return refusal(reason, message)

    def note(self, text: str) -> None:
        """What the running element decided (``choose``: the branch taken), shown with it."""
        for entry in reversed(self.records):
            if "decision" not in entry:  # the innermost element still running
                entry["note"] = _show(text)
                return

    def end(self, entry: dict[str, Any], decision: str, variables: dict[str, Any]) -> None:
        """It ended: ``ok``, ``refused — <reason>: <message>`` or ``returned <status>``."""
        entry["decision"] = decision
        entry["variables"] = {k: _show(v) for k, v in variables.items()}
        entry["duration"] = round(self.elapsed_ms() - float(entry["elapsed"]), 3)

    def document(self, status: int, request_headers: dict[str, str]) -> dict[str, Any]:
        """The stored trace (the body of ``listTrace``)."""
        headers = {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in request_headers.items()}
        return {
            "traceId": self.trace_id,
            "api": self.api,
            "operation": self.operation,
            "request": {"method": self.method, "url": self.url, "headers": headers},
            "response": {"status": status},
            "elapsed": self.elapsed_ms(),
            "traceEntries": self.records,
        }


def save(store: Store, service_key: str, document: dict[str, Any]) -> None:
    key = f"{service_key}/traces/{document['traceId']}"
    store.put(TRACE_KIND, key, {**document, "storedAt": time.time()}, parent=service_key)
    kept = sorted(store.list(TRACE_KIND, parent=service_key), key=lambda d: float(d.body.get("storedAt", 0)))
    for old in kept[:-MAX_TRACES]:
        store.delete(TRACE_KIND, old.key)


def load(store: Store, service_key: str, trace_id: str) -> dict[str, Any] | None:
    if not re.fullmatch(r"[0-9a-f]{32}", trace_id or ""):
        return None
    stored = store.get(TRACE_KIND, f"{service_key}/traces/{trace_id}")
    if stored is None:
        return None
    return {k: v for k, v in stored.body.items() if k != "storedAt"}
