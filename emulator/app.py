"""Assemble the emulator's main-port ASGI app from its sub-apps.

Where it sits: ``emulator.server`` builds the context and calls ``build_app``; the result is
served by uvicorn over HTTPS on 127.0.0.1. Layers, outermost first: the request log
(``reqlog``), fault injection (``faults``), ARM's subscription throttling (``arm.throttle``), then
one router with the admin routes, ARM
(``/subscriptions``, ``/providers``), Graph (``/v1.0``), the Table service (``/storage``) and
every route the identity, gateway and runner sub-apps contribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

import emulator.gateway
import emulator.identity
import emulator.runner
import emulator.storage
from emulator import admin, arm, graph
from emulator.arm import ArmSettings, Throttle, ThrottleMiddleware, ThrottleSettings
from emulator.context import EmulatorContext
from emulator.faults import FaultInjector, FaultMiddleware
from emulator.reqlog import RequestLog, RequestLogMiddleware


@dataclass(frozen=True, slots=True)
class AppParts:
    app: ASGIApp
    injector: FaultInjector
    log: RequestLog
    throttle: Throttle
    failures: dict[str, str] = field(default_factory=dict)  # sub-app -> why its run() stopped


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"error": {"code": "NotFound", "message": f"No route for {request.method} {request.url.path}"}},
        status_code=404,
    )


def build_app(
    ctx: EmulatorContext,
    arm_settings: ArmSettings,
    log: RequestLog,
    *,
    graph_page_size: int = 100,
    throttling: ThrottleSettings | None = None,
) -> AppParts:
    injector = FaultInjector(ctx.faults)
    throttle = Throttle(throttling)
    failures: dict[str, str] = {}
    routes = [
        *admin.routes(ctx, injector, failures, throttle),
        *arm.routes(ctx, arm_settings),
        *graph.routes(ctx, graph_page_size),
        *emulator.identity.routes(ctx),
        *emulator.gateway.routes(ctx),
        *emulator.runner.routes(ctx),
        *emulator.storage.routes(ctx),
    ]
    inner = Starlette(routes=routes, exception_handlers={404: _not_found})
    app: ASGIApp = RequestLogMiddleware(FaultMiddleware(ThrottleMiddleware(inner, throttle), injector), log)
    return AppParts(app=app, injector=injector, log=log, throttle=throttle, failures=failures)
