"""Long-running operations of the emulated ARM: status documents, polling URLs, settling.

Where it sits: a handler that answers 201/202 for a long operation calls ``start`` and sends
``lro_headers``; the SDK polls ``/subscriptions/{s}/providers/Microsoft.Resources/
operationStatuses/{id}`` (``Azure-AsyncOperation``), which answers ``InProgress`` until the
operation is due, then runs the operation's finisher once and answers ``Succeeded``.
Reading the resource settles a due operation too, so the result never depends on polling, and
both survive a restart (operations are store documents: ``arm/operations``, plus
``arm/pending`` keyed by the resource key).

Finishers are registered per action name (``register``) by the modules that start operations.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from emulator.context import EmulatorContext

OPS_KIND = "arm/operations"
PENDING_KIND = "arm/pending"
STATUS_PATH = "providers/Microsoft.Resources/operationStatuses"

Finisher = Callable[[EmulatorContext, dict[str, Any]], Awaitable[None]]
_FINISHERS: dict[str, Finisher] = {}


def register(action: str, finisher: Finisher) -> None:
    _FINISHERS[action] = finisher


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def start(
    ctx: EmulatorContext, action: str, resource_kind: str, resource_key: str, seconds: float, **data: Any
) -> str:
    """Record an operation due in ``seconds``; returns its id."""
    op_id = str(uuid.uuid4())
    now = time.time()
    body = {
        "id": op_id,
        "action": action,
        "status": "InProgress",
        "startTime": iso(now),
        "due": now + max(0.0, seconds),
        "resourceKind": resource_kind,
        "resourceKey": resource_key,
        "data": data,
    }
    with ctx.store.transaction():
        ctx.store.put(OPS_KIND, op_id, body)
        ctx.store.put(PENDING_KIND, resource_key, {"op": op_id, "action": action})
    return op_id


def status_url(ctx: EmulatorContext, op_id: str) -> str:
    return f"{ctx.base_url}/subscriptions/{ctx.subscription_id}/{STATUS_PATH}/{op_id}?api-version=2024-05-01"


def lro_headers(ctx: EmulatorContext, op_id: str, retry_after_ms: int) -> dict[str, str]:
    # Only retry-after-ms: azure-core reads Retry-After first and would wait whole seconds
    # (``Retry-After: 0`` counts as absent and makes it wait its 30 s default).
    return {"Azure-AsyncOperation": status_url(ctx, op_id), "retry-after-ms": str(retry_after_ms)}


async def _finish(ctx: EmulatorContext, op: dict[str, Any]) -> dict[str, Any]:
    finisher = _FINISHERS.get(op["action"])
    if finisher is not None:
        await finisher(ctx, op)
    op = {**op, "status": "Succeeded", "endTime": iso(time.time())}
    with ctx.store.transaction():
        ctx.store.put(OPS_KIND, op["id"], op)
        pending = ctx.store.get(PENDING_KIND, op["resourceKey"])
        if pending is not None and pending.body.get("op") == op["id"]:
            ctx.store.delete(PENDING_KIND, op["resourceKey"])
    return op


async def poll(ctx: EmulatorContext, op_id: str) -> dict[str, Any] | None:
    """The operation's status document (settling it when due); ``None`` if unknown."""
    doc = ctx.store.get(OPS_KIND, op_id)
    if doc is None:
        return None
    op = doc.body
    if op["status"] == "InProgress" and time.time() >= float(op["due"]):
        op = await _finish(ctx, op)
    return op


async def settle(ctx: EmulatorContext, resource_key: str) -> None:
    """Finish the resource's pending operation if it is due (called before reading it)."""
    pending = ctx.store.get(PENDING_KIND, resource_key)
    if pending is not None:
        await poll(ctx, str(pending.body["op"]))


def is_pending(ctx: EmulatorContext, resource_key: str, action: str | None = None) -> bool:
    pending = ctx.store.get(PENDING_KIND, resource_key)
    return pending is not None and (action is None or pending.body.get("action") == action)


def status_body(op: dict[str, Any]) -> dict[str, Any]:
    """What ``Azure-AsyncOperation`` answers."""
    body: dict[str, Any] = {
        "id": op["id"],
        "name": op["id"],
        "status": op["status"],
        "startTime": op["startTime"],
    }
    if "endTime" in op:
        body["endTime"] = op["endTime"]
    if op["status"] == "Failed":
        body["error"] = op.get("error", {"code": "Failed", "message": "The operation failed."})
    return body
