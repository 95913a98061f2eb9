"""Run the emulator: TLS material, store, context, the main HTTPS port and the sub-apps' work.

Where it sits: ``python -m emulator`` (``emulator.__main__``) calls ``serve``. One anyio task
group holds uvicorn (main port, 127.0.0.1 only, HTTPS with the state folder's CA) next to
``emulator.gateway.run(ctx)`` and ``emulator.runner.run(ctx)``. ``emulator.json`` is written
only once the port answers, and removed on a clean stop (SIGTERM/SIGINT). The tenant and
subscription ids are generated once and kept in the store, so they survive restarts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import uvicorn

import emulator.gateway
import emulator.runner
from emulator.app import build_app
from emulator.arm import ArmSettings, ThrottleSettings
from emulator.context import EmulatorContext, Faults
from emulator.ports import APP_KEEP_ALIVE_S, SERVER_KEEP_ALIVE_S, bind_listener
from emulator.reqlog import REQUEST_LOG, RequestLog
from emulator.store import Store
from emulator.tls import ensure_tls

INFO_FILE = "emulator.json"
PORT_FILE = "emulator.port"
DB_FILE = "emulator.sqlite"
_META_KIND = "emulator/meta"

log = logging.getLogger("emulator")


@dataclass(frozen=True, slots=True)
class ServerOptions:
    state_dir: Path
    port: int = 0
    arm: ArmSettings = field(default_factory=ArmSettings)
    graph_page_size: int = 100
    faults: Faults = field(default_factory=Faults)
    throttling: ThrottleSettings = field(default_factory=ThrottleSettings)  # Azure's numbers, on


def load_ids(store: Store) -> tuple[str, str]:
    """The emulator's tenant and subscription ids, generated on first start."""
    doc = store.get(_META_KIND, "ids")
    if doc is None:
        doc = store.put(
            _META_KIND, "ids", {"tenant_id": str(uuid.uuid4()), "subscription_id": str(uuid.uuid4())}
        )
    return str(doc.body["tenant_id"]), str(doc.body["subscription_id"])


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` stops it through ``should_exit``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _stop_on_signal(server: _Server) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            server.should_exit = True
            return


async def _guarded(
    name: str,
    run: Callable[[EmulatorContext], Awaitable[None]],
    ctx: EmulatorContext,
    failures: dict[str, str],
) -> None:
    """Run a sub-app's background work; if it fails, log it and keep the rest of the emulator up."""
    try:
        await run(ctx)
    except Exception as exc:
        log.exception("emulator sub-app %r stopped with an error; the other parts keep serving", name)
        failures[name] = f"{type(exc).__name__}: {exc}"


async def serve(options: ServerOptions, sock: socket.socket | None = None) -> None:
    """Serve until SIGTERM/SIGINT. ``sock`` is an already-bound listener (else one is bound)."""
    state_dir = options.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    info_path = state_dir / INFO_FILE
    info_path.unlink(missing_ok=True)
    tls = ensure_tls(state_dir)
    listener = sock if sock is not None else bind_listener(options.port)
    port = int(listener.getsockname()[1])
    store = Store(state_dir / DB_FILE)  # StateError: damaged state, reported by emulator.__main__
    try:
        store.check_integrity()
    except BaseException:
        store.close()
        listener.close()
        raise
    tenant_id, subscription_id = load_ids(store)
    ctx = EmulatorContext(
        state_dir=state_dir,
        store=store,
        base_url=f"https://127.0.0.1:{port}",
        ca_file=tls.ca_file,
        cert_file=tls.cert_file,
        key_file=tls.key_file,
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        faults=options.faults,
    )
    request_log = RequestLog(state_dir / REQUEST_LOG)
    parts = build_app(
        ctx,
        options.arm,
        request_log,
        graph_page_size=options.graph_page_size,
        throttling=options.throttling,
    )
    config = uvicorn.Config(
        parts.app,
        ssl_certfile=str(tls.cert_file),
        ssl_keyfile=str(tls.key_file),
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=SERVER_KEEP_ALIVE_S,
        timeout_graceful_shutdown=3,
    )
    server = _Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signal, server)
            tg.start_soon(_guarded, "gateway", emulator.gateway.run, ctx, parts.failures)
            tg.start_soon(_guarded, "runner", emulator.runner.run, ctx, parts.failures)

            async def _serve() -> None:
                await server.serve(sockets=[listener])
                tg.cancel_scope.cancel()

            tg.start_soon(_serve)
            while not server.started:
                if server.should_exit:
                    break
                await anyio.sleep(0.01)
            if server.started:
                _write_json(
                    info_path,
                    {
                        "pid": os.getpid(),
                        "port": port,
                        "base_url": ctx.base_url,
                        "ca_file": str(tls.ca_file),
                        "tenant_id": tenant_id,
                        "subscription_id": subscription_id,
                        # as started; ``/_emulator/throttling`` answers what is in force now
                        "arm_throttling": options.throttling.as_json(),
                        # the idle keep-alive its container apps get (the verifier idles past it)
                        "app_keep_alive_s": APP_KEEP_ALIVE_S,
                    },
                )
                (state_dir / PORT_FILE).write_text(f"{port}\n")
                log.info("emulator ready on %s", ctx.base_url)
    finally:
        info_path.unlink(missing_ok=True)
        request_log.close()
        store.close()
        listener.close()
