"""Emulator sub-app: the APIM data plane (gateway) and its policy engine.

``run(ctx)`` opens one HTTPS server per APIM service at its ``gatewayUrl`` port
(``gateway.server``); each serves the APIs, operations and policies stored through ARM
(``gateway.config``), running the policy pipeline (``policy``, ``elements``, ``engine``) with
the C# expression subset (``gateway.expr``). ``check`` is the PUT-time gate the ARM layer
calls: ``routes`` registers it as ``ctx.policy_checker``. Request tracing (``gateway.tracing``):
ARM's ``gateways/managed/listDebugCredentials`` / ``listTrace`` use the names exported below. The gateway serves nothing on the main
emulator port (``routes`` is empty).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from emulator.context import EmulatorContext
from emulator.gateway import check
from emulator.gateway.tracing import MAX_LIFETIME_S as MAX_DEBUG_LIFETIME_S
from emulator.gateway.tracing import invalidate as invalidate_debug_credentials
from emulator.gateway.tracing import issue as issue_debug_credential
from emulator.gateway.tracing import load as load_trace
from emulator.gateway.tracing import parse_duration

__all__ = [
    "MAX_DEBUG_LIFETIME_S",
    "invalidate_debug_credentials",
    "issue_debug_credential",
    "load_trace",
    "parse_duration",
    "routes",
    "run",
]


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    ctx.policy_checker = check
    return []


async def run(ctx: EmulatorContext) -> None:
    from emulator.gateway.server import run as run_gateways

    await run_gateways(ctx)
