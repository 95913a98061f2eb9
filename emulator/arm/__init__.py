"""Emulator sub-app: ARM — Microsoft.ApiManagement plus the generic resources the lab uses.

Modules: ``ids`` (path parsing), ``errors`` (ARM envelope), ``types`` (the type table),
``crud`` (the shared resource flow), ``lro`` (long-running operations), ``apim_service``, ``apim``, ``acr``,
``storage`` and ``generic`` (per-type behaviour), ``router`` (the ``/subscriptions/...`` endpoint),
``settings``, ``throttle`` (ARM's subscription token buckets, a middleware ``emulator.app`` puts
in front of every route). Store shapes: see ``emulator.arm.apim`` / ``emulator.arm.generic`` (ARM GET
JSON under the lower-cased resource id; resource groups under ``microsoft.resources/resourcegroups``).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from emulator.arm import acr, apim, generic, storage
from emulator.arm.router import ArmRouter
from emulator.arm.settings import ArmSettings
from emulator.arm.throttle import Throttle, ThrottleMiddleware, ThrottleSettings
from emulator.context import EmulatorContext

__all__ = ["ArmSettings", "Throttle", "ThrottleMiddleware", "ThrottleSettings", "register_types", "routes"]

_METHODS = ["GET", "PUT", "PATCH", "DELETE", "POST", "HEAD"]


def register_types() -> None:
    """Fill ``emulator.arm.types.REGISTRY`` with every resource type the emulated ARM serves (the
    api-version table must list each: tests/emulator/contracts/test_versions.py)."""
    apim.register_all()
    generic.register_all()
    acr.register_all()
    storage.register_all()


def routes(ctx: EmulatorContext, settings: ArmSettings) -> list[BaseRoute]:
    register_types()
    router = ArmRouter(ctx, settings)
    return [
        Route("/subscriptions", router.endpoint, methods=_METHODS),
        Route("/subscriptions/{rest:path}", router.endpoint, methods=_METHODS),
        *acr.routes(ctx),
    ]
