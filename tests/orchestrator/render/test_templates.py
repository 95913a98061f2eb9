"""The templates themselves: variables they declare, the shape of the XML, the emulator's PUT gate."""

from __future__ import annotations

import pytest
from lxml import etree

from emulator.gateway.check import check_policy
from orchestrator.render import (
    optional_template_variables,
    parse_policy,
    render_policy,
    required_template_variables,
    template_names,
    template_variables,
)
from orchestrator.render.environment import template_source
from orchestrator.render.policy import check_template_source
from orchestrator.urls import protected_resource_metadata_url
from tests.orchestrator.render.cases import GOLDEN, MCP_API_ENTRA, MCP_URL, PRM, PRM_URL


def test_template_names() -> None:
    assert template_names() == [
        "entra-metadata",
        "gateway-mcp-api",
        "gateway-metadata",
        "gateway-oauth",
        "mcp-api-entra",
        "prm",
        "product-quota",
    ]


def test_template_variables() -> None:
    assert template_variables("mcp-api-entra") == {
        "tenant_id",
        "audience",
        "identifier_uri",
        "scope",
        "resource_metadata_url",
    }
    assert optional_template_variables("mcp-api-entra") == {"identifier_uri"}
    assert required_template_variables("prm") == {
        "resource",
        "authorization_servers",
        "scopes_supported",
        "resource_name",
    }
    assert optional_template_variables("prm") == frozenset()


@pytest.mark.parametrize("name", ["mcp-api-entra", "prm"])
def test_templates_document_the_syntax_and_their_variables(name: str) -> None:
    source = template_source(name)
    check_template_source(name, source)
    head = source.split("-#]", 1)[0]
    assert "{{Name}}" in head
    assert "[[ var ]]" in head
    for variable in template_variables(name):
        assert f"    {variable} " in head, f"{name}: variable {variable} is not documented"


def _children(element: etree._Element) -> list[str]:
    return [str(child.tag) for child in element if isinstance(child.tag, str)]


def test_mcp_api_policy_shape() -> None:
    root = parse_policy(render_policy("mcp-api-entra", MCP_API_ENTRA))
    assert _children(root) == ["inbound", "backend", "outbound", "on-error"]
    inbound = root.find("inbound")
    assert inbound is not None
    assert _children(inbound) == ["base", "choose", "validate-azure-ad-token", "validate-azure-ad-token"]
    first, second = inbound.findall("validate-azure-ad-token")
    assert first.get("failed-validation-httpcode") == "401"
    assert first.find("required-claims") is None
    assert second.get("failed-validation-httpcode") == "403"
    claim = second.find("required-claims/claim")
    assert claim is not None
    assert [(k, claim.get(k)) for k in ("name", "match", "separator")] == [
        ("name", "scp"),
        ("match", "any"),
        ("separator", " "),
    ]
    assert len(claim.attrib) == 3
    # Element order as APIM documents it: audiences before required-claims.
    assert _children(second) == ["audiences", "required-claims"]
    challenges = [v.text for v in root.iter("value") if v.text and v.text.startswith("Bearer ")]
    assert challenges == [
        f'Bearer resource_metadata="{PRM_URL}", scope="{MCP_URL}/user_impersonate"',
        f'Bearer error="insufficient_scope", resource_metadata="{PRM_URL}", scope="{MCP_URL}/user_impersonate"',
        f'Bearer error="invalid_token", resource_metadata="{PRM_URL}", scope="{MCP_URL}/user_impersonate"',
    ]
    statuses = [s.get("code") for s in root.iter("set-status")]
    assert statuses == ["401", "403", "401"]


def test_the_challenge_points_at_the_served_prm_url() -> None:
    # The original lab's 401 pointed at the root PRM URL, which was not served.
    assert protected_resource_metadata_url(MCP_URL) == PRM_URL
    xml = render_policy("mcp-api-entra", MCP_API_ENTRA)
    assert f'resource_metadata="{PRM_URL}"' in xml
    assert 'oauth-protected-resource"' not in xml


def test_prm_policy_is_anonymous_and_answers_at_once() -> None:
    root = parse_policy(render_policy("prm", PRM))
    inbound = root.find("inbound")
    assert inbound is not None
    # no <base/>: the API's token check never runs; cors first (APIM: "Policy order")
    assert _children(inbound) == ["cors", "return-response"]
    response = inbound.find("return-response")
    assert response is not None
    status = response.find("set-status")
    assert status is not None
    assert status.get("code") == "200"
    headers = {h.get("name"): [v.text for v in h.findall("value")] for h in response.findall("set-header")}
    assert headers == {"Content-Type": ["application/json"], "Cache-Control": ["public, max-age=3600"]}


@pytest.mark.parametrize(
    ("template", "variables"),
    [
        ("prm", PRM),
        ("gateway-metadata", {"issuer": "https://gw.test/oauth", "scopes_supported": ["api://x/s"]}),
    ],
)
def test_discovery_documents_are_cors_open_for_get_without_credentials(
    template: str, variables: dict[str, object]
) -> None:
    """Browser-based MCP clients read them with fetch(): the cors policy is the first element of
    inbound (before the return-response answers), any origin, GET, no credentials."""
    inbound = parse_policy(render_policy(template, variables)).find("inbound")
    assert inbound is not None
    cors = inbound[0]
    assert cors.tag == "cors"
    assert cors.get("allow-credentials") == "false"
    assert cors.get("terminate-unmatched-request") is None
    assert [o.text for o in cors.iterfind("allowed-origins/origin")] == ["*"]
    assert [m.text for m in cors.iterfind("allowed-methods/method")] == ["GET"]
    assert [h.text for h in cors.iterfind("allowed-headers/header")] == ["*"]
    assert inbound.find("base") is None


@pytest.mark.parametrize("golden", sorted(GOLDEN))
def test_the_emulator_put_gate_accepts_every_render(golden: str) -> None:
    template, variables = GOLDEN[golden]
    xml = render_policy(template, variables)
    stored = check_policy(xml, ["McpTenantId", "McpClientId", "McpScope"])
    assert etree.fromstring(stored.encode()).tag == "policies"


def test_variables_of_an_unknown_template() -> None:
    from orchestrator.errors import RenderError

    with pytest.raises(
        RenderError,
        match=r"'nope' does not exist \(known templates: entra-metadata, gateway-mcp-api, gateway-metadata, gateway-oauth, mcp-api-entra, prm, product-quota\)",
    ):
        template_variables("nope")
