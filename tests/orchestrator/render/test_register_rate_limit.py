"""The registration budget of ``gateway-oauth`` through the local gateway, over real HTTPS: the
rendered policy stored through ARM as a lab stores it (API policy of an ``oauth`` API), then
anonymous ``POST /register`` calls from one address until the budget is spent. The client store
is unreachable here (registrations answer 503), which is enough: the limit is checked before any
registration work. The same calls are not limited once ``<rate-limit-by-key>`` is removed."""

from __future__ import annotations

import ssl

import httpx
import pytest
from lxml import etree

from orchestrator.render import NamedValueRef, render_policy
from tests.support.azure import make_group, make_service, put_named_values
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

BUDGET = 3
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
REGISTRATION = {"redirect_uris": ["http://127.0.0.1:33418/callback"], "client_name": "rate test"}


def _without_rate_limit(xml: str) -> str:
    root = etree.fromstring(xml.encode())
    for el in root.iter("rate-limit-by-key"):
        el.getparent().remove(el)  # type: ignore[union-attr]
    return etree.tostring(root, encoding="unicode")


async def _oauth_api(emu: RunningEmulator, strip: bool) -> str:
    """A service whose ``oauth`` API runs the rendered template; returns the issuer URL."""
    async with emu.apim_client() as c:
        group = await make_group(emu)
        svc = await make_service(c, group, identity="SystemAssigned")  # the store's caller
        gateway = str(svc.gateway_url)
        await put_named_values(c, group, svc.name, {"McpTenantId": emu.tenant_id, "McpClientId": CLIENT_ID})
        issuer = f"{gateway}/oauth"
        xml = render_policy(
            "gateway-oauth",
            {
                "issuer": issuer,
                "resource": f"{gateway}/mcp",
                "scope": f"{gateway}/mcp/user_impersonate",
                "authority": "https://login.microsoftonline.com",
                "tenant_id": NamedValueRef("McpTenantId"),
                "client_id": NamedValueRef("McpClientId"),
                "client_store": "https://127.0.0.1:9/store/mcpclients",  # nothing listens there
                "registrations_per_minute": BUDGET,
            },
        )
        body = {
            "display_name": "oauth",
            "path": "oauth",
            "protocols": ["https"],
            "service_url": "https://127.0.0.1:9/unused",
            "subscription_required": False,
        }
        await (await c.api.begin_create_or_update(group, svc.name, "oauth", body)).result()
        for op, method in (("register", "POST"), ("authorize", "GET")):
            await c.api_operation.create_or_update(
                group, svc.name, "oauth", op, {"display_name": op, "method": method, "url_template": f"/{op}"}
            )
        await c.api_policy.create_or_update(
            group,
            svc.name,
            "oauth",
            "policy",
            {"value": _without_rate_limit(xml) if strip else xml, "format": "rawxml"},
        )
    return issuer


def _client(emu: RunningEmulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(emu.ca_file)), timeout=30)


async def test_registrations_beyond_the_budget_get_429(emulator: RunningEmulator) -> None:
    issuer = await _oauth_api(emulator, strip=False)
    async with _client(emulator) as http:
        # Other operations do not spend the budget.
        for _ in range(BUDGET + 2):
            other = await http.get(f"{issuer}/authorize", params={"client_id": "x"})
            assert other.status_code == 400
        within = [
            (await http.post(f"{issuer}/register", json=REGISTRATION)).status_code for _ in range(BUDGET)
        ]
        assert within == [503] * BUDGET  # tried (the store is unreachable), not limited
        over = await http.post(f"{issuer}/register", json=REGISTRATION)
        assert over.status_code == 429
        assert 0 < int(over.headers["retry-after"]) <= 60
        assert "client_id" not in over.text
        # ... and a spent budget does not limit the other operations.
        assert (await http.get(f"{issuer}/authorize", params={"client_id": "x"})).status_code == 400


async def test_without_the_limit_registrations_are_not_limited(emulator: RunningEmulator) -> None:
    """The check is able to fail: the same policy with ``<rate-limit-by-key>`` removed."""
    issuer = await _oauth_api(emulator, strip=True)
    async with _client(emulator) as http:
        codes = [
            (await http.post(f"{issuer}/register", json=REGISTRATION)).status_code for _ in range(BUDGET + 2)
        ]
    assert 429 not in codes


async def test_forwarding_headers_do_not_change_the_callers_address(emulator: RunningEmulator) -> None:
    """Issue 17 item 15: ``X-Forwarded-For`` set ``context.Request.IpAddress`` (uvicorn's proxy
    headers trusted 127.0.0.1), so a new forged address per call bypassed the budget. APIM keys
    the limit on the caller's address ("keyed by caller IP address", rate-limit-by-key policy
    reference); forwarding headers are the client's to write."""
    issuer = await _oauth_api(emulator, strip=False)
    async with _client(emulator) as http:
        codes = [
            (
                await http.post(
                    f"{issuer}/register",
                    json=REGISTRATION,
                    headers={
                        "X-Forwarded-For": f"203.0.113.{i}",
                        "X-Real-IP": f"198.51.100.{i}",
                        "Forwarded": f"for=192.0.2.{i}",
                    },
                )
            ).status_code
            for i in range(BUDGET + 1)
        ]
    assert codes == [503] * BUDGET + [429]
