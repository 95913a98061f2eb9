"""Helpers for engine tests against the emulator: a small generated lab and one engine run.

``lab_text(...)`` writes a lab (APIM service, named values, APIs with policies and operations,
optionally Entra apps); ``reconcile_on(emu, lab_file, **options)`` runs ``engine.execute``
through the real providers and SDKs and returns the run report plus the emulator requests it
made (from ``requests.jsonl``).
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any

import anyio

from orchestrator.engine import (
    ReconcileOptions,
    RunReport,
    Terminal,
    execute,
    nodes_from_graph,
    spec_resolver,
)
from tests.support.emulator import RunningEmulator


def lab_text(
    name: str,
    *,
    plain: str = "one",
    resource_name: str = "prmlab MCP server",
    extra_api: bool = True,
    apps: int = 0,
    extra_named_values: tuple[str, ...] = (),
    prm_policy: bool = True,
    scopes: tuple[str, ...] = ("user_impersonate",),
    adopt_resource_group: bool = False,
) -> str:
    lines = [
        f"name: {name}",
        "target:",
        "  kind: local",
        f"  resource_group: rg-{name}",
        "  location: ukwest",
    ]
    if adopt_resource_group:
        lines.append("  adopt_resource_group: true")
    if apps:
        lines += ["entra:", "  apps:"]
        for a in range(apps):
            lines += [
                f"    app{a}:",
                f"      unique_name: {name}-app{a}",
                f"      display_name: {name} app {a}",
                "      access_token_version: 2",
                "      scopes:",
            ]
            for value in scopes:
                lines += [
                    f"        - value: {value}",
                    "          type: User",
                    "          admin_consent_display_name: Access",
                    "          admin_consent_description: Access the API.",
                ]
            lines += [
                "      pre_authorized_clients:",
                "        - app_id: aebc6443-996d-45c2-90f0-388ff96faa56",
                f"          scopes: [{scopes[0]}]",
                "      service_principal: true",
            ]
    lines += [
        "apim:",
        "  service:",
        f"    name: apim-{name}",
        "    sku: BasicV2",
        "    capacity: 1",
        "    publisher_email: admin@example.com",
        "    publisher_name: prmlab",
        "  named_values:",
        "    McpTenantId:",
        "      value: {ref: target.tenant_id}",
        "    Plain:",
        f"      value: {plain}",
        "    Gateway:",
        "      value: {ref: apim.service.gateway_url}",
    ]
    if apps:
        lines += ["    McpClientId:", "      value: {ref: entra.apps.app0.client_id}"]
    for extra in extra_named_values:
        lines += [f"    {extra}:", "      value: extra"]
    lines += [
        "  apis:",
        "    mcp:",
        "      display_name: MCP tools",
        "      type: http",
        "      path: mcp",
        "      protocols: [https]",
        "      subscription_required: false",
        "      operations:",
        "        prm:",
        "          method: GET",
        "          url_template: /.well-known/oauth-protected-resource",
        "          display_name: Protected Resource Metadata",
    ]
    if prm_policy:
        lines += [
            "          policy:",
            "            template: prm",
            "            variables:",
            "              resource: {ref: apim.apis.mcp.url}",
            "              authorization_servers:",
            "                - {ref: target.issuer}",
            "              scopes_supported:",
            "                - api://x/user_impersonate",
            f"              resource_name: {resource_name}",
        ]
    if extra_api:
        lines += [
            "    extra:",
            "      display_name: Extra API",
            "      type: http",
            "      path: extra",
            "      protocols: [https]",
            "      subscription_required: false",
            "      operations:",
            "        get:",
            "          method: GET",
            "          url_template: /items",
            "          display_name: Items",
        ]
    return "\n".join(lines) + "\n"


def write_lab(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "lab.yaml"
    path.write_text(text)
    return path


def settings_for(emu: RunningEmulator, lab: Any) -> Any:
    from orchestrator.target import TargetSettings

    return TargetSettings(
        kind="local",
        subscription_id=emu.subscription_id,
        tenant_id=emu.tenant_id,
        resource_group=lab.target.resource_group,
        location=lab.target.location,
        base_url=emu.base_url,
        ca_file=emu.ca_file,
    )


def reconcile_on(
    emu: RunningEmulator, lab_file: Path, **options: Any
) -> tuple[RunReport, list[dict[str, Any]], str]:
    """One engine run (``--yes``, no verification unless given); returns (report, requests, output)."""
    from orchestrator.global_names import ensure_available
    from orchestrator.graph import build_graph
    from orchestrator.providers import providers_for
    from orchestrator.spec.defaults import with_global_names
    from orchestrator.spec.loader import load_lab
    from orchestrator.target import open_clients

    lab = with_global_names(load_lab(lab_file), emu.subscription_id)  # as the engine does
    nodes = nodes_from_graph(build_graph(lab))
    settings = settings_for(emu, lab)
    options.setdefault("yes", True)
    options.setdefault("verify", False)
    out = io.StringIO()
    term = Terminal(out, out, interactive=False, rich=False, confirm=lambda _q: True)

    async def main() -> RunReport:
        async with open_clients(settings) as clients:
            providers = providers_for(clients, lab)
            return await execute(
                lab.name,
                nodes,
                providers,
                ReconcileOptions(lab_file=lab_file, **options),
                term,
                target="local",
                resolver=spec_resolver(lab, settings.outputs()),
                before_apply=functools.partial(
                    ensure_available,
                    lab=lab,
                    resources=clients.resources,
                    subscription_id=settings.subscription_id,
                ),
            )

    before = len(emu.requests())
    report = anyio.run(main)
    return report, emu.requests()[before:], out.getvalue()


def _name_check(request: dict[str, Any]) -> bool:
    """checkNameAvailability: a POST that reads (``orchestrator.global_names``)."""
    return str(request.get("path", "")).lower().endswith("/checknameavailability")


def writes(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in requests
        if r.get("api") in ("arm", "graph") and r.get("method") != "GET" and not _name_check(r)
    ]


def reads(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if r.get("api") in ("arm", "graph") and r.get("method") == "GET"]
