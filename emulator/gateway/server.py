"""One HTTPS uvicorn server per APIM service, on 127.0.0.1 at the port of its ``gatewayUrl``.

``GatewayManager.run`` opens a server for every service already in the store (state survives
restarts), then follows ARM events: a service PUT opens its server (if not open yet), a
delete closes it, and any write under a service invalidates that gateway's config snapshot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
import uvicorn
from anyio.abc import TaskGroup

from emulator.context import EmulatorContext, Event
from emulator.gateway.accesslog import ACCESS_LOG, AccessLog, AccessLogMiddleware
from emulator.gateway.app import GatewayApp
from emulator.gateway.config import KIND_SERVICE, ServiceConfig
from emulator.gateway.services import Services, make_client, outbound_ssl
from emulator.gateway.upstream import UpstreamPool
from emulator.ports import SERVER_KEEP_ALIVE_S

log = logging.getLogger("emulator.gateway")


@dataclass
class _Running:
    server: uvicorn.Server
    config: ServiceConfig
    services: Services
    done: anyio.Event
    port: int


def gateway_port(body: dict[str, object]) -> int | None:
    props = body.get("properties")
    url = props.get("gatewayUrl") if isinstance(props, dict) else None
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        return None
    return parts.port


class GatewayManager:
    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.running: dict[str, _Running] = {}
        self._tg: TaskGroup | None = None
        self.started = anyio.Event()
        self.access_log = AccessLog(ctx.state_dir / ACCESS_LOG)  # every gateway's requests

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self.ctx.subscribe(self.on_event)
            for doc in self.ctx.store.list(KIND_SERVICE):
                await self.open(doc.key, doc.body)
            self.started.set()
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    for key in list(self.running):
                        await self.close(key)
                    self.access_log.close()

    async def on_event(self, event: Event) -> None:
        if event.kind == KIND_SERVICE:
            if event.action == "delete":
                await self.close(event.key)
            else:
                doc = self.ctx.store.get(KIND_SERVICE, event.key)
                if doc is not None:
                    await self.open(event.key, doc.body)
            return
        for key, running in self.running.items():
            if event.key.startswith(key + "/"):
                running.config.invalidate()

    async def open(self, key: str, body: dict[str, object]) -> None:
        port = gateway_port(body)
        existing = self.running.get(key)
        if existing is not None:
            if existing.port == port:
                existing.services.service_body = dict(body)  # e.g. its managed identity changed
                existing.config.invalidate()
                return
            await self.close(key)
        if port is None or self._tg is None:
            return
        config = ServiceConfig(self.ctx.store, key)
        ca = str(self.ctx.ca_file)
        services = Services(self.ctx, key, make_client(ca), UpstreamPool(outbound_ssl(ca)))
        services.service_body = dict(body)
        app = GatewayApp(config, services, f"https://127.0.0.1:{port}")
        service_name = key.rsplit("/", 1)[-1]
        uconfig = uvicorn.Config(
            AccessLogMiddleware(app, self.access_log, service_name),
            host="127.0.0.1",
            port=port,
            ssl_certfile=str(self.ctx.cert_file),
            ssl_keyfile=str(self.ctx.key_file),
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            # context.Request.IpAddress is the caller's address (APIM keys rate-limit-by-key on
            # it: "keyed by caller IP address", learn.microsoft.com/azure/api-management/
            # rate-limit-by-key-policy); X-Forwarded-For/Forwarded are the client's to forge.
            # uvicorn's default would rewrite the peer address from them for 127.0.0.1 callers.
            proxy_headers=False,
            timeout_keep_alive=SERVER_KEEP_ALIVE_S,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(uconfig)
        done = anyio.Event()
        running = _Running(server, config, services, done, port)
        self.running[key] = running
        started = anyio.Event()
        self._tg.start_soon(self._serve, running, started)
        await started.wait()

    async def _serve(self, running: _Running, started: anyio.Event) -> None:
        server = running.server
        try:
            config = server.config
            if not config.loaded:
                config.load()
            server.lifespan = config.lifespan_class(config)
            # not server.serve(): that would take over the process's signal handlers
            await server.startup()
            started.set()
            try:
                if server.started and not server.should_exit:
                    await server.main_loop()
            finally:
                # also on cancellation: close the listening socket and the connections
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    if server.started:
                        await server.shutdown()
        except (OSError, SystemExit) as exc:
            log.error(
                "gateway for %s could not serve on port %s: %s", running.config.service_key, running.port, exc
            )
        finally:
            started.set()
            with anyio.CancelScope(shield=True):
                await running.services.client.aclose()
                await running.services.upstream.aclose()
            running.done.set()

    async def close(self, key: str) -> None:
        running = self.running.pop(key, None)
        if running is None:
            return
        running.server.should_exit = True
        with anyio.move_on_after(5):
            await running.done.wait()


async def run(ctx: EmulatorContext) -> None:
    await GatewayManager(ctx).run()
