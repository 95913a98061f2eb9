"""The pacer wired into the real ARM clients (``target.open_clients``) against a throttling emulator.

Many concurrent resource-group writes through ``azure-mgmt-resource`` against a small bucket: paced,
every write succeeds on its first attempt (no 429 in the emulator's request log); unpaced, the same
load runs into 429s (the SDK's retries after ``Retry-After`` do not get all of them through). Deterministic: the pacer's prediction never credits
refill before the server does, so no 429 can happen with the one client.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from orchestrator.target import TargetSettings, open_clients
from tests.support.emulator import EmulatorFactory, RunningEmulator

pytestmark = pytest.mark.anyio

WRITES = {"size": 5, "refill": 40}


def _settings(emu: RunningEmulator, **kw: Any) -> TargetSettings:
    return TargetSettings(
        kind="local",
        subscription_id=emu.subscription_id,
        tenant_id=emu.tenant_id,
        resource_group="rg-pacing",
        location="westeurope",
        base_url=emu.base_url,
        ca_file=emu.ca_file,
        **kw,
    )


async def _burst(settings: TargetSettings, count: int) -> tuple[Any, int]:
    """``count`` concurrent resource-group writes; returns the pacer and how many writes failed."""
    from azure.core.exceptions import HttpResponseError

    failed = 0
    async with open_clients(settings) as clients:

        async def put(i: int) -> None:
            nonlocal failed
            try:
                await clients.resources.resource_groups.create_or_update(
                    f"rg-pacing-{i % 7}", {"location": "westeurope"}
                )
            except HttpResponseError:
                failed += 1

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i in range(count):
                    tg.start_soon(put, i)
        return clients.pacer, failed


async def test_both_arm_clients_share_one_pacer_through_their_own_policy(
    make_emulator: EmulatorFactory,
) -> None:
    from orchestrator.pacing_policy import ArmPacingPolicy

    emu = make_emulator()  # throttling off
    async with open_clients(_settings(emu)) as clients:
        policies = [
            p
            for client in (clients.apim, clients.resources)
            for p in client._client._pipeline._impl_policies
            if isinstance(p, ArmPacingPolicy)
        ]
        assert len(policies) == 2
        assert policies[0] is not policies[1]  # a pipeline chains its policies through ``next``
        assert policies[0].pacer is policies[1].pacer is clients.pacer


async def test_paced_writes_get_no_429(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("--arm-throttling", "on")
    emu.set_throttling(writes=WRITES)
    pacer, failed = await _burst(_settings(emu, arm_buckets={"writes": (5, 40)}), 40)
    assert failed == 0
    writes = [r for r in emu.requests() if r["method"] == "PUT" and r["api"] == "arm"]
    assert len(writes) == 40, [
        (r["status"], r["ts"], r["path"][-12:]) for r in writes if r["status"] not in (200, 201)
    ]
    assert all(r["status"] in (200, 201) for r in writes)
    assert pacer.stats.waits > 0
    assert pacer.stats.throttled == 0


async def test_unpaced_writes_run_into_429(make_emulator: EmulatorFactory) -> None:
    """The same load without the pacer: the protection above is what keeps the 429s away."""
    emu = make_emulator("--arm-throttling", "on")
    emu.set_throttling(writes=WRITES)
    pacer, failed = await _burst(_settings(emu, arm_pacing=False, sdk_retries=2), 40)
    assert pacer is None
    statuses = [r["status"] for r in emu.requests() if r["method"] == "PUT" and r["api"] == "arm"]
    assert statuses.count(429) > 0
    assert failed == 40 - sum(1 for s in statuses if s in (200, 201))
