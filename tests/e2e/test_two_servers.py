"""labs/two-servers.yaml end to end (issue 18 item 1): two MCP servers behind two MCP APIs, one
app registration each, the APIs written as type, path, backend and app only. One reconcile from
nothing verifies both APIs (the whole suite each, grouped per API: discovery at both RFC 9728 URLs,
the client signing in for each app, forged tokens at each API and at each server directly); the
next plan is empty; each server accepts only its own app's tokens (the gateway forwards them, so
the bypass battery of the other API would not notice a server that took both)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from orchestrator.verify.http import ssl_context
from tests.e2e.test_default_lab import ROOT, prmlab
from tests.e2e.test_edits import _clients, _verified_apis
from tests.support.credentials import operator_token

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("two-servers")
    (folder / "labs").mkdir()
    shutil.copy(ROOT / "labs" / "two-servers.yaml", folder / "labs" / "two-servers.yaml")
    shutil.copy(ROOT / "lab.schema.json", folder / "lab.schema.json")
    os.symlink(ROOT / "mcp_server", folder / "mcp_server")
    try:
        first = prmlab(folder, "reconcile", "-f", "labs/two-servers.yaml", "--yes")
        yield {"folder": folder, "out": first.stdout, "err": first.stderr, "rc": first.returncode}
    finally:
        prmlab(folder, "reconcile", "-f", "labs/two-servers.yaml", "--destroy", "--yes", "--no-verify")
        prmlab(folder, "local", "stop", "-f", "labs/two-servers.yaml")


def test_two_servers_verify_end_to_end_and_converge(two_servers: dict[str, Any]) -> None:
    out = two_servers["out"]
    assert two_servers["rc"] == 0, out[-4000:] + two_servers["err"][-3000:]
    assert re.search(r"^Apply complete in .*, 0 failed, 0 skipped\.$", out, re.M), out[-3000:]
    assert re.search(r"^verified: \d+ passed, 0 failed, 0 skipped$", out, re.M), out[-3000:]
    counts = _verified_apis(out)
    assert list(counts) == ["mcp", "mcp2"], counts
    assert counts["mcp"] == counts["mcp2"] > 0
    for address in ("container_app.server", "container_app.second", "entra_app.mcp2", "operation.mcp2.prm"):
        assert re.search(rf"^  \+ {re.escape(address)} ", out, re.M), address
    assert re.search(r"^  \+ operation\.mcp-prm-dynamic-discovery\.mcp2 ", out, re.M)
    again = prmlab(
        two_servers["folder"], "reconcile", "-f", "labs/two-servers.yaml", "--dry-run", "--detailed-exitcode"
    )
    assert again.returncode == 0, again.stdout[-3000:]  # the next plan is empty


async def _fqdns(folder: Path, ids: dict[str, str]) -> dict[str, str]:
    """Container app address -> its ingress fqdn (127.0.0.1:<port> locally), read from ARM."""
    from azure.mgmt.resource.resources.aio import ResourceManagementClient

    info, credential = _clients(folder / "labs")
    async with ResourceManagementClient(
        credential, info["subscription_id"], base_url=info["base_url"], connection_verify=info["ca_file"]
    ) as arm:
        found = {}
        for address, rid in ids.items():
            app = await arm.resources.get_by_id(rid, api_version="2024-03-01")
            found[address] = str(app.properties["configuration"]["ingress"]["fqdn"])
        return found


def _outputs(folder: Path) -> dict[str, Any]:
    shown = prmlab(folder, "output", "-f", "labs/two-servers.yaml", "--json")
    assert shown.returncode == 0, shown.stderr
    outputs: dict[str, Any] = json.loads(shown.stdout)["outputs"]
    return outputs


def _mint(folder: Path, app: str) -> str:
    """A valid access token for app registration ``app`` (its client id as audience, its scope),
    signed with the identity service's real key, as the forged battery's are; only the local
    operator may mint (issue 17 item 10): its ARM token as bearer."""
    info = json.loads((folder / "labs" / ".prmlab" / "emulator.json").read_text())
    outputs = _outputs(folder)
    now = int(time.time())
    claims = {
        "aud": outputs["client_ids"][app],
        "iss": outputs["authorization_server"],
        "tid": outputs["tenant_id"],
        "scp": "user_impersonate",
        "oid": "00000000-0000-0000-0000-0000000000aa",
        "sub": "prmlab-test",
        "azp": "aebc6443-996d-45c2-90f0-388ff96faa56",
        "ver": "2.0",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
    }
    operator = operator_token(info["base_url"], info["tenant_id"], Path(info["ca_file"]))
    with httpx.Client(verify=ssl_context(Path(info["ca_file"])), timeout=30) as http:
        minted = http.post(
            f"{info['base_url']}/_emulator/identity/mint",
            json={"claims": claims},
            headers={"Authorization": f"Bearer {operator}"},
        )
        minted.raise_for_status()
        return str(minted.json()["token"])


def test_each_server_accepts_only_its_own_apps_tokens(two_servers: dict[str, Any]) -> None:
    """A valid token for app mcp is taken by server one and refused by server two: not its
    audience."""
    folder: Path = two_servers["folder"]
    info = json.loads((folder / "labs" / ".prmlab" / "emulator.json").read_text())
    state = prmlab(folder, "state", "-f", "labs/two-servers.yaml", "--json")
    assert state.returncode == 0, state.stderr
    ids = {
        r["address"]: r["id"]
        for r in json.loads(state.stdout)["resources"]
        if r["address"] in ("container_app.server", "container_app.second")
    }
    fqdns = anyio.run(_fqdns, folder, ids)
    assert set(fqdns) == {"container_app.server", "container_app.second"}, fqdns
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    answers = {}
    headers = {
        "Authorization": f"Bearer {_mint(folder, 'mcp')}",
        "Accept": "application/json, text/event-stream",
    }
    with httpx.Client(verify=ssl_context(Path(info["ca_file"])), timeout=30) as http:
        for address, fqdn in fqdns.items():
            resp = http.post(f"https://{fqdn}/mcp", json=body, headers=headers)
            answers[address] = (resp.status_code, resp.headers.get("www-authenticate", ""))
    assert answers["container_app.second"][0] == 401, answers
    assert "invalid_token" in answers["container_app.second"][1], answers
    assert answers["container_app.server"][0] != 401, answers  # the same token is good at server one


def test_the_connection_help_and_vscode_json_name_every_mcp_api(two_servers: dict[str, Any]) -> None:
    out = two_servers["out"]
    assert two_servers["rc"] == 0, out[-3000:]
    urls = _outputs(two_servers["folder"])["mcp_urls"]
    assert list(urls) == ["mcp", "mcp2"]
    assert f"MCP endpoints:\n  mcp: {urls['mcp']}\n  mcp2: {urls['mcp2']}\n" in out, out[-2000:]
    servers = {
        "mcp-two-servers-mcp": {"type": "http", "url": urls["mcp"]},
        "mcp-two-servers-mcp2": {"type": "http", "url": urls["mcp2"]},
    }
    shown = prmlab(two_servers["folder"], "output", "-f", "labs/two-servers.yaml", "vscode_mcp_json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"servers": servers}
    pasted = out[out.index("VS Code (.vscode/mcp.json):\n") :].split("\n", 1)[1]
    block = pasted[: pasted.index("\n  }\n") + 4]
    assert json.loads(block) == {"servers": servers}, block
    assert re.search(r"^  mcp: [0-9a-f-]{36}$", out, re.M), out[-2000:]  # a client id per API
    assert re.search(r"^  mcp2: [0-9a-f-]{36}$", out, re.M), out[-2000:]


def _verify(folder: Path, *tokens: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """``prmlab verify --token ...`` of the client checks that a token decides; (the process,
    "<api> <check>" -> outcome)."""
    args = [a for t in tokens for a in ("--token", t)]
    checks = ("--check", "client.initialize", "--check", "client.tools_list", "--output", "json")
    proc = prmlab(folder, "verify", "-f", "labs/two-servers.yaml", *args, *checks)
    if proc.returncode == 2:
        return proc, {}
    doc = json.loads(proc.stdout)
    return proc, {f"{c['api']} {c['name']}": c["outcome"] for c in doc["checks"]}


def test_verify_takes_one_token_per_mcp_api(two_servers: dict[str, Any]) -> None:
    """Each MCP API accepts its own app's tokens, so ``--token`` names the API (``API=TOKEN``); a
    bare token for both is refused before anything runs (it used to be sent to both)."""
    folder: Path = two_servers["folder"]
    one, two = _mint(folder, "mcp"), _mint(folder, "mcp2")

    bare, _ = _verify(folder, one)
    said = bare.stdout + bare.stderr  # --output json: the refusal is a diagnostics document
    assert bare.returncode == 2, said[-3000:]
    assert (
        "one token cannot serve every MCP API of lab 'mcp-two-servers': they accept tokens of "
        "different app registrations (mcp: app 'mcp', mcp2: app 'mcp2')" in said
    ), said
    assert "give one per API: --token mcp=<token> --token mcp2=<token>" in said
    assert one not in said  # never printed
    typo, _ = _verify(folder, f"mpc={one}")
    assert typo.returncode == 2
    assert (
        "'mpc' is not an MCP API of lab 'mcp-two-servers' (its MCP APIs: mcp, mcp2)"
        in typo.stdout + typo.stderr
    )

    proc, outcomes = _verify(folder, f"mcp={one}", f"mcp2={two}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert outcomes == {
        "mcp client.initialize": "pass",
        "mcp client.tools_list": "pass",
        "mcp2 client.initialize": "pass",
        "mcp2 client.tools_list": "pass",
    }, outcomes
    # each API really gets its own: app mcp's token at mcp2 is refused there
    crossed, outcomes = _verify(folder, f"mcp={one}", f"mcp2={one}")
    assert crossed.returncode == 1
    assert outcomes["mcp client.initialize"] == "pass"
    assert outcomes["mcp2 client.initialize"] == "fail", outcomes
