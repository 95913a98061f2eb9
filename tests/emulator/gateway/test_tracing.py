"""APIM request tracing in the emulator, through the ARM SDK as a user (or ``prmlab trace``) does
it: ``gateways/managed/listDebugCredentials`` -> ``Apim-Debug-Authorization`` ->
``Apim-Trace-Id`` -> ``gateways/managed/listTrace``; the trace says which element refused and why
(the default lab's ``mcp-api-entra`` policy: no token, wrong audience, missing scope)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulator.gateway.support import serve
from tests.emulator.gateway.test_with_emulator import backend, configure, user_token
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@dataclass
class Traced:
    emu: RunningEmulator
    client: Any
    group: str
    service: str
    gateway: str
    api_id: str
    http: httpx.AsyncClient

    @property
    def service_id(self) -> str:
        return self.api_id.rsplit("/apis/", 1)[0]

    async def credential(self, api_id: str | None = None, expire: str = "PT1H") -> str:
        body = {"credentialsExpireAfter": expire, "apiId": api_id or self.api_id, "purposes": ["tracing"]}
        result = await self.client.gateway.list_debug_credentials(self.group, self.service, "managed", body)
        return str(result.token)

    async def trace(self, trace_id: str) -> dict[str, Any]:
        """listTrace over raw ARM (the JSON as Azure sends it; the SDK models it as an open dict)."""
        url = f"{self.emu.base_url}{self.service_id}/gateways/managed/listTrace?api-version=2024-05-01"
        async with self.emu.http() as arm:
            resp = await arm.post(url, headers=self.emu.arm_headers(), json={"traceId": trace_id})
        assert resp.status_code == 200, resp.text
        found: dict[str, Any] = resp.json()
        return found

    async def call(self, token: str | None, debug: str) -> tuple[httpx.Response, dict[str, Any]]:
        headers = {"Apim-Debug-Authorization": debug}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        resp = await self.http.post(f"{self.gateway}/mcp", content=b"{}", headers=headers)
        return resp, await self.trace(resp.headers["apim-trace-id"])


def refusals(doc: dict[str, Any]) -> list[str]:
    return [
        f"{e['scope']}/{e['section']} {e['source']}: {e['decision']}"
        for e in doc["traceEntries"]
        if e["decision"] != "ok"
    ]


@pytest.fixture
async def traced(emulator: RunningEmulator) -> AsyncIterator[Traced]:
    async with serve(backend) as port:
        gateway = await configure(emulator, f"http://127.0.0.1:{port}/")
        async with emulator.apim_client() as c:
            services = [s async for s in c.api_management_service.list()]
            svc = next(s for s in services if str(s.gateway_url) == gateway)
            group = str(svc.id).split("/")[4]
            trust = ssl.create_default_context(cafile=str(emulator.ca_file))
            async with httpx.AsyncClient(verify=trust) as http:
                yield Traced(emulator, c, group, str(svc.name), gateway, f"{svc.id}/apis/mcp", http)


async def test_the_trace_says_why_each_request_was_refused(traced: Traced) -> None:
    """The default lab's MCP API policy (``mcp-api-entra``): no token, wrong audience, missing
    scope — each refusal named in the trace, with its scope, section and line; a good token's
    request runs through to the backend (the default global policy's forward-request)."""
    debug = await traced.credential()
    resp, doc = await traced.call(None, debug)
    assert resp.status_code == 401
    assert refusals(doc) == ["api/inbound choose: returned 401", "api/inbound return-response: returned 401"]
    assert (
        doc["traceEntries"][0]["note"]
        == 'when #1 is true: (!context.Request.Headers.ContainsKey("Authorization"))'
    )

    resp, doc = await traced.call(user_token(traced.emu, aud="api://someone-else"), debug)
    assert resp.status_code == 401
    assert refusals(doc)[0] == (
        "api/inbound validate-azure-ad-token: refused — audience mismatch (TokenAudienceNotAllowed): "
        "Unauthorized. Access token is missing or invalid."
    )
    assert [e["section"] for e in doc["traceEntries"]][-2:] == ["on-error", "on-error"]

    resp, doc = await traced.call(user_token(traced.emu, scp="Mail.Read"), debug)
    assert resp.status_code == 403
    assert refusals(doc)[0].startswith(
        "api/inbound validate-azure-ad-token: refused — a required claim value is missing (scope or role) "
        "(TokenClaimValueNotAllowed)"
    )

    resp, doc = await traced.call(user_token(traced.emu), debug)
    assert (resp.status_code, resp.text) == (200, "backend saw a bearer token")
    assert refusals(doc) == []
    assert ("api", "backend", "forward-request") in {  # the policy forwards itself (no <base/>)
        (e["scope"], e["section"], e["source"]) for e in doc["traceEntries"]
    }
    assert all(e["duration"] >= 0 and e["elapsed"] >= 0 for e in doc["traceEntries"])
    assert doc["request"]["headers"]["authorization"] == "***"  # never the bearer token
    assert doc["request"]["headers"]["apim-debug-authorization"] == "***"
    assert user_token(traced.emu).split(".")[0] not in str(doc)


async def test_debug_credentials_are_scoped_checked_and_never_logged(traced: Traced) -> None:
    c, group, name = traced.client, traced.group, traced.service
    other = {"display_name": "other", "path": "other", "protocols": ["https"], "subscription_required": False}
    await (await c.api.begin_create_or_update(group, name, "other", other)).result()
    await c.api_operation.create_or_update(
        group, name, "other", "get", {"display_name": "GET", "method": "GET", "url_template": "/*"}
    )
    for_other = await traced.credential(api_id=traced.api_id.replace("/apis/mcp", "/apis/other"))
    resp = await traced.http.post(f"{traced.gateway}/mcp", headers={"Apim-Debug-Authorization": for_other})
    assert resp.status_code == 401  # served as usual, untraced
    assert "apim-trace-id" not in resp.headers
    assert "another API" in resp.headers["apim-debug-authorization-wrongapi"]

    good = await traced.credential()
    forged = good.replace("aid=mcp", "aid=other")  # the signature covers the API
    resp = await traced.http.get(f"{traced.gateway}/other/x", headers={"Apim-Debug-Authorization": forged})
    assert "apim-trace-id" not in resp.headers
    assert "apim-debug-authorization-invalid" in resp.headers

    # Refused bodies (Learn: at most one hour; purposes: tracing; an API of this service).
    base = f"{traced.emu.base_url}{traced.service_id}/gateways/managed"
    version = "api-version=2024-05-01"
    for body, status in (
        ({"credentialsExpireAfter": "PT2H", "apiId": traced.api_id, "purposes": ["tracing"]}, 400),
        ({"credentialsExpireAfter": "soon", "apiId": traced.api_id, "purposes": ["tracing"]}, 400),
        ({"apiId": traced.api_id, "purposes": ["debugging"]}, 400),
        ({"apiId": traced.api_id}, 400),
        ({"purposes": ["tracing"]}, 400),
        ({"apiId": traced.api_id.replace(name, "another-service"), "purposes": ["tracing"]}, 400),
        ({"apiId": traced.api_id.replace("/apis/mcp", "/apis/missing"), "purposes": ["tracing"]}, 404),
    ):
        async with traced.emu.http() as arm:
            refused = await arm.post(
                f"{base}/listDebugCredentials?{version}", headers=traced.emu.arm_headers(), json=body
            )
        assert refused.status_code == status, (body, refused.text)
        assert refused.json()["error"]["code"] in ("ValidationError", "ResourceNotFound")
        assert "token" not in refused.json()
    async with traced.emu.http() as arm:
        missing = await arm.post(
            f"{base}/listTrace?{version}", headers=traced.emu.arm_headers(), json={"traceId": "0" * 32}
        )
        assert missing.status_code == 404
        unknown_gateway = await arm.post(
            f"{traced.emu.base_url}{traced.service_id}/gateways/gw1/listTrace?{version}",
            headers=traced.emu.arm_headers(),
            json={"traceId": "0" * 32},
        )
        assert unknown_gateway.status_code == 404  # only the built-in managed gateway exists here

    # Invalidated: every credential issued so far stops working.
    await c.gateway.invalidate_debug_credentials(group, name, "managed")
    resp = await traced.http.post(f"{traced.gateway}/mcp", headers={"Apim-Debug-Authorization": good})
    assert "apim-trace-id" not in resp.headers
    # Never logged: neither the emulator's log nor the gateway's access log holds a credential.
    logs = "".join(p.read_text(errors="replace") for p in traced.emu.state_dir.glob("*.jsonl"))
    logs += "".join(p.read_text(errors="replace") for p in traced.emu.state_dir.glob("*.log"))
    assert good.split("sig=")[1] not in logs
    assert for_other.split("sig=")[1] not in logs


def test_a_credential_expires(tmp_path: Path) -> None:
    """Unit: the expiry is checked with the clock it is given (no waiting)."""
    from emulator.gateway import tracing
    from emulator.store import Store

    store = Store(tmp_path / "store.db")
    token = tracing.issue(store, "svc", "mcp", 60, now=1000.0)
    assert tracing.check(store, "svc", token, "mcp", now=1059.0).trace
    late = tracing.check(store, "svc", token, "mcp", now=1060.0)
    assert not late.trace
    assert late.header is not None
    assert late.header[0] == "Apim-Debug-Authorization-Expired"
    assert tracing.parse_duration("PT1H") == 3600
    assert tracing.parse_duration("P0DT0H5M") == 300
    with pytest.raises(ValueError, match="ISO 8601"):
        tracing.parse_duration("PT")
