"""Test users are created through Graph with the shared retry policy (issue 17.6): a Graph 500 or
429 while creating one is retried (``Retry-After`` honoured), and retries that run out end in one
clear ``TargetError``. Faults are scripted per call (no randomness); waits are recorded, not slept."""

from __future__ import annotations

import json
import stat
from pathlib import Path
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


def _lab(password: str | None = "Correct-Horse-9", upn: str = UPN) -> Any:
    user = SimpleNamespace(
        user_principal_name=upn,
        password=SecretStr(password) if password is not None else None,
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


async def test_generated_passwords_are_kept_for_the_person_signing_in(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """The sign-in page checks passwords (issue 17 item 11): a user without one in lab.yaml gets a
    generated password, recorded privately so that a person can sign in with it."""
    emu = make_emulator()
    passwords = tmp_path / "state" / "test-users.json"
    async with emu.graph_client() as graph:
        assert await ensure_test_users(graph, _lab(None), passwords_file=passwords) == 1
        assert await ensure_test_users(graph, _lab(None), passwords_file=passwords) == 0  # found
        given = _lab("Lab-Given-Pa55", upn="grace@lab.example")
        assert await ensure_test_users(graph, given, passwords_file=passwords) == 1
    recorded = json.loads(passwords.read_text())
    assert list(recorded) == [UPN]  # the lab's own password is not copied anywhere
    assert len(recorded[UPN]) >= 20
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
