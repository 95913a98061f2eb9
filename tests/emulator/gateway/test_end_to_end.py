"""End to end: the lab's rendered policies (entra mode) in the real gateway server (HTTPS,
its own port) in front of a real MCP server (``MCPServer`` streamable HTTP under uvicorn),
driven by the real MCP client — anonymous PRM, 401/403 challenges from on-error, the valid
token streamed through (a progress notification crosses the gateway before the tool ends).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from emulator.context import Event
from emulator.gateway.config import KIND_SERVICE
from emulator.gateway.server import GatewayManager
from emulator.ports import allocate_port
from orchestrator.render import NamedValueRef
from orchestrator.render.policy import render_policy
from tests.emulator.gateway.support import CLIENT_ID, TENANT, Lab, make_context, serve, token

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Running:
    lab: Lab
    gateway: str
    ssl: ssl.SSLContext
    release: anyio.Event


def mcp_server(release: anyio.Event) -> Any:
    server: MCPServer[Any] = MCPServer("gateway-e2e")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return f"echo: {text}"

    @server.tool()
    async def staged(ctx: Context) -> str:
        """Report progress, then wait until the client saw it (proves streaming)."""
        await ctx.report_progress(1, 2, "half way")
        with anyio.fail_after(10):
            await release.wait()
        return "finished"

    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return server.streamable_http_app(transport_security=security)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    ctx = make_context(tmp_path)
    port = allocate_port()
    lab = Lab(ctx, gateway_port=port)
    gateway = f"https://127.0.0.1:{port}"
    release = anyio.Event()
    async with serve(mcp_server(release)) as mcp_port:
        lab.named_value("McpTenantId", TENANT)
        lab.named_value("McpClientId", CLIENT_ID, secret=True)
        lab.backend("mcp-backend", f"http://127.0.0.1:{mcp_port}/mcp")
        api_policy = render_policy(
            "mcp-api-entra",
            {
                "tenant_id": NamedValueRef("McpTenantId"),
                "audience": NamedValueRef("McpClientId"),
                "scope": f"{CLIENT_ID}/user_impersonate",
                "resource_metadata_url": f"{gateway}/.well-known/oauth-protected-resource/mcp",
            },
        )
        prm = render_policy(
            "prm",
            {
                "resource": f"{gateway}/mcp",
                "authorization_servers": [ctx.issuer(TENANT)],
                "scopes_supported": [f"{CLIENT_ID}/user_impersonate"],
                "resource_name": "prmlab MCP server",
            },
        )
        lab.api("mcp-tools", "mcp", api_type="mcp", backend_id="mcp-backend")
        lab.policy(api_policy, api="mcp-tools")
        lab.operation("mcp-tools", "prm", "GET", "/.well-known/oauth-protected-resource")
        lab.policy(prm, api="mcp-tools", operation="prm")
        lab.api("mcp-prm", ".well-known/oauth-protected-resource")
        lab.operation("mcp-prm", "prm", "GET", "/mcp")
        lab.policy(prm, api="mcp-prm", operation="prm")
        manager = GatewayManager(ctx)
        async with anyio.create_task_group() as tg:
            tg.start_soon(manager.run)
            with anyio.fail_after(10):
                await manager.started.wait()
            sslctx = ssl.create_default_context(cafile=str(ctx.ca_file))
            yield Running(lab, gateway, sslctx, release)
            tg.cancel_scope.cancel()


async def test_prm_is_anonymous_and_exact(running: Running) -> None:
    async with httpx.AsyncClient(verify=running.ssl) as http:
        resp = await http.get(f"{running.gateway}/.well-known/oauth-protected-resource/mcp")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "public, max-age=3600"
    doc = resp.json()
    assert doc["resource"] == f"{running.gateway}/mcp"
    assert doc["bearer_methods_supported"] == ["header"]
    assert doc["scopes_supported"] == [f"{CLIENT_ID}/user_impersonate"]


async def test_challenges_come_from_on_error(running: Running) -> None:
    ctx = running.lab.ctx
    prm = f"{running.gateway}/.well-known/oauth-protected-resource/mcp"
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    async with httpx.AsyncClient(verify=running.ssl) as http:
        anonymous = await http.post(f"{running.gateway}/mcp", json=body)
        assert anonymous.status_code == 401
        assert (
            anonymous.headers["www-authenticate"]
            == f'Bearer resource_metadata="{prm}", scope="{CLIENT_ID}/user_impersonate"'
        )
        cases = {
            "garbage": "not-a-jwt",
            "wrong audience": token(ctx, aud="someone-else"),
            "expired": token(ctx, exp=1_000_000, nbf=None, iat=None),
            "foreign issuer": token(ctx, iss="https://evil.example/v2.0"),
        }
        for what, bad in cases.items():
            resp = await http.post(
                f"{running.gateway}/mcp", json=body, headers={"Authorization": f"Bearer {bad}"}
            )
            assert resp.status_code == 401, what
            assert resp.headers["www-authenticate"].startswith(
                'Bearer error="invalid_token", resource_metadata='
            ), what
        no_scope = await http.post(
            f"{running.gateway}/mcp",
            json=body,
            headers={"Authorization": f"Bearer {token(ctx, scp='other')}"},
        )
        assert no_scope.status_code == 403
        assert 'error="insufficient_scope"' in no_scope.headers["www-authenticate"]


async def test_mcp_client_streams_through_the_gateway(running: Running) -> None:
    ctx = running.lab.ctx
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)
        running.release.set()  # the tool finishes only after the client saw its first event

    http = httpx2.AsyncClient(
        verify=running.ssl, headers={"Authorization": f"Bearer {token(ctx)}"}, timeout=30.0
    )
    async with http, Client(streamable_http_client(f"{running.gateway}/mcp", http_client=http)) as client:
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} >= {"echo", "staged"}
        echoed = await client.call_tool("echo", {"text": "héllo"})
        assert json.dumps(echoed.model_dump(mode="json")).find("echo: h\\u00e9llo") >= 0
        with anyio.fail_after(15):
            result = await client.call_tool("staged", {}, progress_callback=on_progress)
    assert seen == ["half way"]
    assert "finished" in json.dumps(result.model_dump(mode="json"))


async def test_policy_changes_apply_without_restart(running: Running) -> None:
    lab = running.lab
    xml = '<policies><inbound><return-response><set-status code="418" reason="Teapot" /></return-response></inbound><backend /><outbound /><on-error /></policies>'
    lab.policy(xml, api="mcp-prm", operation="prm")
    await lab.ctx.publish(
        Event(
            "put",
            "microsoft.apimanagement/service/apis/operations/policies",
            lab.service_key + "/apis/mcp-prm/operations/prm/policies/policy",
        )
    )
    async with httpx.AsyncClient(verify=running.ssl) as http:
        resp = await http.get(f"{running.gateway}/.well-known/oauth-protected-resource/mcp")
    assert resp.status_code == 418


async def test_service_delete_closes_the_port(running: Running) -> None:
    lab = running.lab
    lab.store.delete(KIND_SERVICE, lab.service_key)
    await lab.ctx.publish(Event("delete", KIND_SERVICE, lab.service_key))
    async with httpx.AsyncClient(verify=running.ssl) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{running.gateway}/.well-known/oauth-protected-resource/mcp")
