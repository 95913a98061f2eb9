"""The verifier names the MCP server by name and version, never by its object repr (issue 19)."""

from __future__ import annotations

from mcp.types import Implementation

from orchestrator.verify.client_flow import server_label


def test_the_server_is_named_by_name_and_version() -> None:
    label = server_label(Implementation(name="prmlab-mcp-server", version="1.2.0"))
    assert label == "server prmlab-mcp-server 1.2.0"
    assert "Implementation(" not in label
    titled = server_label(Implementation(name="s", version="1", title="The Lab"))
    assert titled == "server s 1 (The Lab)"


def test_control_characters_from_the_server_are_escaped() -> None:
    assert server_label(Implementation(name="evil\x1b[31m", version="1")) == "server evil\\x1b[31m 1"


def test_a_server_without_a_version_says_so() -> None:
    assert server_label(Implementation(name="s", version="")) == "server s (no version)"
