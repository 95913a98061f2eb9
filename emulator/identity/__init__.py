"""Emulator sub-app: identity (placeholder until its owner fills it in; see docs/DEVELOPING.md).

Contract: ``routes(ctx)`` returns the Starlette routes this sub-app serves on the main
HTTPS port; ``run(ctx)`` does its background work (ports, processes) until cancelled.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from emulator.context import EmulatorContext


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    return []


async def run(ctx: EmulatorContext) -> None:
    return None
