"""ARM's subscription token buckets: Azure's numbers, per principal + global, headers, 429 body.

Unit tests run the buckets on a fake clock; the middleware is driven through an ASGI transport;
one test runs a real emulator process (Azure's bucket size, a slowed refill so the count is exact).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from emulator.__main__ import parse_args
from emulator.arm.throttle import (
    AZURE_LIMITS,
    DOC_URL,
    Limit,
    Throttle,
    ThrottleMiddleware,
    ThrottleSettings,
    op_type,
    principal_of,
)
from tests.support.emulator import EmulatorFactory

SUB = "00000000-0000-0000-0000-000000000001"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token(oid: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"oid": oid}).encode()).rstrip(b"=").decode()
    return f"Bearer eyJhbGciOiJub25lIn0.{payload}."


# ------------------------------------------------------------------ the buckets (fake clock)


def test_azure_documented_numbers() -> None:
    # Learn, "Understand how Azure Resource Manager throttles requests": subscription scope
    assert {"reads": Limit(250, 25), "writes": Limit(200, 10), "deletes": Limit(200, 10)} == AZURE_LIMITS
    assert ThrottleSettings().enabled
    assert ThrottleSettings().as_json()["source"] == DOC_URL


@pytest.mark.parametrize(
    ("op", "size", "refill"), [("writes", 200, 10), ("reads", 250, 25), ("deletes", 200, 10)]
)
def test_bucket_drains_then_refills_at_the_documented_rate(op: Any, size: int, refill: int) -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    remaining = [throttle.admit(SUB, "p", op).remaining for _ in range(size)]
    assert remaining == list(range(size - 1, -1, -1))
    refused = throttle.admit(SUB, "p", op)
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after == 1  # whole seconds, at least 1
    clock.now += 1 / refill  # exactly one token back
    assert throttle.admit(SUB, "p", op).allowed
    assert not throttle.admit(SUB, "p", op).allowed
    clock.now += 3600  # refills up to the bucket size, never beyond
    assert throttle.admit(SUB, "p", op).remaining == size - 1


def test_operation_types_and_principals_have_their_own_buckets() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    for _ in range(200):
        assert throttle.admit(SUB, "p", "writes").allowed
    assert not throttle.admit(SUB, "p", "writes").allowed
    assert throttle.admit(SUB, "p", "reads").allowed
    assert throttle.admit(SUB, "p", "deletes").allowed
    assert throttle.admit(SUB, "other", "writes").allowed
    assert throttle.admit(SUB.replace("1", "2"), "p", "writes").allowed


def test_global_subscription_bucket_is_15_times_one_principal() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    for principal in range(15):
        for _ in range(200):
            assert throttle.admit(SUB, f"p{principal}", "writes").allowed
    # a 16th principal's own bucket is full, but the subscription's global one is empty
    refused = throttle.admit(SUB, "p15", "writes")
    assert not refused.allowed
    assert refused.retry_after == 1


def test_a_refused_request_takes_no_token() -> None:
    clock = Clock()
    throttle = Throttle(clock=clock)
    for _ in range(200):
        throttle.admit(SUB, "p", "writes")
    for _ in range(50):
        assert not throttle.admit(SUB, "p", "writes").allowed
    clock.now += 0.1
    assert throttle.admit(SUB, "p", "writes").allowed


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    clock = Clock()
    throttle = Throttle(ThrottleSettings().configure({"writes": {"size": 1, "refill": 0.25}}), clock=clock)
    assert throttle.admit(SUB, "p", "writes").allowed
    assert throttle.admit(SUB, "p", "writes").retry_after == 4


def test_settings_are_validated_and_reset_the_buckets() -> None:
    throttle = Throttle(clock=Clock())
    for _ in range(200):
        throttle.admit(SUB, "p", "writes")
    throttle.configure({"scale": 0.5})
    assert throttle.settings.limits["writes"] == Limit(100, 5)
    assert throttle.admit(SUB, "p", "writes").remaining == 99  # a fresh, full bucket
    bad_documents: list[tuple[dict[str, Any], str]] = [
        ({"scale": 0}, "scale must be"),
        ({"enabled": "yes"}, "enabled must be"),
        ({"writes": {"size": 0, "refill": 1}}, "writes: size must be"),
        ({"bursts": 1}, "unknown throttling settings: bursts"),
    ]
    for bad, message in bad_documents:
        with pytest.raises(ValueError, match=message):
            throttle.configure(bad)
    assert throttle.settings.limits["writes"] == Limit(100, 5)  # unchanged by refused documents


def test_op_type_and_principal() -> None:
    assert [op_type(m) for m in ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE")] == [
        "reads",
        "reads",
        "writes",
        "writes",
        "writes",
        "deletes",
    ]
    assert principal_of(token("abc")) == "abc"
    assert principal_of("Bearer opaque") == "unknown"
    assert principal_of("") == "unknown"


# ------------------------------------------------------------------ the middleware (ASGI)


def _app(throttle: Throttle) -> Any:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True}, status_code=201 if request.method == "PUT" else 200)

    methods = ["GET", "PUT", "POST", "DELETE", "PATCH"]
    inner = Starlette(
        routes=[Route("/subscriptions/{rest:path}", ok, methods=methods), Route("/subscriptions", ok)]
    )
    return ThrottleMiddleware(inner, throttle)


@pytest.mark.anyio
async def test_headers_per_operation_type_and_the_429_as_arm_sends_it() -> None:
    clock = Clock()
    throttle = Throttle(ThrottleSettings().configure({"writes": {"size": 2, "refill": 10}}), clock=clock)
    transport = httpx.ASGITransport(app=_app(throttle))
    path = f"/subscriptions/{SUB}/resourceGroups/rg"
    async with httpx.AsyncClient(transport=transport, base_url="https://arm") as c:
        auth = {"Authorization": token("oid-1")}
        r = await c.get(path, headers=auth)
        assert r.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
        assert "x-ms-ratelimit-remaining-subscription-writes" not in r.headers
        r = await c.delete(path, headers=auth)
        assert r.headers["x-ms-ratelimit-remaining-subscription-deletes"] == "199"
        assert (await c.put(path, headers=auth)).headers[
            "x-ms-ratelimit-remaining-subscription-writes"
        ] == "1"
        assert (await c.post(path + "/x", headers=auth)).headers[
            "x-ms-ratelimit-remaining-subscription-writes"
        ] == "0"
        r = await c.patch(path, headers=auth)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.headers["x-ms-ratelimit-remaining-subscription-writes"] == "0"
        assert r.json() == {
            "error": {
                "code": "SubscriptionRequestsThrottled",
                "message": f"Number of 'write' requests for subscription '{SUB}' actor 'oid-1' exceeded. "
                "Please try again after '1' seconds.",
            }
        }
        # another principal has its own bucket; tenant-level calls are not throttled here
        assert (await c.put(path, headers={"Authorization": token("oid-2")})).status_code == 201
        assert "x-ms-ratelimit-remaining-subscription-reads" not in (await c.get("/subscriptions")).headers
        clock.now += 0.1
        assert (await c.put(path, headers=auth)).status_code == 201
        throttle.configure({"enabled": False})
        for _ in range(5):
            r = await c.put(path, headers=auth)
            assert r.status_code == 201
            assert "x-ms-ratelimit-remaining-subscription-writes" not in r.headers


# ------------------------------------------------------------------ a real emulator process


def test_python_m_emulator_throttles_with_azure_numbers_by_default(tmp_path: Path) -> None:
    options = parse_args(["--state-dir", str(tmp_path)])
    assert options.throttling == ThrottleSettings()
    assert options.throttling.enabled
    assert not parse_args(["--state-dir", str(tmp_path), "--arm-throttling", "off"]).throttling.enabled
    scaled = parse_args(["--state-dir", str(tmp_path), "--arm-throttling-scale", "0.1"]).throttling
    assert scaled.limits["writes"] == Limit(20, 1)


def test_emulator_throttles_with_azure_bucket_size(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("--arm-throttling", "on")  # Azure's numbers, as `prmlab local start`
    with emu.sync_http() as c:
        settings = c.get("/_emulator/throttling").json()
        assert settings["enabled"] is True
        assert settings["writes"] == {"size": 200, "refill": 10}
        assert settings["reads"] == {"size": 250, "refill": 25}
        # Azure's bucket size; the refill slowed so that the count does not depend on speed
        emu.set_throttling(writes={"size": 200, "refill": 0.001})
        url = f"/subscriptions/{emu.subscription_id}/resourcegroups/rg-throttle"
        params = {"api-version": "2025-04-01"}
        auth = emu.arm_headers()  # a real token: the operator's
        seen = []
        for _ in range(200):
            r = c.put(url, params=params, headers=auth, json={"location": "westeurope"})
            assert r.status_code in (200, 201), r.text
            seen.append(int(r.headers["x-ms-ratelimit-remaining-subscription-writes"]))
        assert seen == list(range(199, -1, -1))
        r = c.put(url, params=params, headers=auth, json={"location": "westeurope"})
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "SubscriptionRequestsThrottled"
        assert int(r.headers["retry-after"]) >= 1
        read = c.get(url, params=params, headers=auth)
        assert read.status_code == 200
        assert read.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
        assert [x["status"] for x in emu.requests() if x["method"] == "PUT"][-1] == 429
