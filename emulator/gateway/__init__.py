"""Emulator sub-app: the APIM data plane (gateway) and its policy engine.

``run(ctx)`` opens one HTTPS server per APIM service at its ``gatewayUrl`` port
(``gateway.server``); each serves the APIs, operations and policies stored through ARM
(``gateway.config``), running the policy pipeline (``policy``, ``elements``, ``engine``) with
the C# expression subset (``gateway.expr``). ``check`` is the PUT-time gate the ARM layer
calls: ``routes`` registers it as ``ctx.policy_checker``. The gateway serves nothing on the main
emulator port (``routes`` is empty).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from emulator.context import EmulatorContext
from emulator.gateway import check

__all__ = ["routes", "run"]


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    ctx.policy_checker = check
    return []


async def run(ctx: EmulatorContext) -> None:
    from emulator.gateway.server import run as run_gateways

    await run_gateways(ctx)
