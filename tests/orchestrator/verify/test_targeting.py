"""One verification target per MCP API (``orchestrator.verify.targeting``): its URL, its app, the
server behind its backend."""

from __future__ import annotations

from pathlib import Path

from orchestrator.labfile import load
from orchestrator.verify.targeting import build_target, mcp_api_keys

ROOT = Path(__file__).resolve().parents[3]
OUTPUTS = {
    "apim_service.main": {"gateway_url": "https://apim.example"},
    "entra_app.mcp": {"client_id": "11111111-1111-1111-1111-111111111111"},
    "container_app.server": {"fqdn": "server.example"},
}
TARGETS = {"tenant_id": "t", "issuer": "https://login.example/t/v2.0"}


def test_every_mcp_api_is_a_target_with_its_own_url_and_server(tmp_path: Path) -> None:
    text = (ROOT / "lab.yaml").read_text()
    text = (
        text.replace(
            "        - {ref: apim.apis.mcp.url}\n",
            "        - {ref: apim.apis.mcp.url}\n        - {ref: apim.apis.mcp2.url}\n",
            1,
        )
        .replace(
            "    # RFC 9728 discovery",
            "    mcp2:\n      display_name: Two\n      type: mcp\n      path: two\n      backend: other\n\n"
            "    # RFC 9728 discovery",
            1,
        )
        .replace("  apis:\n", "    other:\n      url: https://elsewhere.example/mcp\n\n  apis:\n", 1)
    )
    (tmp_path / "lab.yaml").write_text(text)
    (tmp_path / "mcp_server").mkdir()
    lab, _ = load(tmp_path / "lab.yaml", env={})
    assert mcp_api_keys(lab) == ("mcp", "mcp2")
    first, second = (build_target(lab, OUTPUTS, TARGETS, local=True, api=k) for k in mcp_api_keys(lab))
    assert (first.api, first.mcp_url, first.server_url) == (
        "mcp",
        "https://apim.example/mcp",
        "https://server.example/mcp",
    )
    assert first.scope == "https://apim.example/mcp/user_impersonate"
    # mcp2 forwards to a backend that is no server of the lab: no bypass target
    assert (second.api, second.mcp_url, second.server_url) == ("mcp2", "https://apim.example/two", None)
    assert second.app_client_id == first.app_client_id
    assert build_target(lab, OUTPUTS, TARGETS, local=True) == first
