"""One verification target per MCP API (``orchestrator.verify.targeting``): its URL, its app, the
server behind its backend."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.labfile import load
from orchestrator.verify.targeting import build_target, mcp_api_keys, tokens_per_api

ROOT = Path(__file__).resolve().parents[3]
OUTPUTS = {
    "apim_service.main": {"gateway_url": "https://apim.example"},
    "entra_app.mcp": {"client_id": "11111111-1111-1111-1111-111111111111"},
    "container_app.server": {"fqdn": "server.example"},
}
TARGETS = {"tenant_id": "t", "issuer": "https://login.example/t/v2.0"}


def _two_apis_one_app(tmp_path: Path) -> Path:
    """The default lab with a second MCP API accepting the same app's tokens."""
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
    return tmp_path / "lab.yaml"


def test_every_mcp_api_is_a_target_with_its_own_url_and_server(tmp_path: Path) -> None:
    lab, _ = load(_two_apis_one_app(tmp_path), env={})
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


JWT_1, JWT_2 = "eyJhbGciOi.eyJhdWQiOi.c2lnbmF0dXJl", "eyJ0d28.eyJ0d28.dHdv"


def test_a_bare_token_serves_every_mcp_api_when_they_accept_one_app(tmp_path: Path) -> None:
    default, _ = load(ROOT / "lab.yaml")
    assert tokens_per_api(default, ()) == {}
    assert tokens_per_api(default, (JWT_1,)) == {"mcp": JWT_1}
    assert tokens_per_api(default, (f"mcp={JWT_1}",)) == {"mcp": JWT_1}
    assert tokens_per_api(default, ("opaque+token/ab==",)) == {"mcp": "opaque+token/ab=="}  # base64 padding
    shared, _ = load(_two_apis_one_app(tmp_path), env={})
    assert tokens_per_api(shared, (JWT_1,)) == {"mcp": JWT_1, "mcp2": JWT_1}
    # an API left out signs in as usual
    assert tokens_per_api(shared, (f"mcp2={JWT_2}",)) == {"mcp2": JWT_2}


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (
            (JWT_1,),
            "one token cannot serve every MCP API of lab 'mcp-two-servers': they accept tokens of different "
            "app registrations (mcp: app 'mcp', mcp2: app 'mcp2') and a token's audience is one app; give one "
            "per API: --token mcp=<token> --token mcp2=<token>",
        ),
        (
            (JWT_1, JWT_2),
            "2 tokens without an API; give one per API: --token mcp=<token> --token mcp2=<token>",
        ),
        ((f"mcp={JWT_1}", JWT_2), "give one token for every MCP API or one per API (API=TOKEN), not both"),
        ((f"mcp={JWT_1}", f"mcp={JWT_2}"), "two tokens for MCP API 'mcp'"),
        (("mcp2=",), "no token after mcp2="),
        ((f"mpc={JWT_1}",), "'mpc' is not an MCP API of lab 'mcp-two-servers' (its MCP APIs: mcp, mcp2)"),
    ],
)
def test_tokens_that_cannot_be_meant_are_refused_without_printing_them(
    given: tuple[str, ...], said: str
) -> None:
    two, _ = load(ROOT / "labs" / "two-servers.yaml")
    with pytest.raises(ValueError, match=re.escape(said)) as refused:
        tokens_per_api(two, given)
    assert str(refused.value) == said
    assert JWT_1 not in said
    assert JWT_2 not in said
    assert tokens_per_api(two, (f"mcp={JWT_1}", f"mcp2={JWT_2}")) == {"mcp": JWT_1, "mcp2": JWT_2}
