"""The runner with real ``python -m mcp_server`` processes, driven by store events.

A minimal ``EmulatorContext`` on a temporary folder (real CA and server certificate, real
store); the tests play the ARM layer: write the container app, publish the event, and wait
(bounded, on the runner's change notifications — no sleeps) for the recorded state.
"""

from __future__ import annotations

import copy
import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from emulator.context import EmulatorContext, Event
from emulator.ports import allocate_port
from emulator.runner.spec import KIND, parse_app
from emulator.runner.supervisor import IDENTITY_HEADER_KIND, PROCESS_KIND, Runner
from emulator.store import Store
from emulator.tls import ensure_tls
from tests.emulator.runner.test_spec import KEY, container_app

pytestmark = pytest.mark.anyio

START_S = 30.0


@pytest.fixture
def ctx(tmp_path: Path) -> EmulatorContext:
    tls = ensure_tls(tmp_path)
    return EmulatorContext(
        state_dir=tmp_path,
        store=Store(tmp_path / "emulator.sqlite"),
        base_url="https://127.0.0.1:9",
        ca_file=tls.ca_file,
        cert_file=tls.cert_file,
        key_file=tls.key_file,
        tenant_id="t",
        subscription_id="s",
    )


@asynccontextmanager
async def running(ctx: EmulatorContext, **options: Any) -> AsyncIterator[Runner]:
    runner = Runner(
        ctx, restart_backoff_s=(0.05, 0.1), health_interval_s=0.05, health_timeout_s=START_S, **options
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(runner.run)
        with anyio.fail_after(10):
            await runner.ready.wait()
        yield runner
        tg.cancel_scope.cancel()


async def put(ctx: EmulatorContext, body: dict[str, Any]) -> None:
    ctx.store.put(KIND, KEY, body, parent="/subscriptions/s/resourcegroups/rg")
    await ctx.publish(Event("put", KIND, KEY))


def props(ctx: EmulatorContext) -> dict[str, Any]:
    doc = ctx.store.get(KIND, KEY)
    assert doc is not None
    value: dict[str, Any] = doc.body["properties"]
    return value


def running_pid(ctx: EmulatorContext) -> Callable[[], int | None]:
    def pid() -> int | None:
        p = props(ctx)
        if p.get("runningStatus") != "Running":
            return None
        value = p["localRunner"]["pid"]
        return int(value) if value else None

    return pid


def alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def read(path: Path) -> str:
    return path.read_text()


def spawn_stale() -> subprocess.Popen[bytes]:
    """A process that looks like a leftover ``python -m mcp_server`` (in its own session)."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)", "-m", "mcp_server"],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"up\n"  # its command line is in place from here on
    process.stdout.close()
    return process


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


async def health(ctx: EmulatorContext, port: int) -> httpx.Response:
    import ssl

    verify = ssl.create_default_context(cafile=str(ctx.ca_file))
    async with httpx.AsyncClient(verify=verify) as client:
        return await client.get(f"https://127.0.0.1:{port}/health")


async def test_start_restart_on_change_crash_recovery_and_stop_on_delete(ctx: EmulatorContext) -> None:
    port = allocate_port()
    body = container_app(port=port)
    async with running(ctx) as runner:
        await put(ctx, body)
        await runner.wait_until(lambda: running_pid(ctx)() is not None, START_S)
        first = running_pid(ctx)()
        assert first is not None
        p = props(ctx)
        assert p["provisioningState"] == "Succeeded"
        assert p["localRunner"]["message"] == f"healthy on https://127.0.0.1:{port}"
        response = await health(ctx, port)
        assert response.json() == {"status": "healthy"}

        # Environment contract + the identity header record the identity service resolves.
        env = environ_of(first)
        assert env["HOST"] == "127.0.0.1"
        assert env["PORT"] == str(port)
        assert env["SECRET_THING"] == "hunter2"
        digest = hashlib.sha256(env["IDENTITY_HEADER"].encode()).hexdigest()
        record = ctx.store.get(IDENTITY_HEADER_KIND, digest)
        assert record is not None
        assert record.body == {"containerAppId": KEY}
        assert record.parent == KEY
        log_file = Path(p["localRunner"]["log"])
        assert log_file == ctx.state_dir / "apps" / "app1.log"
        assert env["IDENTITY_HEADER"] not in read(log_file)

        # A change outside the spec the runner owns (scale) converges without a restart.
        supervisor = runner.supervisors[KEY]
        seen = supervisor.convergences
        scaled = copy.deepcopy(body)
        scaled["properties"]["template"]["scale"]["maxReplicas"] = 5
        await put(ctx, scaled)
        # Restored synchronously, before the (ARM) writer gets control back: the PUT body had none.
        assert props(ctx)["runningStatus"] == "Running"
        await runner.wait_until(lambda: supervisor.convergences > seen, 10)
        assert running_pid(ctx)() == first

        # An env change restarts: new process, old group gone, identity secret rotated.
        changed = copy.deepcopy(scaled)
        changed["properties"]["template"]["containers"][0]["env"].append({"name": "EXTRA", "value": "1"})
        await put(ctx, changed)
        assert props(ctx)["runningStatus"] == "Progressing"  # never the old spec's Running
        assert props(ctx)["localRunner"]["specFingerprint"] == parse_app(KEY, changed).fingerprint
        await runner.wait_until(lambda: running_pid(ctx)() not in (None, first), START_S)
        second = running_pid(ctx)()
        assert second is not None
        assert not alive(first)
        assert environ_of(second)["EXTRA"] == "1"
        assert ctx.store.get(IDENTITY_HEADER_KIND, digest) is None
        assert len(ctx.store.list(IDENTITY_HEADER_KIND)) == 1

        # The process dies on its own: Failed is recorded, then it is restarted.
        os.kill(second, signal.SIGKILL)
        await runner.wait_until(lambda: running_pid(ctx)() not in (None, second), START_S)
        third = running_pid(ctx)()
        assert third is not None
        assert read(log_file).count("runner: starting") == 3

        # Delete: the process group stops, nothing of the app is left behind.
        ctx.store.delete(KIND, KEY)
        await ctx.publish(Event("delete", KIND, KEY))
        await runner.wait_until(lambda: KEY not in runner.supervisors, 15)
        assert not alive(third)
        assert ctx.store.list(IDENTITY_HEADER_KIND) == []
        assert ctx.store.list(PROCESS_KIND) == []


async def test_unsupported_image_is_marked_failed_and_never_run(ctx: EmulatorContext) -> None:
    body = container_app(
        image="mcr.microsoft.com/azuredocs/containerapps-helloworld:latest", port=allocate_port()
    )
    async with running(ctx) as runner:
        await put(ctx, body)
        await runner.wait_until(lambda: props(ctx).get("provisioningState") == "Failed", 10)
        p = props(ctx)
        assert p["runningStatus"] == "Stopped"
        assert "cannot run on the local target" in p["localRunner"]["message"]
        assert p["localRunner"]["pid"] is None
        assert ctx.store.list(PROCESS_KIND) == []
        assert ctx.store.list(IDENTITY_HEADER_KIND) == []


async def test_restarts_stored_apps_after_a_restart_and_stops_them_on_shutdown(ctx: EmulatorContext) -> None:
    port = allocate_port()
    ctx.store.put(KIND, KEY, container_app(port=port))
    # A process group left behind by an emulator killed with SIGKILL, recorded in the store.
    stale = spawn_stale()
    ctx.store.put(PROCESS_KIND, "/old/app", {"pid": stale.pid, "port": 1, "name": "old"})
    try:
        async with running(ctx) as runner:
            assert stale.wait(timeout=5) == -signal.SIGKILL
            await runner.wait_until(lambda: running_pid(ctx)() is not None, START_S)
            first = running_pid(ctx)()
            assert first is not None
        # Shutdown (the emulator's task group cancelled): stopped, recorded, no orphan.
        assert not alive(first)
        assert props(ctx)["runningStatus"] == "Stopped"

        async with running(ctx) as runner:
            await runner.wait_until(lambda: running_pid(ctx)() is not None, START_S)
            second = running_pid(ctx)()
            assert second is not None
            assert second != first
        assert second is not None
        assert not alive(second)
    finally:
        if stale.poll() is None:
            stale.kill()
            stale.wait()


async def test_a_hung_process_is_reported_and_its_recovery_too(ctx: EmulatorContext) -> None:
    async with running(ctx, liveness_interval_s=0.05, probe_timeout_s=0.3, liveness_misses=2) as runner:
        await put(ctx, container_app(port=allocate_port()))
        await runner.wait_until(lambda: running_pid(ctx)() is not None, START_S)
        pid = running_pid(ctx)()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # alive, but /health no longer answers
        try:
            await runner.wait_until(lambda: props(ctx)["runningStatus"] == "Failed", 10)
            assert props(ctx)["localRunner"]["message"] == "/health stopped answering (2 checks missed)"
        finally:
            os.kill(pid, signal.SIGCONT)
        await runner.wait_until(lambda: running_pid(ctx)() == pid, 10)  # same process, not restarted
        assert props(ctx)["localRunner"]["message"].startswith("healthy again on https://127.0.0.1:")


async def test_a_runner_error_marks_the_app_failed_without_taking_the_emulator_down(
    ctx: EmulatorContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emulator.runner import process

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(process.AppProcess, "start", broken)
    async with running(ctx) as runner:
        await put(ctx, container_app(port=allocate_port()))
        await runner.wait_until(lambda: props(ctx).get("runningStatus") == "Failed", 10)
        assert props(ctx)["localRunner"]["message"] == "the local runner failed: RuntimeError: boom"
        # Still listening: a delete is handled.
        ctx.store.delete(KIND, KEY)
        await ctx.publish(Event("delete", KIND, KEY))
        await runner.wait_until(lambda: KEY not in runner.supervisors, 10)
