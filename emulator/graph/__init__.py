"""Emulator sub-app: Microsoft Graph v1.0. Filled in below."""

from __future__ import annotations

from starlette.routing import BaseRoute

from emulator.context import EmulatorContext


def routes(ctx: EmulatorContext, page_size: int = 100) -> list[BaseRoute]:
    return []
