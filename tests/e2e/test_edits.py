"""Everyday edits converge in one reconcile (issue 18, Acceptance): each scenario starts from the
verified default lab (the previous scenario's end state), edits lab.yaml as a user would, runs
``prmlab reconcile --yes`` ONCE, and then: verification passed, the next plan is empty, and the
resources the lab does not own are untouched.

Each scenario's plan summary line and wall time go to ``$PRMLAB_SCENARIO_LOG`` when it is set
(the figures quoted in the issue's note); no assertion depends on them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.e2e.test_default_lab import ROOT, prmlab
from tests.support.credentials import operator_credential

# Two reconciles (with verification) and a plan in one scenario: the suite's 180 s hang guard
# fired on test_removing_an_apis_policy_prunes_it_and_only_it at load 10 (it ran 180.3 s and
# passed otherwise), as on the fresh-lab test in test_default_lab. A hang guard, not a limit.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

UNOWNED_GROUP = "rg-not-the-labs"
UNOWNED_IDENTITY = "id-not-the-labs"
IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
IDENTITY_API = "2023-01-31"


def _clients(folder: Path) -> tuple[dict[str, Any], Any]:
    info = json.loads((folder / ".prmlab" / "emulator.json").read_text())
    # ARM validates tokens (issue 17 item 10): the emulator's local operator signs in
    return info, operator_credential(info["base_url"], info["tenant_id"], Path(info["ca_file"]))


async def _unowned(folder: Path, create: bool) -> dict[str, Any]:
    """Create (or read back) a resource group and an identity in it that the lab does not own."""
    from azure.mgmt.resource.resources.aio import ResourceManagementClient

    info, credential = _clients(folder)
    sub = info["subscription_id"]
    rid = f"/subscriptions/{sub}/resourceGroups/{UNOWNED_GROUP}/providers/{IDENTITY_TYPE}/{UNOWNED_IDENTITY}"
    async with ResourceManagementClient(
        credential, sub, base_url=info["base_url"], connection_verify=info["ca_file"]
    ) as arm:
        if create:
            await arm.resource_groups.create_or_update(
                UNOWNED_GROUP, {"location": "ukwest", "tags": {"team": "x"}}
            )
            poller = await arm.resources.begin_create_or_update_by_id(
                rid, {"location": "ukwest", "tags": {"team": "x"}}, api_version=IDENTITY_API
            )
            await poller.result()
        group = await arm.resource_groups.get(UNOWNED_GROUP)
        identity = await arm.resources.get_by_id(rid, api_version=IDENTITY_API)
        return {
            "group": (group.id, group.location, group.tags),
            "identity": (identity.id, identity.tags, json.dumps(identity.properties, sort_keys=True)),
        }


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("edits")
    shutil.copy(ROOT / "lab.yaml", folder / "lab.yaml")
    shutil.copy(ROOT / "lab.schema.json", folder / "lab.schema.json")
    os.symlink(ROOT / "mcp_server", folder / "mcp_server")
    try:
        first = prmlab(folder, "reconcile", "--yes")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "NOT verified" not in first.stdout
        unowned = anyio.run(_unowned, folder, True)
        yield {"folder": folder, "unowned": unowned, "endpoint": _endpoint(first.stdout)}
    finally:
        prmlab(folder, "reconcile", "--destroy", "--yes", "--no-verify")
        prmlab(folder, "local", "stop")


def _endpoint(stdout: str) -> str:
    found = re.search(r"^MCP endpoint: (\S+)$", stdout, re.M)
    assert found, stdout[-2000:]
    return found.group(1)


def _edit(folder: Path, change: Callable[[str], str]) -> None:
    path = folder / "lab.yaml"
    before = path.read_text()
    after = change(before)
    assert after != before, "the edit changed nothing"
    path.write_text(after)


def _record(name: str, plan_line: str, seconds: float) -> None:
    log = os.environ.get("PRMLAB_SCENARIO_LOG")
    if log:
        with open(log, "a") as out:
            out.write(f"{name}\t{plan_line}\t{seconds:.1f}s\n")


def one_reconcile(lab: dict[str, Any], name: str) -> str:
    """The scenario's one reconcile, then the three checks; its output."""
    folder: Path = lab["folder"]
    started = time.monotonic()
    proc = prmlab(folder, "reconcile", "--yes")
    seconds = time.monotonic() - started
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-3000:]
    assert "Traceback" not in out + proc.stderr
    if "No changes for lab" not in out:
        assert re.search(r"^Apply complete in .*, 0 failed, 0 skipped\.$", out, re.M), out[-3000:]
    assert re.search(r"^verified: \d+ passed, 0 failed, 0 skipped$", out, re.M), out[-3000:]
    plan_line = re.search(r"^Plan: .*$", out, re.M)
    assert plan_line, out[:3000]
    _record(name, plan_line.group(0), seconds)
    again = prmlab(folder, "reconcile", "--dry-run", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout[-3000:]  # 0: the next plan is empty
    assert anyio.run(_unowned, folder, False) == lab["unowned"]
    return out


def _steps(out: str) -> dict[str, str]:
    """The plan's step heads: address -> the rest of the line."""
    return {m.group(2): m.group(1) + m.group(3) for m in re.finditer(r"^  (\S+) (\S+)  (.*)$", out, re.M)}


def test_change_location_replaces_the_group_and_recreates_every_child(lab: dict[str, Any]) -> None:
    _edit(lab["folder"], lambda t: re.sub(r"(?m)^  location: ukwest$", "  location: westeurope", t, count=1))
    out = one_reconcile(lab, "change location (replacement with children)")
    steps = _steps(out)
    assert steps["resource_group.main"].startswith("-/+")
    for child, parent in [
        ("apim_service.main", "resource_group.main"),
        ("api.mcp", "apim_service.main"),
        ("api_policy.mcp", "api.mcp"),
        ("operation_policy.mcp.prm", "operation.mcp.prm"),
        ("container_app.server", "container_environment.main"),
    ]:
        assert steps[child].startswith("-/+"), child
        assert steps[child].endswith(f"# parent replaced: {parent}"), steps[child]
    assert _endpoint(out) == lab["endpoint"]  # the gateway kept its local port


def test_basicv2_to_developer_is_a_replacement_with_the_reason(lab: dict[str, Any]) -> None:
    _edit(lab["folder"], lambda t: re.sub(r"(?m)^    sku: BasicV2$", "    sku: Developer", t, count=1))
    out = one_reconcile(lab, "BasicV2 -> Developer")
    assert _steps(out)["apim_service.main"].startswith("-/+")
    assert '~ sku.name: "BasicV2" -> "Developer"  # forces replacement: Azure does not move a service' in out
    assert _steps(out)["api_policy.mcp"].endswith("# parent replaced: api.mcp")
    assert _endpoint(out) == lab["endpoint"]


def test_emulator_restart_keeps_the_urls(lab: dict[str, Any]) -> None:
    stop = prmlab(lab["folder"], "local", "stop")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    out = one_reconcile(lab, "restart the emulator")
    assert _endpoint(out) == lab["endpoint"]


PRM_COPY = """    prm-copy:
      display_name: PRM copy
      type: http
      path: prm-copy
      protocols: [https]
      subscription_required: false
      policy: *prm_policy
      operations:
        get:
          method: GET
          url_template: /
          display_name: PRM copy

server:"""


def test_removing_an_apis_policy_prunes_it_and_only_it(lab: dict[str, Any]) -> None:
    folder: Path = lab["folder"]
    # lab A: the default lab plus an API with an API-level policy (set up, verified)
    _edit(folder, lambda t: t.replace("\nserver:", "\n" + PRM_COPY, 1))
    setup = prmlab(folder, "reconcile", "--yes")
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-2000:]
    assert "+ api_policy.prm-copy" in setup.stdout
    # lab B: the same API without its policy
    _edit(
        folder,
        lambda t: t.replace(
            "      policy: *prm_policy\n      operations:\n        get:", "      operations:\n        get:", 1
        ),
    )
    out = one_reconcile(lab, "remove an API's policy")
    changed = {a: s for a, s in _steps(out).items() if not s.startswith("=")}
    assert list(changed) == ["api_policy.prm-copy"], changed
    assert changed["api_policy.prm-copy"].startswith("-")
    assert re.search(
        r"^Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, \d+ unchanged\.$", out, re.M
    )


def test_renaming_the_scope_converges_in_one_reconcile(lab: dict[str, Any]) -> None:
    """Entra's sequence (disable, then replace) by the engine; the policy, the PRM and the
    server's REQUIRED_SCOPE follow the app registration in the same run."""

    def rename(text: str) -> str:
        text = text.replace("        - value: user_impersonate\n", "        - value: mcp.access\n", 1)
        return text.replace("          scopes: [user_impersonate]\n", "          scopes: [mcp.access]\n", 1)

    _edit(lab["folder"], rename)
    out = one_reconcile(lab, "rename the scope")
    steps = _steps(out)
    for address in ("entra_app.mcp", "api_policy.mcp", "operation_policy.mcp.prm", "container_app.server"):
        assert steps[address].startswith("~"), (address, steps)
    # the client checks signed in with tokens carrying mcp.access: the server requires it now
    # (its REQUIRED_SCOPE changed with the container app), or tools/list would be refused


EXTRA_SCOPE = """        - value: extra
          type: User
          admin_consent_display_name: Extra
          admin_consent_description: An extra scope.
      # Clients that get the scope without a consent prompt: VS Code."""


def test_removing_a_scope_converges_in_one_reconcile(lab: dict[str, Any]) -> None:
    folder: Path = lab["folder"]
    scope = re.search(r"(?m)^        - value: (\S+)$", (folder / "lab.yaml").read_text())
    assert scope is not None
    value = scope.group(1)

    def two_scopes(text: str) -> str:  # lab A: a second scope; references name theirs
        text = text.replace(
            "      # Clients that get the scope without a consent prompt: VS Code.", EXTRA_SCOPE, 1
        )
        return text.replace("{ref: entra.apps.mcp.scope}", f"{{ref: entra.apps.mcp.scopes.{value}}}")

    _edit(folder, two_scopes)
    setup = prmlab(folder, "reconcile", "--yes")
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-2000:]
    assert "NOT verified" not in setup.stdout
    _edit(
        folder,
        lambda t: t.replace(
            EXTRA_SCOPE, "      # Clients that get the scope without a consent prompt: VS Code.", 1
        ),
    )
    out = one_reconcile(lab, "remove a scope")
    assert list(_steps(out)) == ["entra_app.mcp"], _steps(out)


SECOND_MCP_API = """    mcp2:
      display_name: MCP tools 2
      type: mcp
      path: mcp2
      backend: mcp-backend

    # RFC 9728 discovery"""
MCP2_IDENTIFIER_URI = "        - {ref: apim.apis.mcp.url}\n        - {ref: apim.apis.mcp2.url}\n"
MCP2_ADDRESSES = (
    "api.mcp2",
    "api_policy.mcp2",
    "operation.mcp2.prm",
    "operation_policy.mcp2.prm",
    "operation.mcp-prm-dynamic-discovery.mcp2",
    "operation_policy.mcp-prm-dynamic-discovery.mcp2",
)


def _verified_apis(out: str) -> dict[str, int]:
    """MCP API heading of the verification table -> how many checks passed under it."""
    counts: dict[str, int] = {}
    api = None
    for line in out[out.index("\nVerification\n") :].splitlines():
        if heading := re.match(r"^  MCP API (\S+)$", line):
            api = heading.group(1)
            counts[api] = 0
        elif api is not None and line.startswith("    PASS  "):
            counts[api] += 1
    return counts


def test_adding_a_second_mcp_api_makes_it_a_protected_resource(lab: dict[str, Any]) -> None:
    """Only the API itself in lab.yaml (and its URL among the app's identifier URIs): its policy
    and its PRM at both RFC 9728 URLs come with it, and verification covers it."""

    def add(text: str) -> str:
        text = text.replace("    # RFC 9728 discovery", SECOND_MCP_API, 1)
        return text.replace("        - {ref: apim.apis.mcp.url}\n", MCP2_IDENTIFIER_URI, 1)

    _edit(lab["folder"], add)
    out = one_reconcile(lab, "add a second MCP API")
    steps = _steps(out)
    for address in MCP2_ADDRESSES:
        assert steps[address].startswith("+"), (address, steps)
    assert steps["entra_app.mcp"].startswith("~")  # the identifier URI
    counts = _verified_apis(out)
    assert list(counts) == ["mcp", "mcp2"], counts
    assert counts["mcp"] == counts["mcp2"] > 0  # the whole suite for each (discovery at both URLs)


def test_removing_an_mcp_api_prunes_it_with_its_prm(lab: dict[str, Any]) -> None:
    folder: Path = lab["folder"]
    if "    mcp2:\n" not in (folder / "lab.yaml").read_text():  # run alone: lab A first
        test_adding_a_second_mcp_api_makes_it_a_protected_resource(lab)

    def remove(text: str) -> str:
        text = text.replace(SECOND_MCP_API, "    # RFC 9728 discovery", 1)
        return text.replace(MCP2_IDENTIFIER_URI, "        - {ref: apim.apis.mcp.url}\n", 1)

    _edit(folder, remove)
    out = one_reconcile(lab, "remove an MCP API")
    steps = {a: s for a, s in _steps(out).items() if not s.startswith("=")}
    assert steps["api.mcp2"].startswith("-")
    assert steps["operation.mcp-prm-dynamic-discovery.mcp2"].startswith("-")  # the path-inserted PRM
    assert set(steps) <= {*MCP2_ADDRESSES, "entra_app.mcp"}, steps
    assert not _verified_apis(out)  # one MCP API again: no per-API headings


SECOND_SERVER = {
    "# User-assigned managed identities": """    mcp2:
      unique_name: mcp-prm-oauth-app-two
      display_name: MCP PRM OAuth lab - server two
      access_token_version: 2
      identifier_uris:
        - {ref: apim.apis.mcp2.url}
      scopes:
        - value: user_impersonate
          type: User
          admin_consent_display_name: Access MCP server two
          admin_consent_description: Allows the app to call MCP server two as the signed-in user.
      pre_authorized_clients:
        - app_id: aebc6443-996d-45c2-90f0-388ff96faa56
          scopes: [user_impersonate]
      spa:
        redirect_uris:
          - {ref: servers.second.url, suffix: /auth/callback}
      required_resource_access:
        - resource_app_id: 00000003-0000-0000-c000-000000000000
          scopes: [e1fe6dd8-ba31-4d61-89e7-88639da4683d]
          admin_consent: true
      federated_credentials:
        - name: msiAsFic
          issuer: {ref: target.issuer}
          subject: {ref: managed_identities.mcp-server.principal_id}
          audiences: [api://AzureADTokenExchange]

""",
    "  apis:\n": """    mcp2-backend:
      url: {ref: servers.second.url, suffix: /mcp}

""",
    "    # RFC 9728 discovery": """    mcp2:
      display_name: MCP server two
      type: mcp
      path: mcp2
      backend: mcp2-backend

""",
    "# How `prmlab verify`": """servers:
  second:
    name: mcp-server-two
    source: ./mcp_server
    identity: mcp-server
    env:
      AZURE_TENANT_ID: {ref: target.tenant_id}
      AZURE_CLIENT_ID: {ref: entra.apps.mcp2.client_id}
      AZURE_MANAGED_IDENTITY_CLIENT_ID: {ref: managed_identities.mcp-server.client_id}
      AZURE_AUTHORITY_HOST: {ref: target.authority}
      GRAPH_ENDPOINT: {ref: target.graph_endpoint}
      AZURE_CLIENT_AUDIENCES: {ref: entra.apps.mcp2.identifier_uri}

""",
}


def test_adding_a_second_mcp_server_with_its_own_app_and_api(lab: dict[str, Any]) -> None:
    """A second server (servers.second), its app registration, its backend and its MCP API (type,
    path, backend only): one reconcile, and verification covers both APIs, each bypass battery
    against its own server."""

    def add(text: str) -> str:
        for anchor, block in SECOND_SERVER.items():
            assert anchor in text, anchor
            text = text.replace(anchor, block + anchor, 1)
        return text

    _edit(lab["folder"], add)
    out = one_reconcile(lab, "add a second MCP server")
    steps = _steps(out)
    for address in (
        "container_app.second",
        "entra_app.mcp2",
        "service_principal.mcp2",
        "federated_credential.mcp2.msiAsFic",
        "backend.mcp2-backend",
        *MCP2_ADDRESSES,
    ):
        assert steps[address].startswith("+"), (address, steps)
    assert not any(s.startswith(("-", "~")) for a, s in steps.items() if a.startswith("container_app.server"))
    counts = _verified_apis(out)
    assert list(counts) == ["mcp", "mcp2"], counts
    assert counts["mcp"] == counts["mcp2"] > 0
