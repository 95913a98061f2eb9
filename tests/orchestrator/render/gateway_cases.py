"""Fixed variables for the golden renders of the gateway-mode templates (merged into ``GOLDEN``)."""

from __future__ import annotations

from orchestrator.render import NamedValueRef
from orchestrator.resource import UNKNOWN

GATEWAY = "https://apim-prmlab-3f9a.azure-api.net"
MCP_URL = f"{GATEWAY}/mcp"
ISSUER = f"{GATEWAY}/oauth"
SCOPE = f"{MCP_URL}/user_impersonate"

GATEWAY_OAUTH: dict[str, object] = {
    "issuer": ISSUER,
    "resource": MCP_URL,
    "scope": SCOPE,
    "authority": "https://login.microsoftonline.com",
    "tenant_id": NamedValueRef("McpTenantId"),
    "client_id": NamedValueRef("McpClientId"),
    "client_store": "https://stprmlab3f9a.table.core.windows.net/mcpclients",
}

GATEWAY_MCP_API: dict[str, object] = {
    "tenant_id": NamedValueRef("McpTenantId"),
    "audience": NamedValueRef("McpClientId"),
    "identifier_uri": MCP_URL,
    "scope": SCOPE,
    "resource": MCP_URL,
    "resource_metadata_url": f"{GATEWAY}/.well-known/oauth-protected-resource/mcp",
    "backend_id": "mcp-backend",
}

GATEWAY_GOLDEN: dict[str, tuple[str, dict[str, object]]] = {
    "gateway-oauth.xml": ("gateway-oauth", GATEWAY_OAUTH),
    "gateway-oauth.options.xml": (
        "gateway-oauth",
        {
            **GATEWAY_OAUTH,
            "managed_identity_client_id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "cimd_allow_loopback": True,
            "access_token_lifetime": 600,
            "refresh_token_lifetime": 3600,
        },
    ),
    "gateway-mcp-api.xml": ("gateway-mcp-api", GATEWAY_MCP_API),
    "gateway-metadata.xml": ("gateway-metadata", {"issuer": ISSUER, "scopes_supported": [SCOPE]}),
    "gateway-metadata.dry-run.xml": ("gateway-metadata", {"issuer": UNKNOWN, "scopes_supported": [UNKNOWN]}),
}
