"""render_policy: errors name the template/variable/line; escaping; named values; one-variable diffs."""

from __future__ import annotations

import difflib
import json
from typing import Any

import pytest

from orchestrator.errors import RenderError
from orchestrator.render import NamedValueRef, named_value_references, parse_policy, render_policy
from orchestrator.render.policy import check_policy_xml, check_template_source
from orchestrator.resource import UNKNOWN, Secret
from tests.orchestrator.render.cases import MCP_API_ENTRA, MCP_URL, PRM


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(old line, new line) pairs of a line-for-line replacement; fails on insertions/deletions."""
    pairs: list[tuple[str, str]] = []
    old, new = before.splitlines(), after.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        assert tag == "replace", (tag, old[i1:i2], new[j1:j2])
        assert i2 - i1 == j2 - j1, (old[i1:i2], new[j1:j2])
        pairs.extend(zip(old[i1:i2], new[j1:j2], strict=True))
    return pairs


# --- errors ------------------------------------------------------------------------------------


def test_unknown_template() -> None:
    with pytest.raises(
        RenderError,
        match=r"'nope' does not exist \(known templates: entra-metadata, gateway-mcp-api, gateway-metadata, gateway-oauth, mcp-api-entra, prm",
    ):
        render_policy("nope", {})


def test_missing_variable_names_it_and_the_template_line() -> None:
    variables = {k: v for k, v in PRM.items() if k != "resource_name"}
    with pytest.raises(RenderError) as info:
        render_policy("prm", variables)
    message = info.value.message
    assert "'prm'" in message
    assert "'resource_name' is undefined" in message
    assert "line " in message


def test_missing_variable_inside_a_macro_is_reported() -> None:
    variables = {k: v for k, v in MCP_API_ENTRA.items() if k != "resource_metadata_url"}
    with pytest.raises(RenderError, match=r"'mcp-api-entra' line \d+ .*'resource_metadata_url' is undefined"):
        render_policy("mcp-api-entra", variables)


def test_none_means_not_given() -> None:
    without = render_policy("mcp-api-entra", {**MCP_API_ENTRA, "identifier_uri": None})
    assert MCP_URL + "</audience>" not in without
    with pytest.raises(RenderError, match="'resource_name' is undefined"):
        render_policy("prm", {**PRM, "resource_name": None})


def test_unexpected_variable_is_refused() -> None:
    with pytest.raises(RenderError, match=r"does not take variable\(s\) 'identifer_uri'"):
        render_policy("mcp-api-entra", {**MCP_API_ENTRA, "identifer_uri": MCP_URL})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("resource_name", "a {{Secret}} name", r"variable 'resource_name' contains '\{\{' or '\}\}'"),
        ("resource_name", "tail }}", r"variable 'resource_name' contains"),
        ("scopes_supported", ["ok", "x{{y"], r"variable 'scopes_supported\[1\]' contains '\{\{'"),
        ("resource_name", "@(context.Request.Url)", r"'resource_name' starts with '@\(' or '@\{'"),
        ("resource_name", "@{return 1;}", r"'resource_name' starts with"),
        ("resource_name", "two\nlines", r"'resource_name' contains a control character"),
        ("resource_name", Secret("hunter2"), r"'resource_name' is a secret"),
        ("resource_name", object(), r"'resource_name' has unsupported type object"),
        ("scopes_supported", ["a", None], r"'scopes_supported\[1\]' is null"),
    ],
)
def test_values_apim_would_misread_are_refused_by_name(variable: str, value: Any, message: str) -> None:
    with pytest.raises(RenderError, match=message) as info:
        render_policy("prm", {**PRM, variable: value})
    assert "hunter2" not in info.value.message


@pytest.mark.parametrize(
    ("template", "variable", "value", "message"),
    [
        ("prm", "scopes_supported", ["offline_access"], "'offline_access' must never be advertised"),
        ("prm", "scopes_supported", ["two words"], "not a valid OAuth scope"),
        ("prm", "authorization_servers", [], "must not be empty"),
        ("prm", "authorization_servers", ["login.example/v2.0"], "not an absolute http"),
        ("prm", "resource", "https://h/mcp#frag", "must not have a fragment"),
        ("prm", "resource", "/mcp", "not an absolute http"),
        (
            "mcp-api-entra",
            "resource_metadata_url",
            "/.well-known/oauth-protected-resource",
            "not an absolute",
        ),
        ("mcp-api-entra", "scope", "api://x/two words", "not a valid OAuth scope"),
        ("mcp-api-entra", "scope", "offline_access", "must never be advertised"),
        ("mcp-api-entra", "scope", NamedValueRef("McpScope"), "cannot derive the 'scp' claim"),
        ("mcp-api-entra", "identifier_uri", "not a url", "not an absolute URI"),
    ],
)
def test_template_checks_name_the_line(template: str, variable: str, value: Any, message: str) -> None:
    base = PRM if template == "prm" else MCP_API_ENTRA
    with pytest.raises(RenderError, match=rf"'{template}' line \d+ \(.*\): .*{message}"):
        render_policy(template, {**base, variable: value})


def test_jinja_looking_named_value_in_a_template_is_refused() -> None:
    source = "<policies>\n  <inbound>{{ tenant_id }}</inbound>\n</policies>\n"
    with pytest.raises(RenderError, match=r"'t' line 2: '\{\{ tenant_id \}\}' is not an APIM named value"):
        check_template_source("t", source)
    check_template_source("t", "<policies>{{McpTenantId}}</policies>")  # a real named value is fine


def test_malformed_output_names_the_output_line() -> None:
    with pytest.raises(
        RenderError, match=r"'t' rendered malformed XML at output line 2: .*\(line: <a b=\"1\"\"/>\)"
    ):
        check_policy_xml("t", '<policies>\n<a b="1""/>\n</policies>')
    with pytest.raises(RenderError, match="root must be <policies>"):
        check_policy_xml("t", "<policy/>")


def test_entities_are_not_expanded() -> None:
    xml = '<!DOCTYPE p [<!ENTITY x "boom">]><policies>&x;</policies>'
    root = parse_policy(xml)
    assert "boom" not in (root.text or "")


# --- escaping ----------------------------------------------------------------------------------

NASTY = "a<b>&c \"quoted\" 'single' \\back é ✓"


def test_json_body_is_json_escaped_then_xml_escaped() -> None:
    variables = {**PRM, "resource_name": NASTY, "scopes_supported": ["s1", "api://x/s2"]}
    xml = render_policy("prm", variables)
    body = parse_policy(xml).find("inbound/return-response/set-body")
    assert body is not None
    assert body.text is not None
    document = json.loads(body.text)  # what APIM sends after its XML parse
    assert document == {
        "resource": PRM["resource"],
        "authorization_servers": PRM["authorization_servers"],
        "scopes_supported": ["s1", "api://x/s2"],
        "bearer_methods_supported": ["header"],
        "resource_name": NASTY,
    }
    assert list(document) == [
        "resource",
        "authorization_servers",
        "scopes_supported",
        "bearer_methods_supported",
        "resource_name",
    ]


def test_resource_is_byte_identical() -> None:
    for resource in ("https://h.example/mcp", "https://h.example/mcp/", "https://h.example:8443/a/b?x=1&y=2"):
        xml = render_policy("prm", {**PRM, "resource": resource})
        body = parse_policy(xml).find("inbound/return-response/set-body")
        assert body is not None
        assert body.text is not None
        assert json.loads(body.text)["resource"] == resource


def test_header_values_are_quoted_string_and_xml_escaped() -> None:
    url = 'https://h.example/.well-known/oauth-protected-resource/mcp?a=1&b="2"'
    xml = render_policy("mcp-api-entra", {**MCP_API_ENTRA, "resource_metadata_url": url})
    assert "&amp;b=\\&#34;2\\&#34;" in xml  # quoted-string escape, then XML escape
    values = [v.text for v in parse_policy(xml).iter("value") if v.text and v.text.startswith("Bearer")]
    assert len(values) == 3
    for value in values:
        assert (
            'resource_metadata="https://h.example/.well-known/oauth-protected-resource/mcp?a=1&b=\\"2\\""'
            in value
        )


def test_attribute_values_are_xml_escaped() -> None:
    xml = render_policy("mcp-api-entra", {**MCP_API_ENTRA, "tenant_id": 'x"><inbound a="&'})
    tokens = list(parse_policy(xml).iter("validate-azure-ad-token"))
    assert [t.get("tenant-id") for t in tokens] == ['x"><inbound a="&', 'x"><inbound a="&']


def test_csharp_expressions_are_written_as_is() -> None:
    xml = render_policy("mcp-api-entra", MCP_API_ENTRA)
    conditions = [w.get("condition") for w in parse_policy(xml).iter("when")]
    assert conditions == [
        '@(!context.Request.Headers.ContainsKey("Authorization"))',
        "@(context.Response.StatusCode == 403)",
        "@(context.Response.StatusCode == 401)",
    ]


# --- named values ------------------------------------------------------------------------------


def test_named_value_tokens_render_as_apim_references() -> None:
    xml = render_policy("mcp-api-entra", MCP_API_ENTRA)
    assert named_value_references(xml) == {"McpTenantId", "McpClientId"}
    tokens = list(parse_policy(xml).iter("validate-azure-ad-token"))
    assert {t.get("tenant-id") for t in tokens} == {"{{McpTenantId}}"}
    assert xml.count("<audience>{{McpClientId}}</audience>") == 2


def test_named_value_tokens_in_json() -> None:
    xml = render_policy("prm", {**PRM, "authorization_servers": [NamedValueRef("Issuer.v2")]})
    assert '"authorization_servers": ["{{Issuer.v2}}"]' in xml
    assert named_value_references(xml) == {"Issuer.v2"}


def test_plain_values_reference_no_named_value() -> None:
    assert named_value_references(render_policy("prm", PRM)) == set()


@pytest.mark.parametrize("name", ["", "has space", "a{b", "x}", "é", "a" * 257])
def test_invalid_named_value_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid APIM named value name"):
        NamedValueRef(name)


def test_unknown_renders_as_known_after_apply() -> None:
    xml = render_policy("prm", {**PRM, "resource": UNKNOWN})
    assert '"resource": "(known after apply)"' in xml


def test_booleans_and_numbers_render_apim_style() -> None:
    # No template takes a boolean yet: check the environment's finalize directly.
    from orchestrator.render.environment import environment

    template = environment().from_string("[[ a ]] [[ b ]] [[ n ]] [[ {'k': a} | tojson ]]")
    assert template.render(a=True, b=False, n=3) == 'true false 3 {"k": true}'


# --- one variable changes exactly the expected lines -------------------------------------------


def test_changing_the_prm_url_changes_exactly_the_three_challenges() -> None:
    before = render_policy("mcp-api-entra", MCP_API_ENTRA)
    after = render_policy(
        "mcp-api-entra",
        {
            **MCP_API_ENTRA,
            "resource_metadata_url": "https://other.example/.well-known/oauth-protected-resource/mcp",
        },
    )
    pairs = _changed_lines(before, after)
    assert len(pairs) == 3
    for old, new in pairs:
        assert old.strip().startswith("<value>Bearer ")
        assert new == old.replace(
            "https://apim-prmlab-3f9a.azure-api.net/.well-known", "https://other.example/.well-known"
        )


def test_changing_the_scope_changes_challenges_and_the_scp_claim() -> None:
    before = render_policy("mcp-api-entra", MCP_API_ENTRA)
    after = render_policy("mcp-api-entra", {**MCP_API_ENTRA, "scope": f"{MCP_URL}/mcp.read"})
    pairs = _changed_lines(before, after)
    assert len(pairs) == 4
    assert (
        "                    <value>user_impersonate</value>",
        "                    <value>mcp.read</value>",
    ) in pairs


def test_changing_the_tenant_changes_the_two_validations() -> None:
    before = render_policy("mcp-api-entra", MCP_API_ENTRA)
    after = render_policy("mcp-api-entra", {**MCP_API_ENTRA, "tenant_id": NamedValueRef("OtherTenant")})
    pairs = _changed_lines(before, after)
    assert len(pairs) == 2
    assert all(new == old.replace("{{McpTenantId}}", "{{OtherTenant}}") for old, new in pairs)


def test_changing_the_resource_name_changes_only_the_body_line() -> None:
    before = render_policy("prm", PRM)
    after = render_policy("prm", {**PRM, "resource_name": "renamed"})
    pairs = _changed_lines(before, after)
    assert len(pairs) == 1
    assert pairs[0][0].strip().startswith("<set-body>")
    assert pairs[0][1] == pairs[0][0].replace('"prmlab MCP server"', '"renamed"')


def test_api_scheme_identifier_uri_is_accepted() -> None:
    xml = render_policy("mcp-api-entra", {**MCP_API_ENTRA, "identifier_uri": "api://prmlab-mcp"})
    assert xml.count("<audience>api://prmlab-mcp</audience>") == 2


def test_identifier_uri_adds_exactly_two_audience_lines() -> None:
    without = render_policy("mcp-api-entra", {**MCP_API_ENTRA, "identifier_uri": None}).splitlines()
    with_uri = render_policy("mcp-api-entra", MCP_API_ENTRA).splitlines()
    added = [line for line in difflib.ndiff(without, with_uri) if line.startswith(("+ ", "- "))]
    assert added == [f"+                 <audience>{MCP_URL}</audience>"] * 2
