"""The verifier names the MCP server by name and version, never by its object repr (issue 19),
and names the cause when the MCP endpoint refuses the token the flow got (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.types import Implementation

from orchestrator.verify.client_flow import _Refusals, server_label


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


MCP_URL = "https://gw.example.net/mcp"


def _token(scp: str) -> str:
    import jwt

    return jwt.encode({"scp": scp, "aud": "x"}, "k" * 32, algorithm="HS256")


async def _answer(refusals: Any, url: str, status: int, challenge: str | None, token: str | None) -> None:
    import httpx2

    headers = {"authorization": f"Bearer {token}"} if token else {}
    request = httpx2.Request("POST", url, headers=headers)
    response = httpx2.Response(
        status, headers={"www-authenticate": challenge} if challenge else {}, request=request
    )
    await refusals(response)


@pytest.mark.anyio
async def test_a_refused_token_is_named_as_the_cause_with_the_scopes() -> None:
    """The server requires a scope the lab does not grant (its REQUIRED_SCOPE set wrong): the
    failure says who refused, what it asked for and what the token carried."""
    refusals = _Refusals(MCP_URL)
    # the first 401 (no token yet) and answers of other URLs are no refusal of the lab's token
    await _answer(refusals, MCP_URL, 401, 'Bearer resource_metadata="https://x"', None)
    await _answer(refusals, "https://login.example.net/token", 403, 'Bearer error="x"', _token("a"))
    assert refusals.cause("api://app/user_impersonate") == ""
    challenge = 'Bearer error="insufficient_scope", error_description="Required scope: files.read.all"'
    await _answer(refusals, MCP_URL + "/", 403, challenge, _token("user_impersonate"))
    assert refusals.cause("api://app/user_impersonate") == (
        "the MCP endpoint refused the token: 403 insufficient_scope (Required scope: files.read.all); "
        "the token carries scp 'user_impersonate' (the lab's scope 'user_impersonate', as its PRM "
        "advertises): the endpoint requires a scope the lab does not grant (the server's "
        "REQUIRED_SCOPE, or the API's policy)"
    )


@pytest.mark.anyio
async def test_an_invalid_token_refusal_is_named_without_the_scope_hint() -> None:
    refusals = _Refusals(MCP_URL)
    await _answer(refusals, MCP_URL, 401, 'Bearer error="invalid_token"', "not-a-jwt")
    assert refusals.cause("api://app/user_impersonate") == (
        "the MCP endpoint refused the token: 401 invalid_token; the token carries no scp"
    )
