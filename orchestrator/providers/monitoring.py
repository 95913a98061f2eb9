"""Providers for monitoring: the Log Analytics workspace and Application Insights (generic ARM).

Flow: see ``arm.py``. Application Insights is workspace-based when the lab has a workspace; its
``connection_string`` / ``instrumentation_key`` outputs are ``Secret`` (they let anyone write
telemetry) and feed the APIM logger.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.kinds import Kind
from orchestrator.providers.arm import ArmKind, ArmResourceProvider, resource_id
from orchestrator.resource import Secret

if TYPE_CHECKING:
    from orchestrator.spec.models import AppInsights, LogAnalytics


def _workspace_outputs(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"customer_id": (body.get("properties") or {}).get("customerId")}


def _insights_outputs(body: Mapping[str, Any]) -> dict[str, Any]:
    p = body.get("properties") or {}
    connection, key = p.get("ConnectionString"), p.get("InstrumentationKey")
    return {
        "connection_string": Secret(connection) if connection else None,
        "instrumentation_key": Secret(key) if key else None,
    }


LOG_ANALYTICS = ArmKind(
    Kind.LOG_ANALYTICS_WORKSPACE, "Microsoft.OperationalInsights/workspaces", "2023-09-01", _workspace_outputs
)
APP_INSIGHTS = ArmKind(Kind.APP_INSIGHTS, "Microsoft.Insights/components", "2020-02-02", _insights_outputs)


class LogAnalyticsProvider(ArmResourceProvider):
    spec_kind = LOG_ANALYTICS

    def build(
        self, address: str, spec: LogAnalytics, resolved: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        body = {"properties": {"sku": {"name": spec.sku}, "retentionInDays": spec.retention_days}}
        return spec.name, body


class AppInsightsProvider(ArmResourceProvider):
    spec_kind = APP_INSIGHTS

    def build(
        self, address: str, spec: AppInsights, resolved: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        app_type = spec.application_type
        props: dict[str, Any] = {"Application_Type": app_type}
        workspace = self.ctx.lab_spec.monitoring.log_analytics if self.ctx.lab_spec is not None else None
        if workspace is not None:
            props["WorkspaceResourceId"] = resource_id(
                self.ctx.subscription_id, self.ctx.rg, LOG_ANALYTICS.resource_type, str(workspace.name)
            )
        return spec.name, {"kind": app_type, "properties": props}
