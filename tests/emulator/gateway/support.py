"""Test helpers for the gateway: a store seeded in ARM wire shapes, tokens, servers on loopback.

``Lab`` writes an APIM service and its children into a temporary ``Store`` exactly as the ARM
layer stores them (lower-cased ids as keys, parent ids, ARM GET JSON bodies), policies passed
through ``check_policy`` as the ARM layer does. ``token`` signs with the identity service's
keys; ``serve`` runs an ASGI app with uvicorn on 127.0.0.1 (optionally HTTPS);
``KeepAliveBackend`` is a raw keep-alive HTTP server whose idle connections the test closes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import uvicorn

from emulator.context import EmulatorContext
from emulator.gateway.app import GatewayApp
from emulator.gateway.check import check_fragment, check_policy
from emulator.gateway.config import (
    KIND_API,
    KIND_API_POLICY,
    KIND_BACKEND,
    KIND_FRAGMENT,
    KIND_GLOBAL_POLICY,
    KIND_LOGGER,
    KIND_NAMED_VALUE,
    KIND_OPERATION,
    KIND_OPERATION_POLICY,
    KIND_SERVICE,
    ServiceConfig,
)
from emulator.gateway.services import Services
from emulator.gateway.subscriptions import KIND_SUBSCRIPTION
from emulator.gateway.upstream import UpstreamPool
from emulator.identity.keys import sign
from emulator.ports import bind_listener
from emulator.store import Store
from emulator.tls import ensure_tls

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION = "00000000-0000-0000-0000-00000000abcd"
CLIENT_ID = "6b1c7f0e-2d4a-4c59-9a8e-1f2b3c4d5e6f"
RG = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-lab"
SERVICE_ID = f"{RG}/providers/Microsoft.ApiManagement/service/apim-lab"


def make_context(state_dir: Path, base_url: str = "https://127.0.0.1:1") -> EmulatorContext:
    files = ensure_tls(state_dir)
    store = Store(state_dir / "emulator.sqlite")
    return EmulatorContext(
        state_dir=state_dir,
        store=store,
        base_url=base_url,
        ca_file=files.ca_file,
        cert_file=files.cert_file,
        key_file=files.key_file,
        tenant_id=TENANT,
        subscription_id=SUBSCRIPTION,
    )


class Lab:
    """One APIM service in the store, built up by the tests."""

    def __init__(self, ctx: EmulatorContext, gateway_port: int = 0) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.service_key = SERVICE_ID.lower()
        self.configs: list[ServiceConfig] = []
        self.put_service(gateway_port)

    def _put(self, kind: str, arm_id: str, body: dict[str, Any], parent: str) -> str:
        key = arm_id.lower()
        self.store.put(kind, key, {"id": arm_id, **body}, parent.lower())
        for config in self.configs:
            config.invalidate()  # what the ARM layer's event does for a running gateway
        return key

    def put_service(self, port: int, identity: Mapping[str, Any] | None = None) -> None:
        body: dict[str, Any] = {
            "name": "apim-lab",
            "type": "Microsoft.ApiManagement/service",
            "properties": {"gatewayUrl": f"https://127.0.0.1:{port}", "provisioningState": "Succeeded"},
        }
        if identity is not None:
            body["identity"] = dict(identity)
        self._put(KIND_SERVICE, SERVICE_ID, body, RG)

    def named_value(self, name: str, value: str, secret: bool = False) -> None:
        self._put(
            KIND_NAMED_VALUE,
            f"{SERVICE_ID}/namedValues/{name}",
            {"name": name, "properties": {"displayName": name, "value": value, "secret": secret}},
            SERVICE_ID,
        )

    def named_values(self) -> dict[str, str]:
        return {
            d.body["properties"]["displayName"]: d.body["properties"]["value"]
            for d in self.store.list(KIND_NAMED_VALUE, parent=self.service_key)
        }

    def backend(self, name: str, url: str) -> None:
        self._put(
            KIND_BACKEND,
            f"{SERVICE_ID}/backends/{name}",
            {"name": name, "properties": {"url": url, "protocol": "http"}},
            SERVICE_ID,
        )

    def fragment(self, name: str, xml: str) -> None:
        stored = check_fragment(xml, list(self.named_values()))
        self._put(
            KIND_FRAGMENT,
            f"{SERVICE_ID}/policyFragments/{name}",
            {"name": name, "properties": {"value": stored, "format": "xml"}},
            SERVICE_ID,
        )

    def logger(self, name: str, resource_id: str) -> None:
        """An Application Insights logger (what llm-emit-token-metric needs)."""
        self._put(
            KIND_LOGGER,
            f"{SERVICE_ID}/loggers/{name}",
            {"name": name, "properties": {"loggerType": "applicationInsights", "resourceId": resource_id}},
            SERVICE_ID,
        )

    def subscription(self, name: str, key: str) -> None:
        self._put(
            KIND_SUBSCRIPTION,
            f"{SERVICE_ID}/subscriptions/{name}",
            {"name": name, "properties": {"primaryKey": key, "state": "active"}},
            SERVICE_ID,
        )

    def api(
        self,
        name: str,
        path: str,
        service_url: str | None = None,
        *,
        api_type: str = "http",
        subscription_required: bool = False,
        backend_id: str | None = None,
    ) -> str:
        """An API; an MCP API (``api_type="mcp"``) as APIM stores it: ``backendId`` +
        ``mcpProperties``, no ``serviceUrl`` unless given."""
        props: dict[str, Any] = {
            "displayName": name,
            "path": path,
            "protocols": ["https"],
            "subscriptionRequired": subscription_required,
            "type": api_type,
        }
        if service_url is not None:
            props["serviceUrl"] = service_url
        if backend_id is not None:
            props["backendId"] = backend_id
        if api_type == "mcp":
            props["mcpProperties"] = {"transportType": "streamable"}
        return self._put(
            KIND_API, f"{SERVICE_ID}/apis/{name}", {"name": name, "properties": props}, SERVICE_ID
        )

    def operation(self, api: str, name: str, method: str, template: str) -> str:
        api_id = f"{SERVICE_ID}/apis/{api}"
        return self._put(
            KIND_OPERATION,
            f"{api_id}/operations/{name}",
            {
                "name": name,
                "properties": {
                    "displayName": name,
                    "method": method,
                    "urlTemplate": template,
                    "templateParameters": [],
                },
            },
            api_id,
        )

    def policy(self, xml: str, api: str | None = None, operation: str | None = None) -> None:
        stored = check_policy(xml, list(self.named_values()))
        body = {"name": "policy", "properties": {"value": stored, "format": "xml"}}
        if api is None:
            self._put(KIND_GLOBAL_POLICY, f"{SERVICE_ID}/policies/policy", body, SERVICE_ID)
        elif operation is None:
            self._put(
                KIND_API_POLICY, f"{SERVICE_ID}/apis/{api}/policies/policy", body, f"{SERVICE_ID}/apis/{api}"
            )
        else:
            op_id = f"{SERVICE_ID}/apis/{api}/operations/{operation}"
            self._put(KIND_OPERATION_POLICY, f"{op_id}/policies/policy", body, op_id)

    def app(
        self, backend: Any = None, client: httpx.AsyncClient | None = None
    ) -> tuple[GatewayApp, ServiceConfig, Services]:
        """The gateway ASGI app; ``backend`` (an ASGI app) answers every outbound call."""
        if client is None:
            client = (
                httpx.AsyncClient(transport=httpx.ASGITransport(app=backend))
                if backend is not None
                else httpx.AsyncClient()
            )
        config = ServiceConfig(self.store, self.service_key)
        self.configs.append(config)
        services = Services(self.ctx, self.service_key, client)
        doc = self.store.get(KIND_SERVICE, self.service_key)
        services.service_body = dict(doc.body) if doc else {}
        return GatewayApp(config, services, "https://127.0.0.1:1"), config, services


def token(ctx: EmulatorContext, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": CLIENT_ID,
        "iss": ctx.issuer(TENANT),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": TENANT,
        "oid": str(uuid.uuid4()),
        "sub": "user-sub",
        "azp": "aebc6443-996d-45c2-90f0-388ff96faa56",
        "scp": "user_impersonate",
        "ver": "2.0",
    }
    claims.update(overrides)
    for k in [k for k, v in claims.items() if v is None]:
        del claims[k]
    return sign(ctx, claims)


@asynccontextmanager
async def serve(app: Any, *, ssl_ctx: EmulatorContext | None = None) -> AsyncIterator[int]:
    """Run ``app`` with uvicorn on 127.0.0.1 (HTTPS when ``ssl_ctx`` is given); yields the port."""
    sock = bind_listener(0)
    port = int(sock.getsockname()[1])
    kwargs: dict[str, Any] = {}
    if ssl_ctx is not None:
        kwargs = {"ssl_certfile": str(ssl_ctx.cert_file), "ssl_keyfile": str(ssl_ctx.key_file)}
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=1, **kwargs
    )
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    done = anyio.Event()
    ready = anyio.Event()

    async def run() -> None:
        try:
            await server.startup(sockets=[sock])
            ready.set()
            await server.main_loop()
            await server.shutdown(sockets=[sock])
        finally:
            done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(10):
            await ready.wait()
        try:
            yield port
        finally:
            server.should_exit = True
            with anyio.fail_after(10):
                await done.wait()


class KeepAliveBackend:
    """A raw HTTP/1.1 keep-alive server whose connection closes the test decides, the way a
    backend's keep-alive timeout closes them (uvicorn: ``timeout_keep_alive``, 5 s)."""

    def __init__(self) -> None:
        self.idle: set[Any] = set()
        self.accepted = 0
        self.requests: list[str] = []
        self.drop_on_reused = False  # read a request on a reused connection, close without answering
        # the answer's status line and extra header lines (a server refusing every token: 403 ...)
        self.status = b"200 OK"
        self.headers = b""

    async def handle(self, stream: Any) -> None:
        from anyio.streams.buffered import BufferedByteReceiveStream

        self.accepted += 1
        reader = BufferedByteReceiveStream(stream)
        served = 0
        try:
            while True:
                self.idle.add(stream)
                head = await reader.receive_until(b"\r\n\r\n", 65536)
                self.idle.discard(stream)
                lines = head.decode().split("\r\n")
                length = next(
                    (
                        int(v)
                        for k, _, v in (x.partition(": ") for x in lines[1:])
                        if k.lower() == "content-length"
                    ),
                    0,
                )
                body = await reader.receive_exactly(length) if length else b""
                self.requests.append(lines[0])
                if self.drop_on_reused and served:
                    await stream.aclose()
                    return
                reply = f"{lines[0]} {body.decode()}".encode()
                await stream.send(
                    b"HTTP/1.1 %s\r\n%sContent-Length: %d\r\n\r\n%s"
                    % (self.status, self.headers, len(reply), reply)
                )
                served += 1
        except (
            anyio.EndOfStream,
            anyio.IncompleteRead,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
        ):
            pass
        finally:
            self.idle.discard(stream)
            await stream.aclose()

    async def expire_idle(self) -> None:
        """What the keep-alive timeout does: close every connection waiting for a request."""
        for stream in list(self.idle):
            await stream.aclose()


async def until_closed_by_peer(pool: UpstreamPool) -> None:
    """Wait (bounded) until every pooled socket has seen the backend's close."""
    import select

    from anyio.abc import SocketAttribute

    poller = select.poll()  # the event loop owns the sockets: wait for them in a worker thread
    socks = [c.stream.extra(SocketAttribute.raw_socket) for conns in pool._idle.values() for c in conns]
    for sock in socks:
        poller.register(sock, select.POLLIN)
    with anyio.fail_after(10):
        while len(await anyio.to_thread.run_sync(poller.poll, 10_000)) < len(socks):
            pass


@asynccontextmanager
async def keepalive_backend() -> AsyncIterator[tuple[KeepAliveBackend, str]]:
    """A ``KeepAliveBackend`` on 127.0.0.1; yields it and its base URL."""
    backend = KeepAliveBackend()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, backend.handle)
        try:
            yield backend, f"http://127.0.0.1:{port}"
        finally:
            tg.cancel_scope.cancel()
    await listener.aclose()
