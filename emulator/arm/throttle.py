"""ARM's subscription throttling: token buckets per subscription, region, principal and operation type.

Where it sits: ``ThrottleMiddleware`` wraps the main port's router inside the fault injector
(``emulator.app``) and sees every subscription-scoped ARM request (``/subscriptions/<id>/...``)
before the ARM router does; ``/_emulator/throttling`` (``emulator.admin``) reads and switches the settings.

What Azure does (Microsoft Learn, "Understand how Azure Resource Manager throttles requests",
https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling,
section "Regional throttling and token bucket algorithm"): since 2024 ARM throttles per region
with a token bucket per operation type. Subscription scope: reads 250 tokens refilled at 25/s,
deletes 200 at 10/s, writes 200 at 10/s. "Subscription limits apply per subscription, per
service principal, and per operation type"; on top, a global subscription limit "equivalent to
15 times the individual service principal limits" across all principals. A request is throttled
when either bucket is empty: 429 with ``Retry-After`` (seconds to wait). Remaining requests are
read from ``x-ms-ratelimit-remaining-subscription-reads`` on reads, ``-writes`` on writes and
``-deletes`` on deletes.

The 429 body is ARM's envelope with code ``SubscriptionRequestsThrottled`` and the message ARM
words as "Number of 'read' requests for subscription '<id>' actor '<principal>' exceeded. Please
try again after '<n>' seconds." (quoted verbatim from a production response in public code; the
Learn page gives no body).

Here: the emulator is one ARM region, so the buckets are keyed by (subscription, principal,
operation type) plus the global (subscription, operation type) bucket; the principal is the
bearer token's ``oid`` (read, not verified: checking the token is the ARM router's job).
GET/HEAD are reads, DELETE deletes, everything else (PUT, PATCH, POST) writes. Requests outside
a subscription (``GET /subscriptions``, ``/providers``) are tenant-level and not throttled here.
A throttled request takes no token. The clock is injected so the buckets are unit-tested
without waiting.
"""

from __future__ import annotations

import base64
import json
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from starlette.types import ASGIApp, Receive, Scope, Send

DOC_URL = (
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling"
)
OpType = Literal["reads", "writes", "deletes"]
OP_TYPES: tuple[OpType, ...] = ("reads", "writes", "deletes")
GLOBAL_FACTOR = 15  # the global subscription bucket is 15x the per-principal one (DOC_URL)
HEADER = "x-ms-ratelimit-remaining-subscription-"
_SINGULAR: dict[OpType, str] = {"reads": "read", "writes": "write", "deletes": "delete"}
_EPSILON = 1e-9  # float refill arithmetic: 0.04 s x 25/s is a whole token


@dataclass(frozen=True, slots=True)
class Limit:
    """One bucket: ``size`` tokens at most, ``refill`` tokens added per second."""

    size: float
    refill: float

    def scaled(self, factor: float) -> Limit:
        return Limit(self.size * factor, self.refill * factor)


# Subscription scope, per principal and region (DOC_URL, "Regional throttling and token bucket").
AZURE_LIMITS: Mapping[OpType, Limit] = {
    "reads": Limit(250, 25),
    "deletes": Limit(200, 10),
    "writes": Limit(200, 10),
}


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    enabled: bool = True
    limits: Mapping[OpType, Limit] = field(default_factory=lambda: dict(AZURE_LIMITS))

    def as_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            **{op: {"size": lim.size, "refill": lim.refill} for op, lim in self.limits.items()},
            "globalFactor": GLOBAL_FACTOR,
            "source": DOC_URL,
        }

    def configure(self, data: Mapping[str, Any]) -> ThrottleSettings:
        """A (partial) settings document applied over these settings; validates everything.

        Keys: ``enabled`` (bool), ``scale`` (multiplies Azure's numbers; e.g. 0.1 for tests),
        and per operation type ``{"size": n, "refill": n}``. Raises ``ValueError``.
        """
        unknown = set(data) - {"enabled", "scale", *OP_TYPES}
        if unknown:
            raise ValueError(f"unknown throttling settings: {', '.join(sorted(unknown))}")
        new = self
        if "enabled" in data:
            if not isinstance(data["enabled"], bool):
                raise ValueError("enabled must be true or false")
            new = replace(new, enabled=data["enabled"])
        if "scale" in data:
            scale = data["scale"]
            if not _positive(scale):
                raise ValueError("scale must be a number > 0")
            new = replace(new, limits={op: lim.scaled(float(scale)) for op, lim in AZURE_LIMITS.items()})
        limits = dict(new.limits)
        for op in OP_TYPES:
            if op not in data:
                continue
            value = data[op]
            if not isinstance(value, Mapping) or set(value) != {"size", "refill"}:
                raise ValueError(f"{op} must be an object with size and refill")
            if not _positive(value["size"]) or not _positive(value["refill"]) or value["size"] < 1:
                raise ValueError(f"{op}: size must be >= 1 and refill > 0")
            limits[op] = Limit(float(value["size"]), float(value["refill"]))
        return replace(new, limits=limits)


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


@dataclass(slots=True)
class TokenBucket:
    """Starts full; refills continuously at ``limit.refill`` up to ``limit.size``."""

    limit: Limit
    tokens: float
    updated: float

    @classmethod
    def full(cls, limit: Limit, now: float) -> TokenBucket:
        return cls(limit, limit.size, now)

    def level(self, now: float) -> float:
        if now > self.updated:
            self.tokens = min(self.limit.size, self.tokens + (now - self.updated) * self.limit.refill)
            self.updated = now
        return self.tokens

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 when there is one now)."""
        missing = 1.0 - self.level(now)
        return 0.0 if missing <= _EPSILON else missing / self.limit.refill


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int  # what the remaining-requests header says (after this request)
    retry_after: int  # whole seconds, >= 1 when throttled; 0 when allowed


class Throttle:
    """The buckets of every (subscription, principal, operation type), plus the global ones."""

    def __init__(
        self, settings: ThrottleSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or ThrottleSettings()
        self.clock = clock
        self._buckets: dict[tuple[str, str | None, OpType], TokenBucket] = {}

    def configure(self, data: Mapping[str, Any]) -> None:
        """Apply a partial settings document (``ValueError`` if invalid); every bucket starts full."""
        self.settings = self.settings.configure(data)
        self._buckets.clear()

    def _bucket(self, subscription: str, principal: str | None, op: OpType, now: float) -> TokenBucket:
        key = (subscription, principal, op)
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = self.settings.limits[op]
            if principal is None:
                limit = limit.scaled(GLOBAL_FACTOR)
            bucket = self._buckets[key] = TokenBucket.full(limit, now)
        return bucket

    def admit(self, subscription: str, principal: str, op: OpType) -> Decision:
        """Take one token from the principal's and the global bucket, or refuse (taking none)."""
        now = self.clock()
        subscription = subscription.lower()
        own = self._bucket(subscription, principal, op, now)
        shared = self._bucket(subscription, None, op, now)
        wait = max(own.wait(now), shared.wait(now))
        if wait > 0:
            remaining = math.floor(min(own.level(now), shared.level(now)) + _EPSILON)
            return Decision(False, max(0, remaining), max(1, math.ceil(wait)))
        own.tokens -= 1
        shared.tokens -= 1
        return Decision(True, max(0, math.floor(min(own.tokens, shared.tokens) + _EPSILON)), 0)


def op_type(method: str) -> OpType:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


def principal_of(authorization: str) -> str:
    """The caller's object id from a bearer JWT's payload (not verified here), else ``unknown``."""
    if not authorization.lower().startswith("bearer "):
        return "unknown"
    parts = authorization[7:].strip().split(".")
    if len(parts) < 2:
        return "unknown"
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return "unknown"
    if not isinstance(payload, dict):
        return "unknown"
    oid = payload.get("oid") or payload.get("appid") or payload.get("sub")
    return str(oid) if oid else "unknown"


def throttled_body(op: OpType, subscription: str, principal: str, retry_after: int) -> dict[str, Any]:
    return {
        "error": {
            "code": "SubscriptionRequestsThrottled",
            "message": f"Number of '{_SINGULAR[op]}' requests for subscription '{subscription}' actor "
            f"'{principal}' exceeded. Please try again after '{retry_after}' seconds.",
        }
    }


def _subscription_of(path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return parts[1]
    return None


class ThrottleMiddleware:
    """Admits or refuses every subscription-scoped ARM request; adds the remaining-requests header."""

    def __init__(self, app: ASGIApp, throttle: Throttle) -> None:
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscription = _subscription_of(scope["path"]) if scope["type"] == "http" else None
        if subscription is None or not self.throttle.settings.enabled:
            await self.app(scope, receive, send)
            return
        authorization = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
        op = op_type(scope["method"])
        principal = principal_of(authorization)
        decision = self.throttle.admit(subscription, principal, op)
        header = (f"{HEADER}{op}".encode(), str(decision.remaining).encode())
        if not decision.allowed:
            body = json.dumps(
                throttled_body(op, subscription, principal, decision.retry_after), separators=(",", ":")
            ).encode()
            headers = [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(decision.retry_after).encode()),
                (b"x-ms-request-id", str(uuid.uuid4()).encode()),
                header,
            ]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, send_with_header)
