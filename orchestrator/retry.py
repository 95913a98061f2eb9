"""Retry policy for one provider call: exponential backoff with jitter, honouring server hints.

Flow: ``apply`` wraps every provider write (and ``engine`` every read) in ``call_with_retry``.
Providers translate throttling (429 with ``Retry-After`` / ``retry-after-ms``), 5xx, APIM 409
conflicts and Entra replication lag into ``TemporaryError(delay=...)``; everything else they
raise is final. A ``NotInEffectError`` (a role assignment not in effect yet) is probed again on its
own budget: ``probe_wait`` intervals, up to its ``limit`` from its first occurrence, whatever the
policy's attempts and deadline. This module decides how long to wait and when to give up — it never inspects
HTTP itself; ``retry_delay`` is the one reading of a server's delay hint from response headers
(providers, the verifier's transport and the local credential use it).

The clock, the sleep and the random source are injected so tests run without real sleeping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import anyio

from orchestrator.errors import NotInEffectError, TemporaryError

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
Random = Callable[[], float]  # uniform in [0, 1)
OnRetry = Callable[[int, float, TemporaryError], None]  # (attempt that failed, wait, error)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a ``TemporaryError`` is retried.

    Without a server hint the n-th wait is ``min(max_delay, base_delay * multiplier**(n-1))``
    scaled by a random factor in ``[1 - jitter, 1]`` ("equal jitter": spreads the herd, keeps a
    floor). A server hint (``TemporaryError.delay``) is honoured as a minimum: the wait is the hint
    plus up to ``hint_jitter`` of it (so clients told the same ``Retry-After`` do not return in
    lock-step). The call gives up after ``max_attempts`` attempts, or when the next wait would end
    after ``deadline`` seconds since the first attempt.
    """

    max_attempts: int = 8
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 20.0
    jitter: float = 0.5
    hint_jitter: float = 0.1
    deadline: float = 300.0

    def wait_for(self, attempt: int, error: TemporaryError, rand: float) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if error.delay is not None:
            hint = max(0.0, error.delay)
            return hint + hint * self.hint_jitter * rand
        backoff = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        return backoff * (1.0 - self.jitter * rand)


DEFAULT_POLICY = RetryPolicy()


# Azure RBAC: "Role assignment changes can take up to 10 minutes to take effect" (Learn,
# "Troubleshoot Azure RBAC", https://learn.microsoft.com/azure/role-based-access-control/troubleshooting):
# how long an operation that needs a new role assignment is probed before the wait gives up.
RBAC_PROPAGATION_LIMIT_S = 600.0
PROBE_MIN_S = 0.25
PROBE_MAX_S = 15.0


def probe_wait(waited: float) -> float:
    """The wait before probing again for a change to take effect, after ``waited`` seconds of
    waiting: a quarter of the time waited, within [PROBE_MIN_S, PROBE_MAX_S] — a short effect is
    seen within a quarter of its delay (2 s locally: at most ~0.5 s late), a long one (Azure
    RBAC: minutes) costs a probe every 15 s, not hundreds of requests. No jitter: the probed
    operation is the caller's own, nobody else's herd."""
    return min(PROBE_MAX_S, max(PROBE_MIN_S, waited / 4))


def retry_delay(headers: Mapping[str, str] | Any | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``x-ms-retry-after-ms`` / ``Retry-After``."""
    if headers is None:
        return None

    def get(name: str) -> str | None:
        value = headers.get(name)
        if value is None:
            value = headers.get(name.lower())
        return None if value is None else str(value)

    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        raw = get(name)
        if raw is not None:
            try:
                return max(0.0, float(raw) / 1000.0)
            except ValueError:
                pass
    raw = get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        import datetime as _dt

        when = parsedate_to_datetime(raw)
        return max(0.0, (when - _dt.datetime.now(tz=_dt.UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


class RetriesExhaustedError(TemporaryError):
    """A temporary error that kept happening: reported as the node's failure."""


async def call_with_retry(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    sleep: Sleep = anyio.sleep,
    clock: Clock = time.monotonic,
    rand: Random = random.random,
    on_retry: OnRetry | None = None,
) -> tuple[T, int]:
    """Run ``fn`` until it succeeds; returns ``(result, attempts)``.

    Only ``TemporaryError`` is retried; any other exception propagates at once. When the policy
    gives up, ``RetriesExhaustedError`` names the resource, the attempts and the last cause.
    Cancellation (Ctrl-C) interrupts a wait immediately.
    """
    started = clock()
    attempt = 0
    waiting_since: float | None = None  # first NotInEffectError of the current wait
    effect_waits = 0.0  # time spent waiting for effects: not counted against policy.deadline
    probes = 0  # attempts refused with NotInEffectError: not counted against policy.max_attempts
    while True:
        attempt += 1
        try:
            return await fn(), attempt
        except NotInEffectError as exc:
            now = clock()
            waiting_since = now if waiting_since is None else waiting_since
            waited = now - waiting_since
            wait = probe_wait(waited)
            if waited + wait > exc.limit:
                raise RetriesExhaustedError(
                    exc.resource,
                    f"gave up after {waited:.0f}s (limit {exc.limit:.0f}s) waiting for {exc.waiting_for}: {exc.cause}",
                ) from exc
            if on_retry is not None:
                on_retry(attempt, wait, exc)
            await sleep(wait)
            effect_waits += wait
            probes += 1
        except TemporaryError as exc:
            waiting_since = None
            wait = policy.wait_for(attempt - probes, exc, rand())
            elapsed = clock() - started - effect_waits
            if attempt - probes >= policy.max_attempts or elapsed + wait > policy.deadline:
                raise RetriesExhaustedError(
                    exc.resource,
                    f"still failing after {attempt} attempt{'s' if attempt > 1 else ''} "
                    f"over {elapsed:.1f}s: {exc.cause}",
                ) from exc
            if on_retry is not None:
                on_retry(attempt, wait, exc)
            await sleep(wait)
