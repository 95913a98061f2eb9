"""Providers for APIM loggers and diagnostics (children of the service; ``apim.ApimChild``).

A logger sends to Application Insights and carries the mark in its ``description``; a diagnostic
is owned when its logger is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.kinds import Kind
from orchestrator.providers.apim import ApimChild, arm_id, base_props, service_names, service_of
from orchestrator.providers.base import (
    description_owned,
    diff_owned,
    wire,
    with_mark,
)
from orchestrator.providers.common import (
    Context,
    get_or_none,
)
from orchestrator.resource import UNKNOWN, Actual, Desired, FieldChange, Secret

if TYPE_CHECKING:
    from orchestrator.spec.models import ApimDiagnostic, ApimLogger


class LoggerProvider(ApimChild):
    kind = Kind.APIM_LOGGER
    operations_attr = "logger"

    def desired(self, address: str, spec: ApimLogger, resolved: Mapping[str, Any]) -> Desired:
        name = spec.name
        props = base_props(self.ctx.rg, service_of(self.ctx))
        props.update(
            {
                "properties.loggerType": "applicationInsights",
                "properties.description": with_mark(None, self.ctx.lab),
            }
        )
        insights = _app_insights_name(self.ctx)
        if insights:
            props["properties.resourceId"] = arm_id(self.ctx, "Microsoft.Insights/components", insights)
        return Desired(address, self.kind, name, props)

    async def _credentials(self, desired: Desired) -> dict[str, Any]:
        """The Application Insights instrumentation key, read when writing (never diffed:
        APIM keeps logger credentials as a hidden named value and returns a reference)."""
        rid = desired.properties.get("properties.resourceId")
        if not isinstance(rid, str):
            return {}
        from orchestrator.providers.monitoring import APP_INSIGHTS

        resources = self.ctx.clients.resources
        component = await get_or_none(
            desired.address, lambda: resources.resources.get_by_id(rid, api_version=APP_INSIGHTS.api_version)
        )
        if component is None:
            return {}
        key = (wire(component).get("properties") or {}).get("InstrumentationKey")
        return {"instrumentationKey": key} if key else {}

    async def create(self, desired: Desired) -> Actual:
        credentials = await self._credentials(desired)
        if credentials:
            desired = Desired(
                desired.address,
                desired.kind,
                desired.name,
                {**desired.properties, "@credentials": credentials},
            )
        return await super().create(desired)

    def body(self, desired: Desired) -> dict[str, Any]:
        body = super().body(desired)
        credentials = desired.properties.get("@credentials")
        if credentials:
            body["properties"]["credentials"] = {
                k: (v.reveal() if isinstance(v, Secret) else v) for k, v in credentials.items()
            }
        return body

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        p = wire(item).get("properties") or {}
        props = {
            **base_props(rg, service),
            "properties.loggerType": p.get("loggerType"),
            "properties.description": p.get("description"),
            "properties.resourceId": p.get("resourceId"),
        }
        owned = description_owned(p.get("description"), lab)
        return Actual("", self.kind, str(item.name), props, {"id": item.id}, owned, item.id)


class DiagnosticProvider(ApimChild):
    kind = Kind.APIM_DIAGNOSTIC
    operations_attr = "diagnostic"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._owned_loggers: set[tuple[str, str]] = set()

    def desired(self, address: str, spec: ApimDiagnostic, resolved: Mapping[str, Any]) -> Desired:
        rg = self.ctx.rg
        service = service_of(self.ctx)
        name = "applicationinsights"
        logger = _logger_name(self.ctx)
        props = base_props(rg, service)
        logger_id = (
            UNKNOWN
            if service is UNKNOWN
            else f"{self.ctx.rg_id(rg)}/providers/Microsoft.ApiManagement/service/{service}/loggers/{logger}"
        )
        props.update(
            {
                "properties.loggerId": logger_id,
                "properties.alwaysLog": "allErrors" if spec.always_log_errors else None,
                "properties.logClientIp": spec.log_client_ip,
                "properties.sampling.samplingType": "fixed",
                "properties.sampling.percentage": float(spec.sampling_percentage),
                "properties.verbosity": spec.verbosity,
            }
        )
        return Desired(address, self.kind, name, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        def same_logger(want: Any, have: Any) -> bool:
            # APIM answers with the full ARM id or ``/loggers/<name>``: compare the logger name.
            return isinstance(want, str) and isinstance(have, str) and _last(want) == _last(have)

        return diff_owned(desired.properties, actual.properties, compare={"properties.loggerId": same_logger})

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        # A diagnostic has no description: it is owned when the logger it points at is owned.
        owned_loggers: set[tuple[str, str]] = set()
        loggers = LoggerProvider(self.ctx)
        rg = self.ctx.rg
        for service in await service_names(self.ctx, addresses, lab_name):
            for item in await loggers._list(rg, service):
                if loggers.actual_from(item, rg, service, lab_name).owned:
                    owned_loggers.add((service.lower(), str(item.name).lower()))
        self._owned_loggers = owned_loggers
        return await super().read(lab_name, addresses)

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        p = wire(item).get("properties") or {}
        sampling = p.get("sampling") or {}
        props = {
            **base_props(rg, service),
            "properties.loggerId": p.get("loggerId"),
            "properties.alwaysLog": p.get("alwaysLog"),
            "properties.sampling.samplingType": sampling.get("samplingType"),
            "properties.sampling.percentage": sampling.get("percentage"),
            "properties.verbosity": p.get("verbosity"),
            "properties.logClientIp": p.get("logClientIp"),
        }
        owned_loggers = self._owned_loggers
        owned = (service.lower(), _last(str(p.get("loggerId") or "")).lower()) in owned_loggers
        return Actual("", self.kind, str(item.name), props, {}, owned, item.id)

    async def create(self, desired: Desired) -> Actual:
        actual = await super().create(desired)
        return dataclasses.replace(actual, owned=True)


def _app_insights_name(ctx: Context) -> str | None:
    insights = ctx.lab_spec.monitoring.app_insights if ctx.lab_spec is not None else None
    return None if insights is None else str(insights.name)


def _logger_name(ctx: Context) -> str:
    logger = ctx.lab_spec.monitoring.apim_logger if ctx.lab_spec is not None else None
    return "appinsights-logger" if logger is None else str(logger.name)


def _last(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]
