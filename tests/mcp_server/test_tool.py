"""``show_user_profile`` through the SDK's in-memory client, with fake OBO and Graph seams."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from mcp.client import Client

from mcp_server.app import Dependencies, build_server
from mcp_server.graph import ConsentRequiredError, UpstreamError
from tests.mcp_server.fakes import ME, FakeExchanger, FakeGraph
from tests.mcp_server.tokens import AUTHORITY, CLIENT_ID, TENANT, settings

pytestmark = pytest.mark.anyio


def _deps(exchanger: FakeExchanger, graph: FakeGraph, token: str | None = "user-token") -> Dependencies:
    return Dependencies(exchanger=exchanger, graph=graph, token_verifier=None, user_token=lambda: token)


def _payload(result: Any) -> dict[str, Any]:
    structured = result.structured_content
    if isinstance(structured, dict):
        inner = structured.get("result", structured)
        assert isinstance(inner, dict)
        return inner
    value = json.loads(result.content[0].text)
    assert isinstance(value, dict)
    return value


async def test_lists_the_tool() -> None:
    async with Client(build_server(settings(), _deps(FakeExchanger(), FakeGraph()))) as client:
        tools = await client.list_tools()
    assert [t.name for t in tools.tools] == ["show_user_profile"]


async def test_returns_the_profile_via_obo() -> None:
    exchanger, graph = FakeExchanger(), FakeGraph()
    async with Client(build_server(settings(), _deps(exchanger, graph))) as client:
        result = await client.call_tool("show_user_profile", {})
    assert not result.is_error
    profile = _payload(result)
    assert profile == {
        "displayName": "Ada Lovelace",
        "mail": "ada@contoso.test",  # mail is null: the UPN stands in
        "userPrincipalName": "ada@contoso.test",
        "id": ME["id"],
        "jobTitle": "Analyst",
        "department": "Engines",
        "officeLocation": "London",
    }
    # The caller's token went to the exchange; Graph got the exchanged token, not the caller's.
    assert exchanger.seen == ["user-token"]
    assert graph.seen == ["graph-token-for:user-token"]


async def test_mail_wins_over_upn_when_present() -> None:
    graph = FakeGraph(profile={**ME, "mail": "ada@mail.test"})
    async with Client(build_server(settings(), _deps(FakeExchanger(), graph))) as client:
        result = await client.call_tool("show_user_profile", {})
    assert _payload(result)["mail"] == "ada@mail.test"


@pytest.mark.parametrize("where", ["obo", "graph"])
async def test_missing_consent_returns_a_sign_in_url(where: str) -> None:
    exchanger = FakeExchanger(error=ConsentRequiredError("AADSTS65001") if where == "obo" else None)
    graph = FakeGraph(error=ConsentRequiredError("consent_required") if where == "graph" else None)
    async with Client(build_server(settings(), _deps(exchanger, graph))) as client:
        result = await client.call_tool("show_user_profile", {})
    assert not result.is_error
    payload = _payload(result)
    assert payload["consent_required"] is True
    url = urlsplit(payload["consent_url"])
    assert f"{url.scheme}://{url.netloc}" == AUTHORITY
    assert url.path == f"/{TENANT}/oauth2/v2.0/authorize"
    query = parse_qs(url.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == ["https://server.test.example/auth/callback"]
    assert query["prompt"] == ["consent"]
    assert "https://graph.microsoft.com/User.Read" in query["scope"][0].split()


async def test_upstream_failure_is_a_tool_error_not_a_crash() -> None:
    exchanger = FakeExchanger(error=UpstreamError("the on-behalf-of exchange was refused (AADSTS50013)"))
    async with Client(build_server(settings(), _deps(exchanger, FakeGraph()))) as client:
        result = await client.call_tool("show_user_profile", {})
    assert result.is_error
    assert "AADSTS50013" in result.content[0].text  # type: ignore[union-attr]


async def test_without_a_user_token_the_tool_refuses() -> None:
    exchanger = FakeExchanger()
    async with Client(build_server(settings(), _deps(exchanger, FakeGraph(), token=None))) as client:
        result = await client.call_tool("show_user_profile", {})
    assert result.is_error
    assert exchanger.seen == []
