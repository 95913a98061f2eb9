"""CORS of the discovery documents through the local gateway, over real HTTPS, as a browser-based
MCP client (MCP Inspector's UI on http://localhost:6274) sees them: the rendered ``prm`` and
``gateway-metadata`` policies stored through ARM exactly as a lab stores them (operation policies
on GET operations, ``inbound`` without ``<base />``; one PRM operation under the MCP API whose own
policy checks tokens), then a preflight (``fetch`` with ``MCP-Protocol-Version``) and the GET.
The same checks fail once the ``<cors>`` element is removed from the template's output."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest
from lxml import etree

from orchestrator.render import NamedValueRef, render_policy
from tests.support.azure import group_and_service, make_mcp_api, put_named_values
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ORIGIN = "http://localhost:6274"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "mcp-protocol-version",
}
GET = {"Origin": ORIGIN, "MCP-Protocol-Version": "2025-06-18", "Accept": "application/json"}


def _without_cors(xml: str) -> str:
    root = etree.fromstring(xml.encode())
    for el in root.iter("cors"):
        el.getparent().remove(el)  # type: ignore[union-attr]
    return etree.tostring(root, encoding="unicode")


async def _configure(emu: RunningEmulator, strip_cors: bool) -> tuple[str, list[str]]:
    """A service with the three discovery URLs of a gateway-mode lab; returns the gateway URL and
    the document URLs."""
    keep = _without_cors if strip_cors else (lambda xml: xml)
    async with emu.apim_client() as c:
        group, svc = await group_and_service(emu, c)
        gateway = str(svc.gateway_url)
        await put_named_values(c, group, svc.name, {"McpTenantId": emu.tenant_id, "McpClientId": CLIENT_ID})
        mcp_url, issuer = f"{gateway}/mcp", f"{gateway}/oauth"
        prm = keep(
            render_policy(
                "prm",
                {
                    "resource": mcp_url,
                    "authorization_servers": [issuer],
                    "scopes_supported": [f"{mcp_url}/user_impersonate"],
                    "resource_name": "prmlab MCP server",
                },
            )
        )
        metadata = keep(
            render_policy(
                "gateway-metadata", {"issuer": issuer, "scopes_supported": [f"{mcp_url}/user_impersonate"]}
            )
        )
        apis: list[tuple[str, dict[str, Any], str, str, str | None]] = [
            ("mcp", {"path": "mcp", "api_type": "mcp"}, "prm", "/.well-known/oauth-protected-resource", prm),
            ("prm", {"path": ".well-known/oauth-protected-resource"}, "mcp", "/mcp", prm),
            ("meta", {"path": ".well-known/oauth-authorization-server"}, "oauth", "/oauth", metadata),
        ]
        for api, props, op, template, xml in apis:
            if props.get("api_type") == "mcp":
                await make_mcp_api(c, group, svc.name, api, props["path"])
            else:
                body = {
                    "display_name": api,
                    "protocols": ["https"],
                    "service_url": "https://127.0.0.1:9/unused",
                    "subscription_required": False,
                    **props,
                }
                await (await c.api.begin_create_or_update(group, svc.name, api, body)).result()
            await c.api_operation.create_or_update(
                group, svc.name, api, op, {"display_name": op, "method": "GET", "url_template": template}
            )
            await c.api_operation_policy.create_or_update(
                group, svc.name, api, op, "policy", {"value": xml, "format": "rawxml"}
            )
        # the MCP API's own policy refuses anonymous requests: it must never see the preflight
        api_policy = render_policy(
            "mcp-api-entra",
            {
                "tenant_id": NamedValueRef("McpTenantId"),
                "audience": NamedValueRef("McpClientId"),
                "scope": f"{CLIENT_ID}/user_impersonate",
                "resource_metadata_url": f"{gateway}/.well-known/oauth-protected-resource/mcp",
            },
        )
        await c.api_policy.create_or_update(
            group, svc.name, "mcp", "policy", {"value": api_policy, "format": "rawxml"}
        )
    urls = [
        f"{gateway}/.well-known/oauth-protected-resource/mcp",
        f"{gateway}/mcp/.well-known/oauth-protected-resource",
        f"{gateway}/.well-known/oauth-authorization-server/oauth",
    ]
    return gateway, urls


async def _browser_fetch(emu: RunningEmulator, url: str) -> tuple[httpx.Response, httpx.Response]:
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(emu.ca_file))) as http:
        return await http.options(url, headers=PREFLIGHT), await http.get(url, headers=GET)


async def test_browser_preflight_and_get_on_every_discovery_document(emulator: RunningEmulator) -> None:
    _, urls = await _configure(emulator, strip_cors=False)
    for url in urls:
        pre, got = await _browser_fetch(emulator, url)
        assert pre.status_code == 200, url
        assert pre.headers["access-control-allow-origin"] == "*", url
        assert "GET" in pre.headers["access-control-allow-methods"].split(","), url
        assert pre.headers["access-control-allow-headers"].lower() == "mcp-protocol-version", url
        assert "access-control-allow-credentials" not in pre.headers, url
        assert pre.content == b"", url
        assert got.status_code == 200, url
        assert got.headers["access-control-allow-origin"] == "*", url
        assert "access-control-allow-credentials" not in got.headers, url
        assert got.headers["content-type"] == "application/json", url
        assert got.json()["issuer" if url.endswith("/oauth") else "resource"].startswith("https://127.0.0.1:")


async def test_without_the_cors_element_a_browser_is_refused(emulator: RunningEmulator) -> None:
    """The check is able to fail: the same policies with ``<cors>`` removed."""
    _, urls = await _configure(emulator, strip_cors=True)
    for url in urls:
        pre, got = await _browser_fetch(emulator, url)
        assert pre.status_code != 200 or "access-control-allow-origin" not in pre.headers, url
        assert got.status_code == 200, url  # the document is still served ...
        assert "access-control-allow-origin" not in got.headers, url  # ... but a browser may not read it
