"""Fault injection for ARM and Graph calls: added latency, throttling (429), server errors (500/503).

Where it sits: an ASGI middleware between the request log and the sub-apps of the main port.
Settings live in ``ctx.faults`` (``emulator.context.Faults``) plus two knobs kept here
(``apis``: which APIs the faults hit, default ARM and Graph; ``retry_after_ms``: the delay a
429 asks for). They are switched per run with ``/_emulator/faults`` (``admin``) or the
``python -m emulator`` flags. Graph's replication delay is read by ``emulator.graph`` itself, the
role assignments' propagation delay (``rbac_propagation_s``) by ``emulator.rbac``.

Deterministic: every decision draws from one ``random.Random(seed)``, re-seeded each time the
settings are changed, so a given seed and call sequence always fault the same calls. ``script``
is more direct still: a list of outcomes (``"throttle"``, ``"error500"``, ``"error503"`` or
``"pass"``) for the next calls to the faulted APIs, one each, used up before the rates apply —
"the 2nd Graph call answers 500" without any randomness.

``hold`` (``{"method": "DELETE", "path": "/deletedservices/"}``) stops every matching call (any
API; path matched as a case-insensitive substring) before it reaches the emulated service: the
call waits, ``held`` counts it, and when the hold is changed or cleared it is answered 503 and
never processed — a deterministic point at which a test interrupts a client ("the purge was
sent, nothing was done yet").

What a faulted call answers, as the real services do:
* 429 — ARM: ``retry-after-ms`` and ``Retry-After`` (whole seconds, at least 1: ``Retry-After: 0``
  makes azure-core wait 30 s); Graph: ``Retry-After``. Body in each API's error envelope.
* 500 / 503 (half each) — ARM ``{"error":{"code","message"}}``; Graph OData error; identity
  (when ``apis`` includes it) Entra's ``{"error", "error_description", "error_codes", ...}``.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.context import Faults
from emulator.reqlog import api_of

FaultKind = Literal["throttle", "error500", "error503"]
_APIS = frozenset({"arm", "graph", "identity"})
_SCRIPTED = ("throttle", "error500", "error503", "pass")


class FaultConfigError(ValueError):
    """A fault setting is out of range."""


@dataclass(slots=True)
class FaultInjector:
    faults: Faults
    apis: frozenset[str] = frozenset({"arm", "graph"})
    retry_after_ms: int = 200
    rng: random.Random = field(default_factory=random.Random)
    script: list[str] = field(default_factory=list)  # outcomes of the next calls, used up first
    hold: dict[str, str] | None = None  # {"method", "path"}: matching calls wait (module doc)
    held: int = 0  # calls that matched ``hold`` since it was set
    released: Any = None  # anyio.Event set when ``hold`` changes (made inside the event loop)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.faults.seed)

    def as_json(self) -> dict[str, Any]:
        f = self.faults
        return {
            "latency_ms": f.latency_ms,
            "throttle_rate": f.throttle_rate,
            "error_rate": f.error_rate,
            "replication_delay_s": f.replication_delay_s,
            "rbac_propagation_s": f.rbac_propagation_s,
            "seed": f.seed,
            "apis": sorted(self.apis),
            "retry_after_ms": self.retry_after_ms,
            "script": list(self.script),
            "hold": dict(self.hold) if self.hold else None,
            "held": self.held,
        }

    def configure(self, data: Mapping[str, Any]) -> None:
        """Apply a (partial) settings document; validates everything before changing anything."""
        unknown = set(data) - (set(self.as_json()) - {"held"})
        if unknown:
            raise FaultConfigError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        new = {**self.as_json(), **data}
        for name in ("latency_ms", "replication_delay_s", "rbac_propagation_s", "retry_after_ms"):
            value = new[name]
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise FaultConfigError(f"{name} must be a number >= 0")
        for name in ("throttle_rate", "error_rate"):
            value = new[name]
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise FaultConfigError(f"{name} must be a number between 0 and 1")
        if new["throttle_rate"] + new["error_rate"] > 1:
            raise FaultConfigError("throttle_rate + error_rate must not exceed 1")
        seed = new["seed"]
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise FaultConfigError("seed must be an integer or null")
        apis = new["apis"]
        if not isinstance(apis, list | tuple | frozenset | set) or not set(apis) <= _APIS:
            raise FaultConfigError(f"apis must be a list drawn from {sorted(_APIS)}")
        script = new["script"]
        if not isinstance(script, list) or not all(isinstance(k, str) and k in _SCRIPTED for k in script):
            raise FaultConfigError(f"script must be a list drawn from {list(_SCRIPTED)}")
        hold = new["hold"]
        if hold is not None and not (
            isinstance(hold, dict)
            and set(hold) == {"method", "path"}
            and all(isinstance(v, str) and v for v in hold.values())
        ):
            raise FaultConfigError('hold must be null or {"method": "<HTTP method>", "path": "<substring>"}')
        f = self.faults
        f.latency_ms = float(new["latency_ms"])
        f.throttle_rate = float(new["throttle_rate"])
        f.error_rate = float(new["error_rate"])
        f.replication_delay_s = float(new["replication_delay_s"])
        f.rbac_propagation_s = float(new["rbac_propagation_s"])
        f.seed = seed
        self.apis = frozenset(apis)
        self.retry_after_ms = int(new["retry_after_ms"])
        self.rng = random.Random(seed)
        self.script = list(script)
        if "hold" in data:
            if self.released is not None:
                self.released.set()  # answer the calls of the previous hold
            self.released = None
            self.hold = {"method": hold["method"].upper(), "path": hold["path"].lower()} if hold else None
            self.held = 0

    def holds(self, method: str, path: str) -> bool:
        hold = self.hold
        return hold is not None and method.upper() == hold["method"] and hold["path"] in path.lower()

    def decide(self) -> FaultKind | None:
        if self.script:
            scripted = self.script.pop(0)
            return None if scripted == "pass" else cast(FaultKind, scripted)
        f = self.faults
        if f.throttle_rate <= 0 and f.error_rate <= 0:
            return None
        draw = self.rng.random()
        if draw < f.throttle_rate:
            return "throttle"
        if draw < f.throttle_rate + f.error_rate:
            return "error500" if self.rng.random() < 0.5 else "error503"
        return None


def fault_response(
    kind: FaultKind, api: str, retry_after_ms: int, client_request_id: str | None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of a faulted call, in the envelope of ``api``."""
    status, code, message = {
        "throttle": (429, "TooManyRequests", "Too many requests. Retry after the given delay."),
        "error500": (500, "InternalServerError", "The service encountered an internal error."),
        "error503": (503, "ServiceUnavailable", "The service is temporarily unavailable."),
    }[kind]
    request_id = str(uuid.uuid4())
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
    error: dict[str, Any] = {"code": code, "message": message}
    if api == "identity":  # Entra's OAuth error shape
        body = {
            "error": "temporarily_unavailable" if kind != "error500" else "server_error",
            "error_description": f"AADSTS50196: {message}" if kind == "throttle" else message,
            "error_codes": [50196] if kind == "throttle" else [90033],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": request_id,
            "correlation_id": client_request_id or request_id,
        }
        if kind == "throttle":
            headers.append((b"retry-after", str(max(1, math.ceil(retry_after_ms / 1000))).encode()))
        return status, headers, json.dumps(body).encode()
    if api == "graph":
        error["code"] = {"error500": "generalException", "error503": "serviceNotAvailable"}.get(kind, code)
        error["innerError"] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": client_request_id or request_id,
        }
        headers.append((b"request-id", request_id.encode()))
    else:
        headers.append((b"x-ms-request-id", request_id.encode()))
    if kind == "throttle":
        seconds = max(1, math.ceil(retry_after_ms / 1000))
        headers.append((b"retry-after", str(seconds).encode()))
        if api != "graph":
            headers.append((b"retry-after-ms", str(retry_after_ms).encode()))
    return status, headers, json.dumps({"error": error}).encode()


class FaultMiddleware:
    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = api_of(scope["path"])
        inj = self.injector
        if inj.holds(scope["method"], scope["path"]):
            if inj.released is None:
                inj.released = anyio.Event()
            released = inj.released
            inj.held += 1
            await released.wait()
            status, headers, body = fault_response("error503", api, inj.retry_after_ms, None)
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if api not in inj.apis:
            await self.app(scope, receive, send)
            return
        if inj.faults.latency_ms > 0:
            await anyio.sleep(inj.faults.latency_ms / 1000)
        kind = inj.decide()
        if kind is None:
            await self.app(scope, receive, send)
            return
        client_request_id = None
        for name, value in scope["headers"]:
            if name == b"client-request-id":
                client_request_id = value.decode("latin-1")
        status, headers, body = fault_response(kind, api, inj.retry_after_ms, client_request_id)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
