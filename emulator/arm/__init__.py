"""Emulator sub-app: ARM (Microsoft.ApiManagement + generic resources). Filled in below."""

from __future__ import annotations

from starlette.routing import BaseRoute

from emulator.arm.settings import ArmSettings
from emulator.context import EmulatorContext


def routes(ctx: EmulatorContext, settings: ArmSettings) -> list[BaseRoute]:
    return []
