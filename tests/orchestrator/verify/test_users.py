"""Test users are created through Graph with the shared retry policy (issue 17.6): a Graph 500 or
429 while creating one is retried (``Retry-After`` honoured), and retries that run out end in one
clear ``TargetError``. Faults are scripted per call (no randomness); waits are recorded, not slept."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from orchestrator.errors import TargetError
from orchestrator.retry import RetryPolicy
from orchestrator.verify.users import ensure_test_users
from tests.support.emulator import EmulatorFactory, RunningEmulator

pytestmark = pytest.mark.anyio

UPN = "ada@lab.example"


def _lab() -> Any:
    user = SimpleNamespace(
        user_principal_name=UPN,
        password=SecretStr("Correct-Horse-9"),
        display_name="Ada",
        mail=UPN,
        job_title=None,
        department=None,
        office_location=None,
    )
    return SimpleNamespace(verification=SimpleNamespace(test_users=[user]))


async def _users(emu: RunningEmulator) -> list[str]:
    async with emu.graph_client() as graph:
        page = await graph.users.get()
        return [u.user_principal_name for u in page.value]


async def test_a_graph_500_while_creating_a_test_user_is_retried(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    # call 1: the lookup passes; call 2: the create answers 500; then the retry looks up and creates
    emu.set_faults(script=["pass", "error500"], apis=["graph"])
    async with emu.graph_client() as graph:
        assert await ensure_test_users(graph, _lab(), sleep=sleep) == 1
    assert len(waits) == 1
    assert await _users(emu) == [UPN]


async def test_a_throttled_create_waits_as_long_as_graph_asks(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    emu.set_faults(script=["pass", "throttle"], apis=["graph"], retry_after_ms=3000)
    async with emu.graph_client() as graph:
        assert await ensure_test_users(graph, _lab(), sleep=sleep) == 1
    assert len(waits) == 1
    assert waits[0] >= 3.0  # Retry-After: 3 honoured as a minimum
    assert await _users(emu) == [UPN]


async def test_retries_that_run_out_end_in_one_clear_error(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator()

    async def sleep(seconds: float) -> None:
        return None

    emu.set_faults(error_rate=1.0, apis=["graph"])
    async with emu.graph_client() as graph:
        with pytest.raises(TargetError) as caught:
            await ensure_test_users(graph, _lab(), policy=RetryPolicy(max_attempts=3), sleep=sleep)
    message = str(caught.value)
    assert message.startswith(f"test user {UPN}: could not be created in the local directory: still failing")
    assert "after 3 attempts" in message
    assert "Correct-Horse-9" not in message
