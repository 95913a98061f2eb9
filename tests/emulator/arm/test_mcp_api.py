"""APIM's MCP API as Azure serves it: ``type: mcp`` only at the api-versions that have it.

The body is the original lab's (``apis@2024-06-01-preview``); at 2024-05-01 (the SDK's only
version) ``type: mcp`` / ``mcpProperties`` are refused with APIM's ValidationError naming the
property, and an MCP API does not exist for that version (GET 404, left out of lists, DELETE
finds nothing) — see ``emulator.arm.apim.serves_mcp`` for the evidence.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from emulator.arm.apim import serves_mcp
from tests.support.azure import group_and_service_name
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

PREVIEW = "2024-06-01-preview"
STABLE = "2024-05-01"


def lab_body(backend: str) -> dict[str, Any]:
    """The MCP API of the original lab (src/bicep/apim-mcp/mcp-api.bicep)."""
    return {
        "properties": {
            "displayName": "MCP tools",
            "type": "mcp",
            "subscriptionRequired": False,
            "backendId": backend,
            "path": "mcp",
            "protocols": ["https"],
            "mcpProperties": {"transportType": "streamable"},
            "authenticationSettings": {
                "oAuth2AuthenticationSettings": [],
                "openidAuthenticationSettings": [],
            },
            "isCurrent": True,
        }
    }


def test_which_api_versions_have_the_mcp_api() -> None:
    assert [
        v for v in ("2024-06-01-preview", "2024-10-01-preview", "2025-03-01-preview") if serves_mcp(v)
    ] == [
        "2024-06-01-preview",
        "2024-10-01-preview",
        "2025-03-01-preview",
    ]
    assert not any(serves_mcp(v) for v in ("2024-05-01", "2023-09-01-preview", "2022-08-01", "2025-09-01"))


async def test_mcp_api_at_the_preview_and_invisible_at_stable(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        base = f"/subscriptions/{emulator.subscription_id}/resourceGroups/{group}/providers/Microsoft.ApiManagement/service/{svc}"
        await c.backend.create_or_update(
            group, svc, "mcp-backend", {"url": "https://app.example/mcp", "protocol": "http"}
        )
        # the SDK speaks 2024-05-01 only: type mcp is refused there, naming the property
        with pytest.raises(HttpResponseError) as refused:
            await (
                await c.api.begin_create_or_update(
                    group, svc, "mcp", {"display_name": "MCP", "path": "mcp", "api_type": "mcp"}
                )
            ).result()
        assert refused.value.status_code == 400
        assert refused.value.error is not None
        assert refused.value.error.code == "ValidationError"
        assert [d.target for d in refused.value.error.details] == ["type"]
    AUTH = emulator.arm_headers()  # noqa: N806 - ARM validates tokens (issue 17 item 10)
    async with emulator.http() as h:
        url = f"{base}/apis/mcp"
        r = await h.put(url, params={"api-version": STABLE}, headers=AUTH, json=lab_body("mcp-backend"))
        assert r.status_code == 400
        assert r.json()["error"]["details"][0]["target"] == "type"
        only_props = {
            "properties": {"displayName": "x", "path": "x2", "mcpProperties": {"transportType": "streamable"}}
        }
        r = await h.put(f"{base}/apis/x", params={"api-version": STABLE}, headers=AUTH, json=only_props)
        assert r.status_code == 400
        assert r.json()["error"]["details"][0]["target"] == "mcpProperties"
        # at the lab's api-version: stored as sent
        r = await h.put(url, params={"api-version": PREVIEW}, headers=AUTH, json=lab_body("mcp-backend"))
        assert r.status_code == 201, r.text
        got = (await h.get(url, params={"api-version": PREVIEW}, headers=AUTH)).json()["properties"]
        sent = lab_body("mcp-backend")["properties"]
        assert {k: got[k] for k in sent} == sent
        assert "serviceUrl" not in got or got["serviceUrl"] is None
        # ... and absent for an api-version without the MCP API
        r = await h.get(url, params={"api-version": STABLE}, headers=AUTH)
        assert r.status_code == 404
        names = [
            a["name"]
            for a in (await h.get(f"{base}/apis", params={"api-version": STABLE}, headers=AUTH)).json()[
                "value"
            ]
        ]
        assert "mcp" not in names
        names = [
            a["name"]
            for a in (await h.get(f"{base}/apis", params={"api-version": PREVIEW}, headers=AUTH)).json()[
                "value"
            ]
        ]
        assert "mcp" in names
        assert (
            await h.delete(url, params={"api-version": STABLE}, headers={**AUTH, "If-Match": "*"})
        ).status_code == 204
        assert (await h.get(url, params={"api-version": PREVIEW}, headers=AUTH)).status_code == 200
        # its operations and policy at the lab's api-version
        op = {
            "properties": {
                "displayName": "PRM",
                "method": "GET",
                "urlTemplate": "/.well-known/oauth-protected-resource",
            }
        }
        r = await h.put(f"{url}/operations/prm", params={"api-version": PREVIEW}, headers=AUTH, json=op)
        assert r.status_code in (200, 201), r.text
        deleted = await h.delete(url, params={"api-version": PREVIEW}, headers={**AUTH, "If-Match": "*"})
        assert deleted.status_code in (200, 202, 204)
        assert (await h.get(url, params={"api-version": PREVIEW}, headers=AUTH)).status_code == 404
