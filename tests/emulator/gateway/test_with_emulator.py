"""The gateway inside the real emulator process, configured only through the ARM SDK
(azure-mgmt-apimanagement aio): the port opens when the service is created, policies PUT
through ARM run at once (and are checked at PUT time), and the gateway comes back with its
configuration after an emulator restart."""

from __future__ import annotations

import json
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError

from emulator.identity.keys import sign
from orchestrator.render import NamedValueRef
from orchestrator.render.policy import render_policy
from tests.emulator.gateway.support import CLIENT_ID, make_context, serve
from tests.support.azure import group_and_service
from tests.support.emulator import EmulatorFactory, RunningEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def backend(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    auth = dict(scope["headers"]).get(b"authorization", b"")
    body = b"backend saw " + (b"a bearer token" if auth.startswith(b"Bearer ") else b"no token")
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def user_token(emu: RunningEmulator, **overrides: Any) -> str:
    ctx = make_context(emu.state_dir, emu.base_url)
    now = int(time.time())
    claims = {
        "aud": CLIENT_ID,
        "iss": ctx.issuer(emu.tenant_id),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "tid": emu.tenant_id,
        "scp": "user_impersonate",
        "sub": "u",
    }
    claims.update(overrides)
    token = sign(ctx, claims)
    ctx.store.close()
    return token


async def configure(emu: RunningEmulator, backend_url: str) -> str:
    async with emu.apim_client() as c:
        group, svc = await group_and_service(emu, c)
        gateway = str(svc.gateway_url)
        assert gateway.startswith("https://127.0.0.1:")
        for name, value in (("McpTenantId", emu.tenant_id), ("McpClientId", CLIENT_ID)):
            await (
                await c.named_value.begin_create_or_update(
                    group,
                    svc.name,
                    name,
                    {"display_name": name, "value": value, "secret": name == "McpClientId"},
                )
            ).result()
        api = {
            "display_name": "mcp",
            "path": "mcp",
            "protocols": ["https"],
            "service_url": backend_url,
            "subscription_required": False,
        }
        await (await c.api.begin_create_or_update(group, svc.name, "mcp", api)).result()
        for method in ("GET", "POST", "DELETE"):
            await c.api_operation.create_or_update(
                group,
                svc.name,
                "mcp",
                method.lower(),
                {"display_name": method, "method": method, "url_template": "/*"},
            )
        xml = render_policy(
            "mcp-api-entra",
            {
                "tenant_id": NamedValueRef("McpTenantId"),
                "audience": NamedValueRef("McpClientId"),
                "scope": f"{CLIENT_ID}/user_impersonate",
                "resource_metadata_url": f"{gateway}/.well-known/oauth-protected-resource/mcp",
            },
        )
        await c.api_policy.create_or_update(
            group, svc.name, "mcp", "policy", {"value": xml, "format": "rawxml"}
        )
        bad = (
            '<policies><inbound><set-body template="liquid">{{ x | upcase }}</set-body></inbound></policies>'
        )
        with pytest.raises(HttpResponseError) as info:
            await c.api_policy.create_or_update(
                group, svc.name, "mcp", "policy", {"value": bad, "format": "rawxml"}
            )
        assert info.value.status_code == 400
        assert "unknown filter 'upcase'" in str(info.value.message)
    return gateway


async def test_gateway_in_the_emulator_survives_a_restart(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    emu = make_emulator("--apim-create-seconds", "0.3", state_dir=state)
    async with serve(backend) as port:
        gateway = await configure(emu, f"http://127.0.0.1:{port}/")
        trust = ssl.create_default_context(cafile=str(emu.ca_file))
        async with httpx.AsyncClient(verify=trust) as http:
            anonymous = await http.post(f"{gateway}/mcp", content=b"{}")
            assert anonymous.status_code == 401
            assert "resource_metadata=" in anonymous.headers["www-authenticate"]
            ok = await http.post(
                f"{gateway}/mcp", content=b"{}", headers={"Authorization": f"Bearer {user_token(emu)}"}
            )
            assert (ok.status_code, ok.text) == (200, "backend saw a bearer token")
            missing = await http.get(f"{gateway}/nowhere?code=secret-code")
            assert missing.status_code == 404
        # the access log (prmlab logs gateway): one line per request, the route it took, no query
        lines = (state / "gateway.jsonl").read_text(encoding="utf-8")
        assert "secret-code" not in lines
        records = [json.loads(line) for line in lines.splitlines()]
        assert [(r["method"], r["path"], r["status"], r["api"], r["operation"]) for r in records[-3:]] == [
            ("POST", "/mcp", 401, "mcp", "post"),
            ("POST", "/mcp", 200, "mcp", "post"),
            ("GET", "/nowhere", 404, None, None),
        ]
        assert all(r["duration_ms"] >= 0 for r in records[-3:])
        assert len({r["service"] for r in records}) == 1  # the one APIM service's name
        emu.stop()
        emu = make_emulator("--apim-create-seconds", "0.3", state_dir=state)
        async with httpx.AsyncClient(verify=trust) as http:
            again = await http.post(
                f"{gateway}/mcp", content=b"{}", headers={"Authorization": f"Bearer {user_token(emu)}"}
            )
            assert (again.status_code, again.text) == (200, "backend saw a bearer token")
            wrong = await http.post(
                f"{gateway}/mcp",
                content=b"{}",
                headers={"Authorization": f"Bearer {user_token(emu, aud='x')}"},
            )
            assert wrong.status_code == 401


async def test_a_policy_deleted_and_put_again_runs_the_new_one(emulator: RunningEmulator) -> None:
    """Issue 17 item 2, as a user hits it through ARM: PUT an operation policy, DELETE it, PUT
    another - the gateway kept running the first (the re-created document restarted at version
    1 and the compiled-policy cache is keyed by version)."""

    def answer(text: str) -> str:
        return (
            '<policies><inbound><return-response><set-status code="200" reason="OK" />'
            f"<set-body>{text}</set-body></return-response></inbound><backend><base /></backend>"
            "<outbound><base /></outbound><on-error><base /></on-error></policies>"
        )

    async with emulator.apim_client() as c:
        group, svc = await group_and_service(emulator, c)
        api = {"display_name": "a", "path": "a", "protocols": ["https"], "subscription_required": False}
        await (await c.api.begin_create_or_update(group, svc.name, "a", api)).result()
        await c.api_operation.create_or_update(
            group, svc.name, "a", "get", {"display_name": "GET", "method": "GET", "url_template": "/x"}
        )
        trust = ssl.create_default_context(cafile=str(emulator.ca_file))
        async with httpx.AsyncClient(verify=trust) as http:
            for text in ("first", "second", "third"):
                await c.api_operation_policy.create_or_update(
                    group, svc.name, "a", "get", "policy", {"value": answer(text), "format": "rawxml"}
                )
                assert (await http.get(f"{svc.gateway_url}/a/x")).text == text
                await c.api_operation_policy.delete(group, svc.name, "a", "get", "policy", if_match="*")
        await (await c.api_management_service.begin_delete(group, svc.name)).result()
