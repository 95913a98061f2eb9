"""Admin routes of the emulator (``/_emulator/...``): health, info, fault settings.

Where it sits: mounted by ``emulator.app`` on the main port next to ARM, Graph and identity.
``health`` answers ``{"status": "ok"}``, or ``"degraded"`` with ``failed`` naming a sub-app
whose background work (``run``) stopped with an error (the rest keeps serving).
``/_emulator/ingest`` and ``/_emulator/live`` accept (and drop) Application Insights telemetry:
the emulated components' connection strings point there.
``prmlab local status`` and the test fixture read ``health`` and ``info``; tests switch faults
per run with ``PUT /_emulator/faults`` (a partial JSON document, see ``emulator.faults``) and
ARM's throttling with ``PUT /_emulator/throttling`` (``{"enabled": false}``, ``{"scale": 0.1}``,
``{"writes": {"size": 5, "refill": 1}}``; every PUT refills all buckets, see ``emulator.arm.throttle``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.arm import Throttle
from emulator.context import EmulatorContext
from emulator.faults import FaultConfigError, FaultInjector


def listener_ports(ctx: EmulatorContext) -> dict[str, int]:
    """Ports handed out to APIM gateways and container apps, by resource id (from the store)."""
    ports: dict[str, int] = {}
    for doc in ctx.store.list("microsoft.apimanagement/service"):
        url = str(doc.body.get("properties", {}).get("gatewayUrl") or "")
        port = url.rsplit(":", 1)[-1]
        if port.isdigit():
            ports[str(doc.body.get("id", doc.key))] = int(port)
    for doc in ctx.store.list("microsoft.app/containerapps"):
        ingress = doc.body.get("properties", {}).get("configuration", {}).get("ingress") or {}
        port = str(ingress.get("fqdn") or "").rsplit(":", 1)[-1]
        if port.isdigit():
            ports[str(doc.body.get("id", doc.key))] = int(port)
    return ports


def routes(
    ctx: EmulatorContext, injector: FaultInjector, failures: Mapping[str, str], throttle: Throttle
) -> list[BaseRoute]:
    """``failures``: sub-apps whose background work stopped with an error (health says degraded)."""
    started = time.time()

    async def health(request: Request) -> Response:
        body: dict[str, object] = {
            "status": "degraded" if failures else "ok",
            "pid": os.getpid(),
            "uptime_s": round(time.time() - started, 3),
        }
        if failures:
            body["failed"] = dict(failures)
        return JSONResponse(body)

    async def info(request: Request) -> Response:
        return JSONResponse(
            {
                "pid": os.getpid(),
                "tenant_id": ctx.tenant_id,
                "subscription_id": ctx.subscription_id,
                "base_url": ctx.base_url,
                "ca_file": str(ctx.ca_file),
                "state_dir": str(ctx.state_dir),
                "issuer": ctx.issuer(),
                "ports": listener_ports(ctx),
            }
        )

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            try:
                data = json.loads(await request.body() or b"{}")
                if not isinstance(data, dict):
                    raise FaultConfigError("the body must be a JSON object")
                injector.configure(data)
            except (ValueError, FaultConfigError) as exc:
                return JSONResponse(
                    {"error": {"code": "InvalidFaults", "message": str(exc)}}, status_code=400
                )
        return JSONResponse(injector.as_json())

    async def throttling(request: Request) -> Response:
        if request.method == "PUT":
            try:
                data = json.loads(await request.body() or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("the body must be a JSON object")
                throttle.configure(data)
            except ValueError as exc:
                return JSONResponse(
                    {"error": {"code": "InvalidThrottling", "message": str(exc)}}, status_code=400
                )
        return JSONResponse(throttle.settings.as_json())

    async def ingest(request: Request) -> Response:
        """Application Insights ingestion (the components' ``ConnectionString`` points here):
        accept and drop, answering as the Breeze endpoint does so exporters stay quiet."""
        body = await request.body()
        items = max(1, body.count(b"\n") + (0 if body.endswith(b"\n") else 1)) if body else 0
        return JSONResponse({"itemsReceived": items, "itemsAccepted": items, "errors": []})

    async def live(request: Request) -> Response:
        return Response(status_code=200, headers={"x-ms-qps-subscribed": "false"})

    return [
        Route("/_emulator/ingest/{rest:path}", ingest, methods=["POST"]),
        Route("/_emulator/live/{rest:path}", live, methods=["GET", "POST"]),
        Route("/_emulator/health", health, methods=["GET"]),
        Route("/_emulator/info", info, methods=["GET"]),
        Route("/_emulator/faults", faults, methods=["GET", "PUT"]),
        Route("/_emulator/throttling", throttling, methods=["GET", "PUT"]),
    ]
