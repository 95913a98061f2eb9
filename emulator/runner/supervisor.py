"""The runner's control loop: container-app events in, local processes out.

Where it sits: ``emulator.runner.run(ctx)`` builds one ``Runner``. At start it cleans up what a
previous emulator run may have left (process groups of a run killed with SIGKILL, identity-header
secrets), writes the CA bundle the apps trust, subscribes to the event bus and (re)starts a
process for every stored container app — state survives emulator restarts. Each app gets an
``AppSupervisor`` task that re-reads the stored resource whenever it is poked and converges:

* deleted -> stop the process, forget it;
* cannot run (``spec.SpecError``: unsupported image, no ingress port, dangling secretRef) ->
  stop anything running, mark the app Failed with the reason;
* new or changed spec (``AppSpec.fingerprint``: image, env, identities, port) -> (re)start,
  poll ``/health`` (bounded) and record ``Running`` or ``Failed``;
* process exits on its own -> record ``Failed`` with the exit code, restart with backoff;
* while it runs, ``/health`` is probed every ``liveness_interval_s``: after ``liveness_misses``
  misses the app is recorded ``Failed`` (not restarted: a hung process is left for inspection),
  and ``Running`` again when it answers.

Stopping (delete, restart, emulator shutdown) signals the whole process group: no orphans.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import certifi
import httpx
from anyio.abc import TaskGroup

from emulator.context import EmulatorContext, Event
from emulator.runner import status
from emulator.runner.environment import LocalTarget, interpreter_env, process_env, same_interpreter
from emulator.runner.process import AppProcess, WarmProcess, health_client, is_our_process, kill_stale
from emulator.runner.spec import ENVIRONMENT_KIND, KIND, AppSpec, SpecError, parse_app
from emulator.runner.status import AppStatus, RunningStatus
from redaction import redact

log = logging.getLogger(__name__)

IDENTITY_HEADER_KIND = "runner/identity-header"
PROCESS_KIND = "runner/process"
APPS_DIR = "apps"
BUNDLE_FILE = "ca-bundle.pem"


class Runner:
    def __init__(
        self,
        ctx: EmulatorContext,
        *,
        health_timeout_s: float = 30.0,
        health_interval_s: float = 0.1,
        liveness_interval_s: float = 10.0,
        liveness_misses: int = 3,
        probe_timeout_s: float = 2.0,
        restart_backoff_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0),
        parent_env: Mapping[str, str] | None = None,
    ) -> None:
        self.ctx = ctx
        self.health_timeout_s = health_timeout_s
        self.health_interval_s = health_interval_s
        self.liveness_interval_s = liveness_interval_s
        self.liveness_misses = liveness_misses
        self.probe_timeout_s = probe_timeout_s
        self.restart_backoff_s = restart_backoff_s
        self.parent_env = dict(os.environ if parent_env is None else parent_env)
        self.apps_dir = ctx.state_dir / APPS_DIR
        self.supervisors: dict[str, AppSupervisor] = {}
        self._tg: TaskGroup | None = None
        self._closed = False
        self.target: LocalTarget | None = None
        self.http: httpx.AsyncClient | None = None
        self._change = anyio.Event()
        self.ready = anyio.Event()  # set once subscribed and every stored app has been poked
        # One warm interpreter (``warm_start``) for the next app to start, from the first
        # managed environment's PUT on: an app's own process start (Python + the mcp SDK, about
        # a second) then overlaps the writes before the app (its Entra app, its registry
        # role's propagation) instead of following its PUT.
        self.spare: WarmProcess | None = None
        self._spare_starting = False

    async def run(self) -> None:
        try:
            await self._prepare()
            self.ctx.subscribe(self._on_event)
            async with health_client(self.ctx.ca_file) as http, anyio.create_task_group() as tg:
                self.http = http
                self._tg = tg
                for doc in self.ctx.store.list(KIND):
                    self.poke(doc.key)
                self.ready.set()
                await anyio.sleep_forever()
        finally:
            self._closed = True
            await self._drop_spare()

    # -- start-up

    async def _prepare(self) -> None:
        self.apps_dir.mkdir(parents=True, exist_ok=True)
        store = self.ctx.store
        for doc in store.list(PROCESS_KIND):
            pid = int(doc.body.get("pid") or 0)
            if kill_stale(pid):
                log.warning("killed a leftover process group %d of container app %s", pid, doc.key)
                with anyio.move_on_after(3.0):
                    while is_our_process(pid):  # noqa: ASYNC110  (not our child: nothing to await)
                        await anyio.sleep(0.02)
            store.delete(PROCESS_KIND, doc.key)
        for doc in store.list(IDENTITY_HEADER_KIND):
            store.delete(IDENTITY_HEADER_KIND, doc.key)
        bundle = self.apps_dir / BUNDLE_FILE
        system = self.parent_env.get("SSL_CERT_FILE") or certifi.where()
        await anyio.to_thread.run_sync(_write_bundle, bundle, Path(system), self.ctx.ca_file)
        self.target = LocalTarget(
            base_url=self.ctx.base_url,
            identity_base=self.ctx.identity_base,
            cert_file=self.ctx.cert_file,
            key_file=self.ctx.key_file,
            ca_bundle=bundle,
            source_root=_source_root(),
        )

    # -- events

    async def _on_event(self, event: Event) -> None:
        if event.kind == ENVIRONMENT_KIND and event.action == "put":
            self.want_spare()
        if event.kind == KIND:
            self.poke(event.key)
            supervisor = self.supervisors.get(event.key)
            if event.action == "put" and supervisor is not None:
                # Synchronously, before the ARM layer answers the PUT: the stored status must not
                # claim the previous spec's state (or ARM's defaults) for the new one.
                try:
                    supervisor.note_put()
                except Exception:  # never fail the ARM request that published the event
                    log.exception("container app %s: could not record the new spec's status", event.key)
        elif event.action == "delete":
            # A resource group (or subscription-level) delete may remove apps without an event
            # of their own: every supervisor re-checks that its app still exists.
            for key in list(self.supervisors):
                self.poke(key)

    def poke(self, key: str) -> None:
        if self._closed or self._tg is None:
            return
        supervisor = self.supervisors.get(key)
        if supervisor is None:
            supervisor = AppSupervisor(self, key)
            self.supervisors[key] = supervisor
            self._tg.start_soon(supervisor.run, name=f"runner:{key}")
        supervisor.wake()

    # -- the warm interpreter

    def want_spare(self) -> None:
        """Start a warm interpreter for the next app, unless one is there or on its way."""
        if self._closed or self._tg is None or self.spare is not None or self._spare_starting:
            return
        self._spare_starting = True
        self._tg.start_soon(self._start_spare, name="runner:warm-interpreter")

    async def _start_spare(self) -> None:
        try:
            assert self.target is not None
            spare = await WarmProcess.start(interpreter_env(self.target, self.parent_env), self.apps_dir)
        except OSError:
            log.warning("could not start a warm interpreter; apps start afresh", exc_info=True)
            return
        finally:
            self._spare_starting = False
        if self._closed:
            await spare.drop()
            return
        self.spare = spare
        self.changed("")  # tests wait for it on the change notifications

    def take_spare(self, env: Mapping[str, str]) -> WarmProcess | None:
        """The warm interpreter for an app whose environment is ``env``, if it is the
        interpreter that environment would start (``same_interpreter``) and still running."""
        spare = self.spare
        if spare is None or not spare.alive or not same_interpreter(env, spare.env):
            return None
        self.spare = None
        return spare

    async def _drop_spare(self) -> None:
        spare, self.spare = self.spare, None
        if spare is not None:
            await spare.drop()

    def changed(self, key: str) -> None:
        """Called after every recorded status change (tests wait on it instead of sleeping)."""
        event, self._change = self._change, anyio.Event()
        event.set()

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Wait (bounded) until ``predicate()`` holds, re-checking after each status change."""
        with anyio.fail_after(timeout_s):
            while True:
                event = self._change
                if predicate():
                    return
                await event.wait()

    def log_path(self, name: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "app"
        return self.apps_dir / f"{safe}.log"


class AppSupervisor:
    """Converges one container app's process to its stored spec."""

    def __init__(self, runner: Runner, key: str) -> None:
        self.runner = runner
        self.key = key
        self._wake = anyio.Event()
        self.process: AppProcess | None = None
        self.spec: AppSpec | None = None
        self._header_digest: str | None = None
        self._generation = 0
        self._failures = 0
        self._healthy_since: float | None = None
        self._backoff_pending = False
        self.status: AppStatus | None = None
        self.convergences = 0  # how many times the loop converged (observable by tests)

    def wake(self) -> None:
        self._wake.set()

    def note_put(self) -> None:
        """Record at once what a just-written spec means: unchanged -> the current status again
        (an ARM PUT replaces the whole body), changed -> ``Progressing`` until it is healthy."""
        store = self.runner.ctx.store
        doc = store.get(KIND, self.key)
        if doc is None:
            return
        try:
            spec = parse_app(self.key, doc.body)
        except SpecError:
            return  # the convergence records the reason
        if self.status is not None and self.spec is not None and spec.fingerprint == self.spec.fingerprint:
            status.record(store, self.key, self.status)
            return
        pending = AppStatus(
            running=RunningStatus.PROGRESSING,
            message="new spec received; starting",
            log=str(self.runner.log_path(spec.name)),
            fingerprint=spec.fingerprint,
        )
        status.record(store, self.key, pending)

    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                while True:
                    await self._wake.wait()
                    self._wake = anyio.Event()
                    try:
                        alive = await self._converge()
                    except Exception as exc:  # a runner bug or I/O error must not take the emulator down
                        log.exception("container app %s: the runner failed to converge", self.key)
                        self._record_safely(
                            RunningStatus.FAILED, f"the local runner failed: {type(exc).__name__}: {exc}"
                        )
                        alive = True
                    self.convergences += 1
                    self.runner.changed(self.key)
                    if not alive:
                        tg.cancel_scope.cancel()
                        return
        finally:
            with anyio.CancelScope(shield=True):
                await self._stop()
                if self.runner.supervisors.get(self.key) is self:
                    del self.runner.supervisors[self.key]
                if self.spec is not None and self.runner.ctx.store.get(KIND, self.key) is not None:
                    self._record(RunningStatus.STOPPED, "stopped (emulator shut down)")
                self.runner.changed(self.key)

    # -- convergence

    async def _converge(self) -> bool:
        doc = self.runner.ctx.store.get(KIND, self.key)
        if doc is None:
            log.info("container app %s deleted: stopping its process", self.key)
            await self._stop()
            self.spec = None
            return False
        try:
            spec = parse_app(self.key, doc.body)
        except SpecError as exc:
            await self._stop()
            self.spec = None
            self._backoff_pending = False
            self._record(RunningStatus.STOPPED, str(exc), spec_failed=True)
            return True
        alive = self.process is not None and self.process.returncode is None
        same = self.spec is not None and spec.fingerprint == self.spec.fingerprint
        if same and (alive or self._backoff_pending):
            # An ARM PUT replaces the whole body: put the runner's fields back (no-op if intact).
            if self.status is not None:
                status.record(self.runner.ctx.store, self.key, self.status)
            return True
        if not same:
            self._failures = 0
        self._backoff_pending = False
        await self._stop()
        self.spec = spec
        await self._start(spec)
        return True

    async def _start(self, spec: AppSpec) -> None:
        runner = self.runner
        assert runner.target is not None
        assert runner.http is not None
        secret = secrets.token_urlsafe(32)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        runner.ctx.store.put(IDENTITY_HEADER_KIND, digest, {"containerAppId": self.key}, parent=self.key)
        self._header_digest = digest
        env = process_env(spec, runner.target, secret, runner.parent_env)
        log_path = runner.log_path(spec.name)
        with log_path.open("ab") as header:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            line = f"--- {stamp} runner: starting {spec.image} on port {spec.port} ({spec.fingerprint})\n"
            header.write(redact(line).encode())  # the image reference is the lab's input
        self._record(RunningStatus.PROGRESSING, "starting", log=str(log_path))
        try:
            process = await self._spawn(env, log_path, spec.port)
        except OSError as exc:
            self._record(RunningStatus.FAILED, f"the process could not start: {exc}", log=str(log_path))
            self._schedule_restart()
            return
        self.process = process
        self._generation += 1
        runner.ctx.store.put(
            PROCESS_KIND, self.key, {"pid": process.pid, "port": spec.port, "name": spec.name}
        )
        self._record(RunningStatus.PROGRESSING, "waiting for /health", pid=process.pid, log=str(log_path))
        self._tg.start_soon(self._guarded, self._watch, process, self._generation)
        self._tg.start_soon(self._guarded, self._await_health, process, self._generation, log_path)

    async def _spawn(self, env: Mapping[str, str], log_path: Path, port: int) -> AppProcess:
        """The app's process: the runner's warm interpreter when it fits, else a new one."""
        runner = self.runner
        warm = runner.take_spare(env)
        if warm is not None:
            try:
                return await AppProcess.from_warm(warm, env, log_path, port, cwd=runner.apps_dir)
            except OSError:
                log.warning("container app %s: the warm interpreter was gone; starting afresh", self.key)
                await warm.drop()
        return await AppProcess.start(env, log_path, port, cwd=runner.apps_dir)

    async def _await_health(self, process: AppProcess, generation: int, log_path: Path) -> None:
        """Poll ``/health`` (bounded); record Running, or stop and record Failed on timeout."""
        runner = self.runner
        assert runner.http is not None
        assert self.spec is not None
        healthy = False
        with anyio.move_on_after(runner.health_timeout_s):
            while process.returncode is None and generation == self._generation:
                if await process.healthy(runner.http, runner.probe_timeout_s):
                    healthy = True
                    break
                await anyio.sleep(runner.health_interval_s)
        if generation != self._generation or process.returncode is not None:
            return  # superseded, or the exit is reported by _watch
        if healthy:
            self._healthy_since = time.monotonic()
            self._record(
                RunningStatus.RUNNING,
                f"healthy on https://127.0.0.1:{self.spec.port}",
                pid=process.pid,
                log=str(log_path),
            )
            await self._liveness(process, generation)
            return
        await self._stop()
        self._record(
            RunningStatus.FAILED,
            f"/health did not answer within {runner.health_timeout_s:g} s; stopped (see {log_path})",
            log=str(log_path),
        )
        self._schedule_restart()

    async def _watch(self, process: AppProcess, generation: int) -> None:
        code = await process.wait()
        if generation != self._generation or self.process is not process:
            return  # stopped on purpose
        self.process = None
        await process.stop()  # reaps what is left of its group, closes the log
        self._release_identity()
        self.runner.ctx.store.delete(PROCESS_KIND, self.key)
        log_path = self.runner.log_path(self.spec.name if self.spec else self.key)
        if self._healthy_since is not None and time.monotonic() - self._healthy_since > 60:
            self._failures = 0
        self._healthy_since = None
        self._record(
            RunningStatus.FAILED, f"the process exited with code {code} (see {log_path})", log=str(log_path)
        )
        self._schedule_restart()

    async def _liveness(self, process: AppProcess, generation: int) -> None:
        runner = self.runner
        assert runner.http is not None
        misses = 0
        while generation == self._generation and process.returncode is None:
            await anyio.sleep(runner.liveness_interval_s)
            if generation != self._generation or process.returncode is not None:
                return
            if await process.healthy(runner.http, runner.probe_timeout_s):
                if misses >= runner.liveness_misses:
                    self._record(
                        RunningStatus.RUNNING,
                        f"healthy again on https://127.0.0.1:{process.port}",
                        pid=process.pid,
                    )
                misses = 0
            else:
                misses += 1
                if misses == runner.liveness_misses:
                    self._record(
                        RunningStatus.FAILED,
                        f"/health stopped answering ({misses} checks missed)",
                        pid=process.pid,
                    )

    def _schedule_restart(self) -> None:
        delays = self.runner.restart_backoff_s
        delay = delays[min(self._failures, len(delays) - 1)]
        self._failures += 1
        self._backoff_pending = True
        generation = self._generation

        async def later() -> None:
            await anyio.sleep(delay)
            if generation == self._generation and self.process is None and self._backoff_pending:
                self._backoff_pending = False
                self.wake()

        self._tg.start_soon(self._guarded, later)

    async def _stop(self) -> None:
        process, self.process = self.process, None
        self._generation += 1
        if process is not None:
            code = await process.stop()
            log.info("container app %s: process %d stopped (%s)", self.key, process.pid, code)
            self.runner.ctx.store.delete(PROCESS_KIND, self.key)
        self._release_identity()
        self._healthy_since = None

    async def _guarded(self, step: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run a background step; an unexpected error is recorded on the app, not raised."""
        try:
            await step(*args)
        except Exception as exc:
            log.exception("container app %s: runner task failed", self.key)
            self._record_safely(RunningStatus.FAILED, f"the local runner failed: {type(exc).__name__}: {exc}")

    def _record_safely(self, running: RunningStatus, message: str) -> None:
        try:
            self._record(running, message)
        except Exception:
            log.exception("container app %s: could not record its status", self.key)

    def _release_identity(self) -> None:
        if self._header_digest is not None:
            self.runner.ctx.store.delete(IDENTITY_HEADER_KIND, self._header_digest)
            self._header_digest = None

    def _record(
        self,
        running: RunningStatus,
        message: str,
        *,
        pid: int | None = None,
        log: str | None = None,
        spec_failed: bool = False,
    ) -> None:
        if log is None and self.spec is not None:
            log = str(self.runner.log_path(self.spec.name))
        self.status = AppStatus(
            running=running,
            message=message,
            pid=pid,
            log=log,
            fingerprint=self.spec.fingerprint if self.spec else None,
            spec_failed=spec_failed,
        )
        status.record(self.runner.ctx.store, self.key, self.status)
        self.runner.changed(self.key)


def _write_bundle(bundle: Path, system: Path, lab_ca: Path) -> None:
    """System CAs (the emulator's ``SSL_CERT_FILE`` or certifi) + the lab CA, written atomically."""
    try:
        system_pem = system.read_text()
    except OSError:
        system_pem = Path(certifi.where()).read_text()
    tmp = bundle.with_suffix(".tmp")
    tmp.write_text(system_pem.rstrip() + "\n" + lab_ca.read_text())
    tmp.replace(bundle)


def _source_root() -> Path:
    found = importlib.util.find_spec("mcp_server")
    if found is None or found.origin is None:
        raise RuntimeError("the mcp_server package is not importable; install prmlab (pip install -e .)")
    return Path(found.origin).resolve().parent.parent
