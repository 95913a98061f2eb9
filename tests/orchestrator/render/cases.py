"""Fixed variables for the golden renders (one place, reused by several tests)."""

from __future__ import annotations

from orchestrator.render import NamedValueRef
from orchestrator.resource import UNKNOWN

GATEWAY = "https://apim-prmlab-3f9a.azure-api.net"
MCP_URL = f"{GATEWAY}/mcp"
PRM_URL = f"{GATEWAY}/.well-known/oauth-protected-resource/mcp"
CLIENT_ID = "6b1c7f0e-2d4a-4c59-9a8e-1f2b3c4d5e6f"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

MCP_API_ENTRA: dict[str, object] = {
    "tenant_id": NamedValueRef("McpTenantId"),
    "audience": NamedValueRef("McpClientId"),
    "identifier_uri": MCP_URL,
    "scope": f"{MCP_URL}/user_impersonate",
    "resource_metadata_url": PRM_URL,
}

PRM: dict[str, object] = {
    "resource": MCP_URL,
    "authorization_servers": [f"{GATEWAY}/entra", f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"],
    "scopes_supported": [f"{MCP_URL}/user_impersonate"],
    "resource_name": "prmlab MCP server",
}

ENTRA_METADATA: dict[str, object] = {
    "issuer": f"{GATEWAY}/entra",
    "authority": "https://login.microsoftonline.com",
    "tenant_id": TENANT_ID,
    "scopes_supported": [f"{MCP_URL}/user_impersonate"],
}

# name of the golden file -> (template, variables)
GOLDEN: dict[str, tuple[str, dict[str, object]]] = {
    "mcp-api-entra.xml": ("mcp-api-entra", MCP_API_ENTRA),
    "mcp-api-entra.client-id-audience.xml": (
        "mcp-api-entra",
        {
            "tenant_id": TENANT_ID,
            "audience": CLIENT_ID,
            "scope": f"{CLIENT_ID}/user_impersonate",
            "resource_metadata_url": PRM_URL,
        },
    ),
    "prm.xml": ("prm", PRM),
    "prm.named-values.xml": (
        "prm",
        {**PRM, "scopes_supported": [NamedValueRef("McpScope")]},
    ),
    "prm.dry-run.xml": (
        "prm",
        {
            "resource": UNKNOWN,
            "authorization_servers": [UNKNOWN],
            "scopes_supported": [UNKNOWN],
            "resource_name": "prmlab MCP server",
        },
    ),
    "entra-metadata.xml": ("entra-metadata", ENTRA_METADATA),
    "entra-metadata.dry-run.xml": (
        "entra-metadata",
        {**ENTRA_METADATA, "issuer": UNKNOWN, "tenant_id": UNKNOWN, "scopes_supported": [UNKNOWN]},
    ),
    "mcp-api-entra.dry-run.xml": (
        "mcp-api-entra",
        {**MCP_API_ENTRA, "identifier_uri": UNKNOWN, "scope": UNKNOWN, "resource_metadata_url": UNKNOWN},
    ),
}

# A product's policy (apim.products.<k>.policy): the quota per subscription, with and without the
# optional rate limit; a value known only after apply stays a placeholder in a dry run.
GOLDEN.update(
    {
        "product-quota.xml": ("product-quota", {"calls": 10000, "renewal_period": 3600}),
        "product-quota.rate.xml": (
            "product-quota",
            {"calls": "10000", "renewal_period": 0, "rate_calls": 20, "rate_period": 90},
        ),
    }
)

# The gateway-mode templates (authorization mode `gateway`) keep their cases in their own module.
from tests.orchestrator.render.gateway_cases import GATEWAY_GOLDEN  # noqa: E402

GOLDEN.update(GATEWAY_GOLDEN)
