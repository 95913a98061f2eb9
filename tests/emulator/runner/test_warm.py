"""The runner's warm interpreter (``warm_start``, ``process.WarmProcess``): started on a managed
environment's PUT, it becomes the next app whose environment starts the same interpreter."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import anyio
import pytest

from emulator.context import EmulatorContext, Event
from emulator.ports import allocate_port
from emulator.runner.environment import LocalTarget, interpreter_env, process_env, same_interpreter
from emulator.runner.process import WarmProcess
from emulator.runner.spec import ENVIRONMENT_KIND, parse_app
from tests.emulator.runner.test_runner import (
    START_S,
    alive,
    ctx,
    health,
    props,
    put,
    read,
    running,
    running_pid,
)
from tests.emulator.runner.test_spec import KEY, container_app

pytestmark = pytest.mark.anyio

__all__ = ["ctx"]  # the fixture

ENV_KEY = "/subscriptions/s/resourcegroups/rg/providers/microsoft.app/managedenvironments/env"


async def _warm(ctx: EmulatorContext, runner: Any) -> int:
    await ctx.publish(Event("put", ENVIRONMENT_KIND, ENV_KEY))
    await runner.wait_until(lambda: runner.spare is not None, START_S)
    pid: int = runner.spare.process.pid
    return pid


async def test_the_next_app_becomes_the_warm_interpreter(ctx: EmulatorContext) -> None:
    port = allocate_port()
    async with running(ctx) as runner:
        warm = await _warm(ctx, runner)
        await put(ctx, container_app(port=port))
        await runner.wait_until(lambda: running_pid(ctx)() is not None, START_S)
        assert running_pid(ctx)() == warm
        assert runner.spare is None  # taken: one app per interpreter
        # It is the app as its environment says: its port, the emulator's certificate, its log.
        response = await health(ctx, port)
        assert response.json() == {"status": "healthy"}
        log = await anyio.to_thread.run_sync(read, Path(props(ctx)["localRunner"]["log"]))
        assert f"Started server process [{warm}]" in log
    assert not alive(warm)  # stopped with the emulator, like any app


async def test_an_app_whose_environment_starts_another_interpreter_starts_afresh(
    ctx: EmulatorContext,
) -> None:
    body = container_app(port=allocate_port())
    env = body["properties"]["template"]["containers"][0]["env"]
    env.append({"name": "PYTHONHASHSEED", "value": "7"})  # read once, at an interpreter's start
    async with running(ctx) as runner:
        warm = await _warm(ctx, runner)
        await put(ctx, body)
        await runner.wait_until(lambda: running_pid(ctx)() is not None, START_S)
        assert running_pid(ctx)() != warm
        assert runner.spare is not None
        assert runner.spare.process.pid == warm  # kept for the next app
    assert not alive(warm)  # an unused warm interpreter is dropped with the emulator


def test_the_interpreter_environment_is_what_every_app_starts_with(tmp_path: Path) -> None:
    target = LocalTarget(
        base_url="https://127.0.0.1:9",
        identity_base="https://127.0.0.1:9/login",
        cert_file=tmp_path / "c.pem",
        key_file=tmp_path / "k.pem",
        ca_bundle=tmp_path / "b.pem",
        source_root=tmp_path,
    )
    parent = {"PATH": "/bin", "HOME": "/root", "LANG": "C.UTF-8", "PYTHONPATH": "/x", "UNRELATED": "1"}
    warm = interpreter_env(target, parent)
    plain = process_env(parse_app(KEY, container_app()), target, "secret", parent)
    assert same_interpreter(plain, warm)
    for name, value in (
        ("PYTHONPATH", "/elsewhere"),
        ("PYTHONUTF8", "1"),
        ("LANG", "de_DE.UTF-8"),
        ("HOME", "/h"),
    ):
        body = copy.deepcopy(container_app())
        body["properties"]["template"]["containers"][0]["env"].append({"name": name, "value": value})
        other = process_env(parse_app(KEY, body), target, "secret", parent)
        assert not same_interpreter(other, warm), name
    # What only the running app reads (its own settings) does not need another interpreter.
    body = copy.deepcopy(container_app())
    body["properties"]["template"]["containers"][0]["env"].append({"name": "LOG_LEVEL", "value": "DEBUG"})
    assert same_interpreter(process_env(parse_app(KEY, body), target, "secret", parent), warm)


async def test_a_warm_interpreter_whose_runner_is_gone_exits(tmp_path: Path) -> None:
    """The emulator killed with SIGKILL closes the pipe: the interpreter must not outlive it."""
    warm = await WarmProcess.start({"PATH": "/usr/bin:/bin"}, tmp_path)
    assert warm.process.stdin is not None
    await warm.process.stdin.aclose()
    with anyio.fail_after(START_S):
        assert await warm.process.wait() == 0
