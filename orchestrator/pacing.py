"""Pacing ARM requests by the remaining-requests headers, so that a big reconcile does not run into 429s.

Where it sits: ``target.open_clients`` builds one ``RatePacer`` per target and hands it to both ARM
clients through ``orchestrator.pacing_policy.ArmPacingPolicy`` (an azure-core pipeline policy, on
every attempt, after the SDK's retry policy): before a subscription-scoped request the policy
``await pacer.acquire(op)``; with the response it calls ``pacer.observe(...)``. Providers and the
executor are unaware of it. This module is pure (clock and sleep injected) and unit-tested alone.

What it models: ARM's token buckets (Microsoft Learn, "Understand how Azure Resource Manager
throttles requests",
https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling):
per subscription, region and principal, one bucket per operation type — reads 250 tokens
refilled at 25/s, writes and deletes 200 at 10/s. Every response says how many tokens are left
(``x-ms-ratelimit-remaining-subscription-reads|writes|deletes``); the pacer keeps a prediction
of the bucket (the last remaining count, minus the requests it let through since, plus the refill
since) and lets a request go only while the prediction stays above a small reserve (one second of
refill, at most a quarter of the bucket: room for other clients and a coarser refill than
modelled). Otherwise it waits exactly until the predicted refill covers it. Over a long run it
therefore sends at the refill rate instead of bursting into 429s and sleeping ``Retry-After``.

Rules that keep it safe:
* Until the first response of an operation type, one request of that type is in flight at a time
  (the probe: the bucket may be anything, another run may just have drained it). A first response
  without the remaining-count header means the target does not throttle that type (throttling
  switched off): it is never slowed down again, unless a header or a 429 shows up later.
* Requests in flight are not yet counted by the server when another response reports its count:
  the estimate subtracts them (conservative), and only rises above the prediction when nothing
  else is in flight (then the server's count is exact). For the same reason the prediction never
  exceeds the bucket size minus the requests in flight: requests that reach the server late and
  in a bunch find at most a full bucket, whatever refill the client counted meanwhile.
* A 429 blocks the operation type until its ``Retry-After`` and empties the prediction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import anyio

OpType = Literal["reads", "writes", "deletes"]
OP_TYPES: tuple[OpType, ...] = ("reads", "writes", "deletes")
REMAINING_HEADER = "x-ms-ratelimit-remaining-subscription-"  # + reads | writes | deletes
_EPSILON = 1e-9  # float refill arithmetic: 0.1 s x 10/s is a whole token


@dataclass(frozen=True, slots=True)
class BucketModel:
    size: float  # tokens when full
    refill: float  # tokens per second


# Azure's documented subscription buckets (see the module docstring for the page).
AZURE_ARM_BUCKETS: Mapping[OpType, BucketModel] = {
    "reads": BucketModel(250, 25),
    "writes": BucketModel(200, 10),
    "deletes": BucketModel(200, 10),
}


def op_type(method: str) -> OpType:
    """How ARM counts a request: GET/HEAD read, DELETE delete, anything else (PUT/PATCH/POST) write."""
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


@dataclass(slots=True)
class _Bucket:
    model: BucketModel
    reserve: float
    tokens: float
    at: float = 0.0
    seen: bool = False  # the server reported this bucket at least once
    probed: bool = False  # a first response came back (with or without the header)
    in_flight: int = 0
    blocked_until: float = 0.0

    def level(self, now: float) -> float:
        """Predicted tokens now. Capped at the bucket size *minus the requests in flight*: until
        the server has counted them they may sit in its bucket, which holds no more than ``size``,
        so refill beyond that is lost on the server's side (a slow or stalled connection delivers
        requests late and in bunches) and must not be spent here."""
        if now > self.at:
            self.tokens += (now - self.at) * self.model.refill
            self.at = now
        self.tokens = min(self.tokens, self.model.size - self.in_flight)
        return self.tokens


@dataclass(slots=True)
class PacerStats:
    waits: int = 0  # acquisitions that had to wait
    waited_seconds: float = 0.0  # summed over all waiting requests
    throttled: int = 0  # 429 answers observed


@dataclass
class RatePacer:
    """Shared by every ARM client of one target (one subscription, one principal)."""

    models: Mapping[OpType, BucketModel] = field(default_factory=lambda: dict(AZURE_ARM_BUCKETS))
    reserve_seconds: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    stats: PacerStats = field(default_factory=PacerStats)
    _buckets: dict[OpType, _Bucket] = field(default_factory=dict, init=False, repr=False)
    _responses: dict[OpType, anyio.Event] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for op, model in self.models.items():
            reserve = min(model.refill * self.reserve_seconds, model.size / 4)
            self._buckets[op] = _Bucket(model, reserve, model.size)

    def delay(self, op: OpType, now: float) -> float:
        """0: the request may go now (counted as in flight); else seconds to wait before asking
        again; ``math.inf``: wait for the next response of this type (the probe is out)."""
        b = self._buckets.get(op)
        if b is None:
            return 0.0
        if now < b.blocked_until:
            return b.blocked_until - now
        if not b.probed:
            if b.in_flight > 0:
                return math.inf
            b.in_flight += 1
            return 0.0
        level = b.level(now)
        if not b.seen or level - 1 >= b.reserve - _EPSILON:
            b.tokens = level - 1
            b.in_flight += 1
            return 0.0
        return (b.reserve + 1 - level) / b.model.refill

    def observe(
        self,
        op: OpType,
        now: float,
        remaining: int | None,
        *,
        throttled: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """A response (or a failure without one) to a request ``delay`` let through."""
        b = self._buckets.get(op)
        if b is None:
            return
        b.in_flight = max(0, b.in_flight - 1)
        b.probed = True
        self._responded(op)
        if remaining is not None:
            predicted = b.level(now)
            estimate = remaining - b.in_flight  # the others in flight may not be counted yet
            b.tokens = estimate if (not b.seen or b.in_flight == 0) else min(predicted, estimate)
            b.at = now
            b.seen = True
        if throttled:
            self.stats.throttled += 1
            b.seen = True
            b.tokens = min(b.level(now), -float(b.in_flight))
            b.at = now
            wait = retry_after if retry_after is not None and retry_after > 0 else 1.0 / b.model.refill
            b.blocked_until = max(b.blocked_until, now + wait)

    def _responded(self, op: OpType) -> None:
        event = self._responses.pop(op, None)
        if event is not None:
            event.set()

    async def acquire(self, op: OpType) -> None:
        """Wait (if the predicted bucket is low) until a request of ``op`` may be sent."""
        waited = False
        started = self.clock()
        while (wait := self.delay(op, self.clock())) > 0:
            waited = True
            if math.isinf(wait):
                event = self._responses.get(op)
                if event is None:
                    event = self._responses[op] = anyio.Event()
                await event.wait()
            else:
                await self.sleep(wait)
        if waited:
            self.stats.waits += 1
            self.stats.waited_seconds += self.clock() - started

    def release(
        self, op: OpType, remaining: int | None, *, throttled: bool = False, retry_after: float | None = None
    ) -> None:
        """``observe`` at the current time."""
        self.observe(op, self.clock(), remaining, throttled=throttled, retry_after=retry_after)
