"""One local process standing in for a container app: start, health, stop (I/O).

Where it sits: ``supervisor`` owns one ``AppProcess`` per running container app. The process
is ``sys.executable -m mcp_server`` in its own session (so its whole process group can be
signalled and no grandchild outlives it), with output appended to
``<state_dir>/apps/<name>.log``. ``stop`` sends SIGTERM to the group, waits (bounded), then
SIGKILLs it. ``kill_stale`` removes a process group left behind by an emulator that was killed
with SIGKILL (recorded in the store as ``runner/process``), checking its command line first so
an unrelated process that reused the pid is never touched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import anyio
import httpx
from anyio.abc import Process

log = logging.getLogger(__name__)

MODULE = "mcp_server"
STOP_GRACE_S = 5.0
WARM_SCRIPT = Path(__file__).with_name("warm_start.py")


class AppProcess:
    def __init__(self, process: Process, log_file: IO[bytes], port: int) -> None:
        self._process = process
        self._log_file = log_file
        self.port = port

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @classmethod
    async def start(cls, env: Mapping[str, str], log_path: Path, port: int, cwd: Path) -> AppProcess:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        try:
            process = await anyio.open_process(
                [sys.executable, "-m", MODULE],
                env=dict(env),
                cwd=str(cwd),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            log_file.close()
            raise
        return cls(process, log_file, port)

    @classmethod
    async def from_warm(
        cls, warm: WarmProcess, env: Mapping[str, str], log_path: Path, port: int, cwd: Path
    ) -> AppProcess:
        """The app, run by a warm interpreter (``warm_start``) told to become ``python -m
        mcp_server`` with ``env`` in ``cwd``; OSError if it is gone (start a new one then)."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        try:
            await warm.become(MODULE, env, log_path, cwd)
        except BaseException:
            log_file.close()
            raise
        return cls(warm.process, log_file, port)

    async def wait(self) -> int:
        return await self._process.wait()

    async def stop(self, grace_s: float = STOP_GRACE_S) -> int | None:
        """SIGTERM the process group, wait ``grace_s``, then SIGKILL it. Safe to call twice."""
        with anyio.CancelScope(shield=True):
            try:
                if self._process.returncode is None:
                    _signal_group(self._process.pid, signal.SIGTERM)
                    with anyio.move_on_after(grace_s):
                        await self._process.wait()
                # Also after a clean exit of the leader: nothing of the group may survive.
                _signal_group(self._process.pid, signal.SIGKILL)
                if self._process.returncode is None:
                    with anyio.move_on_after(grace_s):
                        await self._process.wait()
            finally:
                self._log_file.close()
        return self._process.returncode

    async def healthy(self, client: httpx.AsyncClient, timeout_s: float = 2.0) -> bool:
        try:
            response = await client.get(f"https://127.0.0.1:{self.port}/health", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and _is_healthy_body(response)


class WarmProcess:
    """A Python interpreter started ahead of the next app (``warm_start``): it imports the
    app's dependencies meanwhile, then becomes the app (``AppProcess.from_warm``) — or is
    dropped (``drop``: its process group is killed). ``env`` is what it was started with
    (``environment.interpreter_env``); an app whose environment would start another interpreter
    is started afresh instead (``environment.same_interpreter``)."""

    def __init__(self, process: Process, env: Mapping[str, str]) -> None:
        self.process = process
        self.env = dict(env)

    @classmethod
    async def start(cls, env: Mapping[str, str], cwd: Path) -> WarmProcess:
        process = await anyio.open_process(
            [sys.executable, str(WARM_SCRIPT)],
            env=dict(env),
            cwd=str(cwd),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return cls(process, env)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def become(self, module: str, env: Mapping[str, str], log_path: Path, cwd: Path) -> None:
        if not self.alive or self.process.stdin is None:
            raise OSError("the warm interpreter has exited")
        order = {"module": module, "env": dict(env), "cwd": str(cwd), "log": str(log_path)}
        try:
            await self.process.stdin.send(json.dumps(order).encode() + b"\n")
            await self.process.stdin.aclose()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise OSError(f"the warm interpreter has exited: {exc}") from exc

    async def drop(self) -> None:
        with anyio.CancelScope(shield=True):
            _signal_group(self.process.pid, signal.SIGKILL)
            with anyio.move_on_after(STOP_GRACE_S):
                await self.process.wait()
            if self.process.stdin is not None:
                with contextlib.suppress(Exception):
                    await self.process.stdin.aclose()


def _is_healthy_body(response: httpx.Response) -> bool:
    try:
        return bool(response.json() == {"status": "healthy"})
    except ValueError:
        return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def health_client(ca_file: Path) -> httpx.AsyncClient:
    """An HTTPS client trusting only the emulator's CA (the apps' certificates come from it)."""
    # No keep-alive: an idle pooled connection would hold up the app's graceful shutdown.
    return httpx.AsyncClient(
        verify=ssl.create_default_context(cafile=str(ca_file)),
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def is_our_process(pid: int) -> bool:
    """Whether ``pid`` is still a ``python -m mcp_server`` or a warm interpreter that became one
    (``warm_start``) (Linux ``/proc``; elsewhere: unknown = no)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return (b"-m" in cmdline and MODULE.encode() in cmdline) or str(WARM_SCRIPT).encode() in cmdline


def kill_stale(pid: int) -> bool:
    """SIGKILL a leftover process group of a previous emulator run; True if one was found."""
    if pid <= 1 or not is_our_process(pid):
        return False
    _signal_group(pid, signal.SIGKILL)
    return True
