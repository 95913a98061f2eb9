"""Fault injection through the real SDKs: latency, 429 (with retry headers), 500/503, rates
that follow the seed exactly, per-API scope, and Entra replication delay."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from msgraph.generated.models.application import Application
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.service_principal import ServicePrincipal

from tests.support.azure import make_group
from tests.support.emulator import EmulatorFactory, RunningEmulator

pytestmark = pytest.mark.anyio


def _expected(seed: int, n: int, throttle: float, error: float) -> list[int]:
    """The statuses the emulator's seeded draw must produce (its documented algorithm)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        draw = rng.random()
        if draw < throttle:
            out.append(429)
        elif draw < throttle + error:
            out.append(500 if rng.random() < 0.5 else 503)
        else:
            out.append(200)
    return out


async def test_rates_follow_the_seed(emulator: RunningEmulator) -> None:
    emulator.set_faults(throttle_rate=0.2, error_rate=0.1, seed=1234)
    path = f"/subscriptions/{emulator.subscription_id}"
    async with emulator.http(headers=emulator.arm_headers()) as h:
        statuses = [(await h.get(path, params={"api-version": "2022-12-01"})).status_code for _ in range(200)]
    assert statuses == _expected(1234, 200, 0.2, 0.1)
    assert 20 <= statuses.count(429) <= 60
    assert 5 <= statuses.count(500) + statuses.count(503) <= 40
    logged = [r["status"] for r in emulator.requests() if r["path"] == path][-200:]
    assert logged == statuses


async def test_arm_throttling_carries_retry_headers_and_sdk_retries(emulator: RunningEmulator) -> None:
    emulator.set_faults(throttle_rate=1.0, retry_after_ms=50)
    async with emulator.resource_client(retry_total=0) as rc:
        with pytest.raises(HttpResponseError) as throttled:
            await rc.resource_groups.list().__anext__()
    response: Any = throttled.value.response
    assert response is not None
    assert throttled.value.status_code == 429
    assert response.headers["retry-after-ms"] == "50"
    assert int(response.headers["Retry-After"]) >= 1
    assert throttled.value.error is not None
    assert throttled.value.error.code == "TooManyRequests"
    # a throttled call is retried by the SDK after Retry-After (1 s) and then succeeds:
    # pick a seed whose first draw throttles and whose second does not
    seed = next(s for s in range(1000) if _expected(s, 2, 0.5, 0) == [429, 200])
    emulator.reset_faults()
    group = await make_group(emulator)
    emulator.set_faults(throttle_rate=0.5, retry_after_ms=10, seed=seed)
    before = len(emulator.requests())
    async with emulator.resource_client(retry_total=3) as rc:
        # one resource, one call: a list would span as many pages (each a further seeded draw)
        # as the session emulator holds groups, which made this test depend on the tests before it
        assert (await rc.resource_groups.get(group)).name == group
    arm = [r["status"] for r in emulator.requests()[before:] if r["api"] == "arm"]  # not the token call
    assert arm == [429, 200]


async def test_server_errors(emulator: RunningEmulator) -> None:
    emulator.set_faults(error_rate=1.0)
    async with emulator.apim_client(retry_total=0) as c:
        with pytest.raises(HttpResponseError) as failed:
            await c.api_management_service.get("any", "any")
    assert failed.value.status_code in (500, 503)
    async with emulator.graph_client() as graph:
        with pytest.raises(ODataError) as graph_failed:
            await graph.applications.get()
    assert graph_failed.value.response_status_code in (500, 503)
    assert graph_failed.value.error is not None
    assert graph_failed.value.error.code in ("generalException", "serviceNotAvailable")


async def test_graph_throttling_uses_retry_after(emulator: RunningEmulator) -> None:
    emulator.set_faults(throttle_rate=1.0, apis=["graph"])
    async with emulator.http(headers=emulator.graph_headers()) as h:
        r = await h.get("/v1.0/applications", headers={"client-request-id": "abc"})
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert "retry-after-ms" not in r.headers
        assert r.json()["error"]["innerError"]["client-request-id"] == "abc"
        # ARM is outside the faulted APIs
        ok = await h.get(
            f"/subscriptions/{emulator.subscription_id}",
            params={"api-version": "1"},
            headers=emulator.arm_headers(),
        )
        assert ok.status_code == 200
    async with emulator.graph_client() as graph:
        with pytest.raises(ODataError) as throttled:
            await graph.applications.get()
    assert throttled.value.response_status_code == 429


async def test_added_latency(emulator: RunningEmulator) -> None:
    # Measured where the delay is felt: the client cannot have its answer before the emulator's
    # sleep ended, so the elapsed monotonic time is a lower bound that no load can break.
    marker = f"latency-{uuid.uuid4().hex[:12]}"
    emulator.set_faults(latency_ms=200)
    async with emulator.resource_client() as rc:
        start = time.monotonic()
        await rc.resource_groups.check_existence(marker)
        delayed = time.monotonic() - start
    assert delayed >= 0.2
    # And the request log has the call once the client has its answer, with the emulator's own
    # measure. check_existence is a HEAD: the answer is complete with its headers, and the line
    # used to be written only at the (empty) body message after them - under load this read
    # came first (the marker line "was not in the log when read"); emulator.reqlog writes it
    # before the headers of a bodiless answer now (test_reqlog's ordering test pins that).
    mine = [r for r in emulator.requests() if r["path"].endswith(f"/resourcegroups/{marker}")]
    assert [(r["method"], r["status"]) for r in mine] == [("HEAD", 404)]
    assert mine[0]["duration_ms"] >= 200


async def test_replication_delay_hides_new_applications(emulator: RunningEmulator) -> None:
    tag = f"prmlab-lab:{uuid.uuid4().hex[:8]}"
    async with emulator.graph_client() as graph:
        # Longer than any run could take, then set back to 0: no test waits for time to pass.
        emulator.set_faults(replication_delay_s=3600.0)
        app = await graph.applications.post(Application(display_name="fresh", tags=[tag]))
        with pytest.raises(ODataError) as not_yet:
            await graph.applications.by_application_id(app.id).get()
        assert not_yet.value.response_status_code == 404
        with pytest.raises(ODataError) as no_sp:
            await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
        assert no_sp.value.response_status_code == 400
        listed = await graph.applications.get()
        assert app.id not in [a.id for a in listed.value]
        emulator.set_faults(replication_delay_s=0.0)  # "replicated" now
        got = await graph.applications.by_application_id(app.id).get()
        assert got.id == app.id
        sp = await graph.service_principals.post(ServicePrincipal(app_id=app.app_id))
        assert sp.app_id == app.app_id


async def test_fault_flags_at_start(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("--throttle-rate", "1", "--seed", "3", "--latency-ms", "1")
    with emu.sync_http() as h:
        faults = h.get("/_emulator/faults").json()
        assert (faults["throttle_rate"], faults["seed"], faults["latency_ms"]) == (1.0, 3, 1.0)
        r = h.get(
            f"/subscriptions/{emu.subscription_id}",
            params={"api-version": "1"},
            headers=emu.arm_headers(),
        )
    assert r.status_code == 429


async def test_identity_faults_use_entra_error_shape(emulator: RunningEmulator) -> None:
    emulator.set_faults(throttle_rate=1.0, apis=["identity"])
    async with emulator.http() as h:
        r = await h.post(
            f"/login/{emulator.tenant_id}/oauth2/v2.0/token", data={"grant_type": "client_credentials"}
        )
    assert r.status_code == 429
    assert r.json()["error"] == "temporarily_unavailable"
    assert int(r.headers["Retry-After"]) >= 1


def test_a_script_faults_exactly_the_next_calls(emulator: RunningEmulator) -> None:
    """``script``: one outcome per call to the faulted APIs, used up first (no randomness)."""
    emulator.set_faults(script=["pass", "error500", "throttle"], apis=["graph"], retry_after_ms=1500)
    with emulator.sync_http() as c:
        auth = emulator.graph_headers()
        statuses = [c.get("/v1.0/applications", headers=auth) for _ in range(4)]
    assert [r.status_code for r in statuses][1:3] == [500, 429]
    assert statuses[2].headers["retry-after"] == "2"
    assert statuses[3].status_code == statuses[0].status_code != 500
    assert emulator.set_faults()["script"] == []
    with emulator.sync_http() as c:
        assert c.put("/_emulator/faults", json={"script": ["boom"]}).status_code == 400


def test_a_hold_keeps_matching_calls_until_released_then_answers_503_unprocessed(
    emulator: RunningEmulator,
) -> None:
    import threading

    group = f"/subscriptions/{emulator.subscription_id}/resourcegroups/rg-held?api-version=2021-04-01"
    emulator.set_faults(hold={"method": "PUT", "path": "/resourcegroups/rg-held"})
    answers: list[int] = []

    def call() -> None:
        with emulator.sync_http() as c:
            answers.append(
                c.put(group, json={"location": "ukwest"}, headers=emulator.arm_headers()).status_code
            )

    caller = threading.Thread(target=call)
    caller.start()
    try:
        with emulator.sync_http() as c:
            for _ in range(2000):  # bounded: the call reaches the emulator within seconds
                if c.get("/_emulator/faults").json()["held"] == 1:
                    break
                caller.join(0.01)
            assert c.get("/_emulator/faults").json()["held"] == 1
            assert answers == []  # still waiting
    finally:
        emulator.set_faults(hold=None)
        caller.join(30)
    assert answers == [503]
    with emulator.sync_http() as c:
        assert c.get(group, headers=emulator.arm_headers()).status_code == 404  # never processed
        assert c.put("/_emulator/faults", json={"hold": {"method": "GET"}}).status_code == 400
