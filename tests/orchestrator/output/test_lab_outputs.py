"""``lab_outputs``: the values ``prmlab output`` prints, from node outputs as the target holds them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.labfile import load
from orchestrator.output.lab_outputs import DESCRIPTIONS, deployed, lab_outputs

ROOT = Path(__file__).resolve().parents[3]
GATEWAY = "https://127.0.0.1:8443"
TARGETS = {"tenant_id": "t-1", "issuer": "https://login.example/t-1/v2.0", "subscription_id": "s"}


def node_outputs(lab_file: Path) -> dict[str, dict[str, Any]]:
    """Outputs of every node, as the providers would read them after an apply."""
    _, graph = load(lab_file)
    outputs: dict[str, dict[str, Any]] = {node.address: {} for node in graph}
    outputs["apim_service.main"] = {"gateway_url": GATEWAY, "name": "apim"}
    outputs["entra_app.mcp"] = {"client_id": "c-mcp", "object_id": "o"}
    outputs["container_app.server"] = {"fqdn": "127.0.0.1:9000"}
    return outputs


def test_default_lab_outputs() -> None:
    lab, _ = load(ROOT / "lab.yaml")
    values = lab_outputs(lab, node_outputs(ROOT / "lab.yaml"), TARGETS, Path("/x/ca.pem"))
    assert list(values) == list(DESCRIPTIONS)
    assert values["mcp_url"] == f"{GATEWAY}/mcp"
    assert values["mcp_urls"] == {"mcp": f"{GATEWAY}/mcp"}
    assert values["prm_url"] == f"{GATEWAY}/.well-known/oauth-protected-resource/mcp"
    assert values["authorization_server"] == TARGETS["issuer"]  # entra mode: Entra's issuer
    assert values["client_ids"] == {"mcp": "c-mcp"}
    assert values["server_url"] == "https://127.0.0.1:9000"
    assert values["gateway_url"] == GATEWAY
    assert values["tenant_id"] == "t-1"
    assert values["vscode_mcp_json"] == {"servers": {lab.name: {"type": "http", "url": f"{GATEWAY}/mcp"}}}
    assert values["ca_file"] == "/x/ca.pem"
    assert deployed(values)


def test_gateway_mode_names_the_gateways_authorization_server() -> None:
    lab_file = ROOT / "labs" / "gateway.yaml"
    lab, _ = load(lab_file)
    values = lab_outputs(lab, node_outputs(lab_file), TARGETS)
    assert values["authorization_server"] not in (None, TARGETS["issuer"])
    assert str(values["authorization_server"]).startswith(GATEWAY + "/")
    assert values["ca_file"] is None


def test_nothing_deployed_is_all_unknown() -> None:
    lab, _ = load(ROOT / "lab.yaml")
    values = lab_outputs(lab, {}, TARGETS)
    assert values["mcp_url"] is None
    assert values["prm_url"] is None
    assert values["server_url"] is None
    assert values["client_ids"] == {"mcp": None}
    assert values["vscode_mcp_json"] is None
    assert not deployed(values)


def test_an_api_not_created_yet_has_no_url() -> None:
    outputs = node_outputs(ROOT / "lab.yaml")
    del outputs["api.mcp"]
    lab, _ = load(ROOT / "lab.yaml")
    values = lab_outputs(lab, outputs, TARGETS)
    assert values["mcp_url"] is None
    assert values["gateway_url"] == GATEWAY


def test_text_rendering_lists_every_output_or_one_value_bare() -> None:
    from orchestrator.commands.output import render_text

    lab, _ = load(ROOT / "lab.yaml")
    values = lab_outputs(lab, node_outputs(ROOT / "lab.yaml"), TARGETS)
    listed = render_text(values, None).splitlines()
    assert listed[0] == f'mcp_url              = "{GATEWAY}/mcp"'
    assert "ca_file              = null" in listed
    assert render_text(values, "mcp_url") == f"{GATEWAY}/mcp"  # bare, for "$(prmlab output mcp_url)"
    assert json.loads(render_text(values, "client_ids")) == {"mcp": "c-mcp"}


def test_vscode_mcp_json_names_every_mcp_api() -> None:
    lab_file = ROOT / "labs" / "two-servers.yaml"
    lab, _ = load(lab_file)
    outputs = node_outputs(lab_file)
    values = lab_outputs(lab, outputs, TARGETS)
    assert values["vscode_mcp_json"] == {
        "servers": {
            "mcp-two-servers-mcp": {"type": "http", "url": f"{GATEWAY}/mcp"},
            "mcp-two-servers-mcp2": {"type": "http", "url": f"{GATEWAY}/mcp2"},
        }
    }
    del outputs["api.mcp2"]  # not created yet: left out, the other still named as one of several
    values = lab_outputs(lab, outputs, TARGETS)
    assert values["vscode_mcp_json"] == {
        "servers": {"mcp-two-servers-mcp": {"type": "http", "url": f"{GATEWAY}/mcp"}}
    }


def test_the_connection_help_names_every_mcp_api() -> None:
    from orchestrator.verify.connect import connection_help

    one = connection_help("lab", {"mcp": "https://g/mcp"}, None, {"mcp": "c-1"})
    assert "\nMCP endpoint: https://g/mcp\n" in one
    assert '"lab": {' in one
    assert "(MCP Inspector in entra mode): client id c-1, redirect" in one
    two = connection_help(
        "lab",
        {"mcp": "https://g/mcp", "mcp2": "https://g/mcp2"},
        Path("/ca.pem"),
        {"mcp": "c-1", "mcp2": "c-2"},
    )
    assert (
        "\nMCP endpoints:\n  mcp: https://g/mcp\n  mcp2: https://g/mcp2\nVS Code (.vscode/mcp.json):\n" in two
    )
    block = two[two.index("VS Code (.vscode/mcp.json):\n") :].split("\n", 1)[1]
    assert json.loads(block[: block.index("\n  }\n") + 4]) == {
        "servers": {
            "lab-mcp": {"type": "http", "url": "https://g/mcp"},
            "lab-mcp2": {"type": "http", "url": "https://g/mcp2"},
        }
    }
    assert (
        "redirect http://localhost:6274/oauth/callback, client id per MCP API:\n  mcp: c-1\n  mcp2: c-2\n"
        in two
    )
    assert "NODE_EXTRA_CA_CERTS=/ca.pem" in two
