"""Retry policy: backoff growth, jitter bounds, server hints honoured, give-up, no real sleeping."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

import anyio
import pytest

from orchestrator.errors import NotInEffectError, PermanentError, TemporaryError
from orchestrator.retry import RetriesExhaustedError, RetryPolicy, call_with_retry, probe_wait


class FakeTime:
    """A clock that only moves when the code under test 'sleeps'."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def flaky(errors: list[Exception], result: str = "ok") -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls: list[int] = []

    async def fn() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    return calls, fn


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (1, 0.0, 0.5),  # base delay, no jitter drawn
        (2, 0.0, 1.0),
        (3, 0.0, 2.0),
        (3, 1.0, 1.0),  # full jitter draw halves it (jitter=0.5)
        (10, 0.0, 20.0),  # capped at max_delay
    ],
)
def test_backoff_grows_and_is_capped(attempt: int, rand: float, expected: float) -> None:
    policy = RetryPolicy()
    assert policy.wait_for(attempt, TemporaryError("r", "busy"), rand) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("hint", "rand", "expected"),
    [(7.0, 0.0, 7.0), (7.0, 1.0, 7.7), (0.0, 1.0, 0.0), (45.0, 0.0, 45.0)],
)
def test_server_hint_is_a_minimum_even_above_max_delay(hint: float, rand: float, expected: float) -> None:
    policy = RetryPolicy()
    assert policy.wait_for(1, TemporaryError("r", "429", delay=hint), rand) == pytest.approx(expected)


def test_retries_temporary_errors_then_succeeds_without_real_sleep() -> None:
    t = FakeTime()
    calls, fn = flaky([TemporaryError("api.a", "429", delay=3.0), TemporaryError("api.a", "503")])
    retried: list[tuple[int, float]] = []

    async def main() -> tuple[str, int]:
        return await call_with_retry(
            fn,
            RetryPolicy(),
            sleep=t.sleep,
            clock=t.clock,
            rand=lambda: 0.0,
            on_retry=lambda n, w, e: retried.append((n, w)),
        )

    result = anyio.run(main)
    assert result == ("ok", 3)
    assert len(calls) == 3
    assert t.sleeps == [3.0, 1.0]  # the Retry-After hint, then the 2nd backoff step
    assert retried == [(1, 3.0), (2, 1.0)]


def test_permanent_error_is_not_retried() -> None:
    t = FakeTime()
    calls, fn = flaky([PermanentError("api.a", "400 bad request")])

    async def main() -> None:
        await call_with_retry(fn, sleep=t.sleep, clock=t.clock)

    with pytest.raises(PermanentError):
        anyio.run(main)
    assert len(calls) == 1
    assert t.sleeps == []


def test_gives_up_after_max_attempts_naming_the_cause() -> None:
    t = FakeTime()
    calls, fn = flaky([TemporaryError("nv.x", "503 unavailable") for _ in range(10)])

    async def main() -> None:
        await call_with_retry(fn, RetryPolicy(max_attempts=4), sleep=t.sleep, clock=t.clock)

    with pytest.raises(RetriesExhaustedError) as info:
        anyio.run(main)
    assert len(calls) == 4
    assert len(t.sleeps) == 3
    assert info.value.resource == "nv.x"
    assert "4 attempts" in info.value.message
    assert "503 unavailable" in info.value.message


def test_gives_up_when_the_deadline_would_pass() -> None:
    t = FakeTime()
    calls, fn = flaky([TemporaryError("a", "429", delay=40.0) for _ in range(10)])

    async def main() -> None:
        await call_with_retry(fn, RetryPolicy(deadline=100.0, hint_jitter=0.0), sleep=t.sleep, clock=t.clock)

    with pytest.raises(RetriesExhaustedError):
        anyio.run(main)
    assert t.sleeps == [40.0, 40.0]  # a third wait would end at 120 s > 100 s
    assert len(calls) == 3


def _not_in_effect(limit: float = 600.0) -> NotInEffectError:
    return NotInEffectError("container_app.server", "400 pull refused", "AcrPull to take effect", limit)


def test_a_change_not_in_effect_is_probed_on_its_own_budget() -> None:
    """Probes wait a quarter of the time waited (at least 0.25 s), beyond the policy's attempts;
    a temporary error afterwards still has the policy's attempts and deadline."""
    t = FakeTime()
    _, fn = flaky([_not_in_effect() for _ in range(12)] + [TemporaryError("a", "503")])
    waits: list[tuple[int, float, str]] = []

    async def main() -> tuple[str, int]:
        return await call_with_retry(
            fn,
            RetryPolicy(max_attempts=3, deadline=10.0),
            sleep=t.sleep,
            clock=t.clock,
            rand=lambda: 0.0,
            on_retry=lambda n, w, e: waits.append((n, w, type(e).__name__)),
        )

    assert anyio.run(main) == ("ok", 14)
    probes = t.sleeps[:12]
    assert probes[:2] == [0.25, 0.25]
    assert all(later >= earlier for earlier, later in itertools.pairwise(probes))
    for i, wait in enumerate(probes):
        assert wait == pytest.approx(probe_wait(sum(probes[:i])))
    assert t.sleeps[12] == 0.5  # the 503: first backoff step of the policy, not the 13th
    assert [w[2] for w in waits] == ["NotInEffectError"] * 12 + ["TemporaryError"]


def test_probe_wait_is_a_quarter_of_the_wait_within_bounds() -> None:
    assert probe_wait(0.0) == 0.25
    assert probe_wait(2.0) == 0.5
    assert probe_wait(40.0) == 10.0
    assert probe_wait(600.0) == 15.0


def test_a_change_never_in_effect_gives_up_at_its_limit_naming_what_it_waited_for() -> None:
    t = FakeTime()
    _, fn = flaky([_not_in_effect(limit=60.0) for _ in range(1000)])

    async def main() -> None:
        await call_with_retry(fn, sleep=t.sleep, clock=t.clock)

    with pytest.raises(RetriesExhaustedError) as info:
        anyio.run(main)
    assert sum(t.sleeps) <= 60.0
    assert sum(t.sleeps) + probe_wait(sum(t.sleeps)) > 60.0
    assert "(limit 60s) waiting for AcrPull to take effect: 400 pull refused" in info.value.message
