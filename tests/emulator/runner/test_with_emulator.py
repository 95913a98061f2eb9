"""End to end on the real emulator process: the runner starts the MCP server for a stored
container app, and the server's tool does the real OBO flow (managed-identity client assertion
through a federated credential, via azure-identity) against the identity service and reads
Graph ``/me`` from the emulator — called through the ``mcp`` SDK's streamable-HTTP client.

The directory comes from the identity tests' seed (``tests/emulator/identity/seed.py``), written
while the emulator is stopped; starting it again is also the restart-survival case: the runner
starts stored apps at start-up. Stopping the emulator must stop the app's process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from emulator.ports import allocate_port
from emulator.runner.spec import KIND
from emulator.server import DB_FILE
from emulator.store import Store
from tests.emulator.identity import seed as data
from tests.support.emulator import RunningEmulator, start_emulator
from tests.support.modes import loose_modes

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@dataclass
class Lab:
    emu: RunningEmulator
    app_port: int

    @property
    def mcp_url(self) -> str:
        return f"https://127.0.0.1:{self.app_port}/mcp"

    def app_props(self) -> dict[str, Any]:
        store = Store(self.emu.state_dir / DB_FILE)
        try:
            doc = store.get(KIND, data.CONTAINER_APP)
        finally:
            store.close()
        assert doc is not None
        props: dict[str, Any] = doc.body.get("properties") or {}
        return props


def _container_app(tenant: str, port: int) -> dict[str, Any]:
    return {
        "id": data.CONTAINER_APP,
        "name": "mcp-server",
        "type": "Microsoft.App/containerApps",
        "identity": {
            "type": "UserAssigned",
            "userAssignedIdentities": {
                data.MI_ID: {"principalId": data.MI_PRINCIPAL, "clientId": data.MI_CLIENT}
            },
        },
        "properties": {
            "provisioningState": "Succeeded",
            "configuration": {"ingress": {"external": True, "targetPort": 8000, "fqdn": f"127.0.0.1:{port}"}},
            "template": {
                "containers": [
                    {
                        "name": "mcp",
                        "image": "labacr.azurecr.io/mcp-server:e2e",
                        "env": [
                            {"name": "AZURE_TENANT_ID", "value": tenant},
                            {"name": "REQUIRED_SCOPE", "value": "user_impersonate"},
                            {"name": "AZURE_CLIENT_ID", "value": data.API_ID},
                            {"name": "AZURE_MANAGED_IDENTITY_CLIENT_ID", "value": data.MI_CLIENT},
                        ],
                    }
                ]
            },
        },
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    state = tmp_path_factory.mktemp("runner-e2e")
    # The emulator binds its own port (a port picked here and bound later could be taken in
    # between); the second start takes it again, as a restart keeps it.
    first = start_emulator(state)
    port = first.port
    first.stop()
    app_port = allocate_port({port})
    store = Store(state / DB_FILE)
    try:
        data.seed(
            store, f"{first.base_url}/login/{first.tenant_id}/v2.0", resource="https://gw.example.test/mcp"
        )
        store.put(KIND, data.CONTAINER_APP, _container_app(first.tenant_id, app_port))
        # On-behalf-of Graph needs consent on record (AADSTS65001 otherwise): Alice consented for
        # herself; Bob did not, so he meets the consent link (test_missing_graph_consent_...).
        data.grant_graph_consent(store, principal=data.ALICE)
    finally:
        store.close()
    emu = start_emulator(state, "--port", str(port))
    try:
        yield Lab(emu, app_port)
    finally:
        emu.stop()


async def _running(lab: Lab) -> int:
    """Wait (bounded) until the runner, in the emulator process, reports the app Running."""
    with anyio.fail_after(30):
        while True:  # another process's state: polled
            props = lab.app_props()
            if props.get("runningStatus") == "Running":
                return int(props["localRunner"]["pid"])
            assert props.get("provisioningState") != "Failed", props
            await anyio.sleep(0.05)


def _user_token(emu: RunningEmulator, hint: str = "alice@lab.example") -> str:
    """Authorization code + PKCE as the pre-authorised public client, signed in headlessly."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    base = f"{emu.base_url}/login/{emu.tenant_id}/oauth2/v2.0"
    scope = f"{data.API_ID}/user_impersonate"
    with httpx.Client(verify=emu.ssl_context(), timeout=10) as http:
        query = {
            "client_id": data.PREAUTH_ID,
            "response_type": "code",
            "redirect_uri": data.LOOPBACK_REDIRECT,
            "scope": scope,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "s",
            "login_hint": hint,
        }
        answer = http.get(f"{base}/authorize?{urlencode(query)}")
        assert answer.status_code == 302, answer.text
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        token = http.post(
            f"{base}/token",
            data={
                "client_id": data.PREAUTH_ID,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": data.LOOPBACK_REDIRECT,
                "code_verifier": verifier,
                "scope": scope,
            },
        )
        assert token.status_code == 200, token.text
        value: str = token.json()["access_token"]
        return value


async def _call_tool(lab: Lab, token: str) -> Any:
    verify = ssl.create_default_context(cafile=str(lab.emu.ca_file))
    http = httpx2.AsyncClient(verify=verify, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(lab.mcp_url, http_client=http)) as client:
        tools = await client.list_tools()
        assert [t.name for t in tools.tools] == ["show_user_profile"]
        return await client.call_tool("show_user_profile", {})


def _payload(result: Any) -> dict[str, Any]:
    structured = result.structured_content
    assert isinstance(structured, dict), result
    inner = structured.get("result", structured)
    assert isinstance(inner, dict)
    return inner


async def test_runner_serves_the_lab_server_and_the_tool_does_real_obo(lab: Lab) -> None:
    pid = await _running(lab)
    token = await anyio.to_thread.run_sync(_user_token, lab.emu)
    result = await _call_tool(lab, token)
    assert not result.is_error, result
    assert _payload(result) == {
        "displayName": "Alice Example",
        "mail": "alice@lab.example",
        "userPrincipalName": "alice@lab.example",
        "id": data.ALICE,
        "jobTitle": "Engineer",
        "department": None,
        "officeLocation": None,
    }
    assert await _running(lab) == pid  # a tool call does not restart anything


async def test_server_refuses_direct_calls_without_a_valid_token(lab: Lab) -> None:
    await _running(lab)
    async with lab.emu.http() as http:
        missing = await http.post(lab.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        forged = await http.post(
            lab.mcp_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."},
        )
    for answer in (missing, forged):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"].startswith("Bearer ")


async def test_missing_graph_consent_returns_a_consent_url(lab: Lab) -> None:
    await _running(lab)
    token = await anyio.to_thread.run_sync(_user_token, lab.emu, "bob@lab.example")  # no grant for Bob
    result = await _call_tool(lab, token)
    assert not result.is_error, result
    payload = _payload(result)
    assert payload["consent_required"] is True
    url = urlsplit(payload["consent_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == (
        f"{lab.emu.base_url}/login/{lab.emu.tenant_id}/oauth2/v2.0/authorize"
    )
    assert parse_qs(url.query)["redirect_uri"] == [f"https://127.0.0.1:{lab.app_port}/auth/callback"]


async def test_credentials_in_request_urls_never_reach_the_app_log(lab: Lab) -> None:
    """The server's access log (uvicorn, into ``apps/<name>.log`` through the runner) wrote
    ``/auth/callback?code=...`` and ``?access_token=...`` in clear (issue 17 item 8)."""
    await _running(lab)
    token = await anyio.to_thread.run_sync(_user_token, lab.emu)
    code, state = f"c0de-{secrets.token_hex(8)}", f"st4te-{secrets.token_hex(8)}"
    base = f"https://127.0.0.1:{lab.app_port}"
    async with lab.emu.http() as http:
        landing = await http.get(f"{base}/auth/callback?code={code}&state={state}&session_state=s")
        call = await http.post(
            f"{base}/mcp?access_token={token}",
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert landing.status_code == 200
    assert call.status_code in (200, 400, 406)  # answered by the server: it was logged
    log = lab.emu.state_dir / "apps" / "mcp-server.log"
    with anyio.fail_after(30):
        while True:  # another process's file: polled
            text = log.read_text()
            if "/mcp?access_token=" in text:
                break
            await anyio.sleep(0.05)
    assert "/auth/callback?code=[REDACTED]&state=[REDACTED]&session_state=s" in text
    assert "/mcp?access_token=[REDACTED]" in text
    for secret in (code, state, token, token.split(".")[1]):
        assert secret not in text


def test_stopping_the_emulator_stops_the_app(lab: Lab) -> None:
    pid = anyio.run(_running, lab)
    lab.emu.stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert lab.app_props()["runningStatus"] == "Stopped"
    log_text = (lab.emu.state_dir / "apps" / "mcp-server.log").read_text()
    assert "Uvicorn running on https://127.0.0.1:" in log_text
    assert "eyJ" not in log_text  # no token (JWT) ever reaches the app's log
    assert loose_modes(lab.emu.state_dir) == []  # apps/ logs, CA bundle, store: private (17.9)
