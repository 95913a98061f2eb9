"""The ARM pacer: predicted token buckets from the remaining-requests headers (pure, virtual time).

A small discrete-event simulation plays N concurrent clients sharing one ``RatePacer`` against a
server bucket (``emulator.arm.throttle.TokenBucket``, or a coarser one refilling whole seconds)
with a fixed latency per request, so the figures are exact and nothing sleeps.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass

import anyio
import pytest

from emulator.arm.throttle import Limit, TokenBucket
from orchestrator.pacing import AZURE_ARM_BUCKETS, BucketModel, RatePacer, op_type

AZURE_WRITES = Limit(200, 10)


@dataclass
class Result:
    seconds: float
    throttled: int
    sent: int


class CoarseBucket:
    """A server bucket that adds ``refill`` whole tokens at each whole second (not continuously)."""

    def __init__(self, size: int, refill: int) -> None:
        self.size, self.refill, self.tokens, self.second = size, refill, float(size), 0

    def take(self, now: float) -> bool:
        while self.second < math.floor(now):
            self.second += 1
            self.tokens = min(self.size, self.tokens + self.refill)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def simulate(
    pacer: RatePacer | None,
    requests: int,
    *,
    workers: int = 10,
    latency: float = 0.05,
    coarse: bool = False,
    headers: bool = True,
    foreign: int = 0,
    limit: Limit = AZURE_WRITES,
    stall: float = 0.0,
) -> Result:
    """``requests`` writes by ``workers`` clients; a 429 is retried after ``Retry-After`` (as the SDK
    does). ``foreign`` tokens are taken by another client of the subscription at t=0.5 s. ``stall``:
    a loaded server that only gets to its pending requests every ``stall`` seconds (give or take a
    seeded random tenth), then handles them all at once; responses come back ``latency / 2`` later."""
    continuous = TokenBucket.full(limit, 0.0)
    coarse_bucket = CoarseBucket(int(limit.size), int(limit.refill))
    rng = random.Random(7)

    def take(now: float) -> tuple[bool, int, float]:
        if coarse:
            ok = coarse_bucket.take(now)
            return ok, math.floor(coarse_bucket.tokens), 1.0
        wait = continuous.wait(now)
        if wait > 0:
            return False, 0, max(1.0, math.ceil(wait))
        continuous.tokens -= 1
        return True, math.floor(continuous.tokens + 1e-9), 0.0

    queue: list[tuple[float, int, int, str]] = []
    seq = 0

    def push(at: float, worker: int, action: str) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, (at, seq, worker, action))

    todo, done, throttled, sent, now = requests, 0, 0, 0, 0.0
    foreign_done = foreign == 0
    for w in range(workers):
        push(0.0, w, "try")
    while queue:
        now, _, worker, action = heapq.heappop(queue)
        if not foreign_done and now >= 0.5:
            for _ in range(foreign):
                take(now)
            foreign_done = True
        if action == "try":
            if todo == 0:
                continue
            if pacer is not None:
                wait = pacer.delay("writes", now)
                if wait > 0:  # inf: the probe is out; ask again once it has come back
                    push(now + (latency if math.isinf(wait) else wait), worker, "try")
                    continue
            todo -= 1
            sent += 1
            arrive = now + latency / 2
            if stall:
                arrive = (math.floor(arrive / stall) + 1) * stall + rng.random() * stall / 10
            push(arrive, worker, "arrive")
        elif action == "arrive":
            ok, remaining, retry_after = take(now)
            push(now + latency / 2, worker, f"done:{int(ok)}:{remaining}:{retry_after}")
        else:
            _, ok_s, remaining_s, retry_s = action.split(":")
            ok = ok_s == "1"
            if pacer is not None:
                pacer.observe(
                    "writes",
                    now,
                    int(remaining_s) if headers else None,
                    throttled=not ok,
                    retry_after=float(retry_s) if not ok else None,
                )
            if ok:
                done += 1
                push(now, worker, "try")
            else:
                throttled += 1
                todo += 1
                push(now + float(retry_s), worker, "try")
    return Result(now, throttled, sent)


def floor_seconds(requests: int, size: float = 200, refill: float = 10) -> float:
    return max(0.0, (requests - size) / refill)


def test_unpaced_clients_run_into_429s() -> None:
    result = simulate(None, 1600)
    assert result.throttled > 100  # the problem the pacer solves


def test_paced_writes_meet_the_bucket_floor_without_429() -> None:
    pacer = RatePacer()
    result = simulate(pacer, 1600)
    assert result.throttled == 0
    assert result.seconds <= floor_seconds(1600) * 1.03


def test_a_coarser_refill_than_modelled_is_absorbed_by_the_reserve() -> None:
    result = simulate(RatePacer(), 1600, coarse=True)
    assert result.throttled == 0
    assert result.seconds <= floor_seconds(1600) * 1.05


def test_another_client_draining_the_bucket_costs_few_429s() -> None:
    result = simulate(RatePacer(), 1600, foreign=150)
    assert result.throttled <= 16  # <= 1% of the writes
    assert result.seconds <= floor_seconds(1600 + 150) * 1.05


def test_requests_delivered_late_and_bunched_do_not_overflow_a_small_bucket() -> None:
    """Refill the server cannot store (its bucket is full while our requests are still on their
    way) must not be spent twice: at most what the bucket holds may be in flight."""
    pacer = RatePacer({"writes": BucketModel(5, 40)})
    result = simulate(pacer, 400, limit=Limit(5, 40), stall=0.5, workers=40)
    assert result.throttled == 0


def test_one_probe_then_no_pacing_without_headers() -> None:
    """A target that does not throttle (no remaining-count headers) is slowed only by the probe."""
    pacer = RatePacer()
    assert pacer.delay("writes", 0.0) == 0
    assert pacer.delay("writes", 0.0) == math.inf  # the probe is out
    pacer.observe("writes", 0.0, None)
    for _ in range(5000):
        assert pacer.delay("writes", 0.0) == 0
    for _ in range(5000):
        pacer.observe("writes", 0.0, None)
    assert pacer.delay("writes", 0.0) == 0


def test_the_probe_finds_a_drained_bucket() -> None:
    pacer = RatePacer()
    assert pacer.delay("writes", 0.0) == 0
    pacer.observe("writes", 0.0, 3)  # another run left 3 tokens
    assert pacer.delay("writes", 0.0) == pytest.approx((10 + 1 - 3) / 10)


def test_prediction_waits_for_the_refill() -> None:
    pacer = RatePacer({"writes": BucketModel(200, 10)})
    assert pacer.delay("writes", 0.0) == 0
    pacer.observe("writes", 0.0, 10)  # the server says 10 left; the reserve is 10 (one second)
    wait = pacer.delay("writes", 0.0)
    assert wait == pytest.approx(0.1)  # one token's refill
    assert pacer.delay("writes", wait) == 0


def test_in_flight_requests_are_assumed_uncounted() -> None:
    pacer = RatePacer({"writes": BucketModel(200, 10)})
    assert pacer.delay("writes", 0.0) == 0
    pacer.observe("writes", 0.0, 199)  # the probe
    for _ in range(5):
        assert pacer.delay("writes", 0.0) == 0
    pacer.observe("writes", 0.0, 100)  # 4 still in flight: the server may not have counted them
    assert pacer._buckets["writes"].tokens == 96
    for _ in range(4):
        pacer.observe("writes", 0.0, 150)  # higher counts while others are in flight: not trusted
    assert pacer._buckets["writes"].tokens == 150  # the last one, alone in flight, is exact


def test_a_429_blocks_until_retry_after() -> None:
    pacer = RatePacer()
    assert pacer.delay("deletes", 0.0) == 0
    pacer.observe("deletes", 0.0, 0, throttled=True, retry_after=3)
    assert pacer.delay("deletes", 1.0) == pytest.approx(2.0)
    assert pacer.delay("reads", 1.0) == 0  # other operation types are not affected
    assert pacer.stats.throttled == 1


def test_documented_models_and_op_types() -> None:
    assert {
        "reads": BucketModel(250, 25),
        "writes": BucketModel(200, 10),
        "deletes": BucketModel(200, 10),
    } == AZURE_ARM_BUCKETS
    assert [op_type(m) for m in ("get", "HEAD", "PUT", "PATCH", "POST", "DELETE")] == [
        "reads",
        "reads",
        "writes",
        "writes",
        "writes",
        "deletes",
    ]


@pytest.mark.anyio
async def test_acquire_sleeps_the_predicted_time() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        await anyio.lowlevel.checkpoint()

    pacer = RatePacer({"writes": BucketModel(20, 10)}, clock=lambda: now[0], sleep=sleep)
    await pacer.acquire("writes")  # the probe
    got_second = anyio.Event()

    async def second() -> None:
        await pacer.acquire("writes")  # waits for the probe's response, then for one token
        got_second.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            assert not got_second.is_set()
            pacer.release("writes", 5)  # reserve = min(10, 20/4) = 5: the next must wait one token
    assert slept == [pytest.approx(0.1)]
    assert pacer.stats.waits == 1
    assert pacer.stats.waited_seconds == pytest.approx(0.1)
