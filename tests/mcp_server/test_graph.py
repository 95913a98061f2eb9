"""Graph ``/me`` client over a mock transport, and the Entra error classification."""

from __future__ import annotations

import httpx
import pytest

from mcp_server.graph import ConsentRequiredError, GraphClient, UpstreamError, _code_of, is_consent_error
from tests.mcp_server.fakes import ME

pytestmark = pytest.mark.anyio


def _graph(handler: httpx.MockTransport) -> tuple[GraphClient, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=handler)
    return GraphClient("https://graph.test.example", http), http


async def test_me_sends_the_graph_token_and_selects_the_fields() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ME)

    graph, http = _graph(httpx.MockTransport(handler))
    async with http:
        assert await graph.me("g-token") == ME
    assert seen[0].url.path == "/v1.0/me"
    assert seen[0].headers["authorization"] == "Bearer g-token"
    assert "displayName" in seen[0].url.params["$select"]


async def test_graph_consent_error_is_classified() -> None:
    body = {"error": {"code": "consent_required", "message": "no"}}
    graph, http = _graph(httpx.MockTransport(lambda r: httpx.Response(403, json=body)))
    async with http:
        with pytest.raises(ConsentRequiredError):
            await graph.me("g")


@pytest.mark.parametrize("status", [401, 404, 500])
async def test_graph_failure_is_an_upstream_error_without_the_token(status: int) -> None:
    graph, http = _graph(httpx.MockTransport(lambda r: httpx.Response(status, json={"error": {"code": "X"}})))
    async with http:
        with pytest.raises(UpstreamError) as caught:
            await graph.me("secret-graph-token")
    assert str(status) in str(caught.value)
    assert "secret-graph-token" not in str(caught.value)


@pytest.mark.parametrize(
    ("message", "consent", "code"),
    [
        (
            "Microsoft Entra ID error '(invalid_grant) AADSTS65001: The user or administrator has not consented'",
            True,
            "AADSTS65001",
        ),
        ("Microsoft Entra ID error '(interaction_required) AADSTS50079: MFA'", True, "AADSTS50079"),
        ("Microsoft Entra ID error '(consent_required) please consent'", True, "consent_required"),
        (
            "Microsoft Entra ID error '(invalid_client) AADSTS700024: assertion audience'",
            False,
            "AADSTS700024",
        ),
        ("something else", False, "unknown error"),
    ],
)
def test_entra_error_classification(message: str, consent: bool, code: str) -> None:
    assert is_consent_error(message) is consent
    assert _code_of(message) == code
