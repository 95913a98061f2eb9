"""Diffs a person reads: policy XML laid out alike before the diff, lists and maps per element."""

from __future__ import annotations

from orchestrator.output.plan_text import element_changes, unified
from orchestrator.output.xmltext import normalised_xml
from orchestrator.resource import UNKNOWN

RENDERED = """<policies>
    <inbound>
        <base />
        <validate-azure-ad-token tenant-id="{{McpTenantId}}" failed-validation-httpcode="401">
            <audiences>
                <audience>{{McpClientId}}</audience>
            </audiences>
            <required-claims>
                <claim name="scp" match="any">
                    <value>user_impersonate</value>
                </claim>
            </required-claims>
        </validate-azure-ad-token>
        <set-variable name="x" value="@{
            var a = 1;
            return a.ToString();
        }" />
    </inbound>
    <backend><base /></backend>
    <outbound><base /></outbound>
</policies>"""

# As APIM hands it back: tabs, other line breaks, attributes in another order, empty elements
# written out - and one real change (the scope's value).
STORED = (
    RENDERED.replace("    ", "\t")
    .replace(
        'tenant-id="{{McpTenantId}}" failed-validation-httpcode="401"',
        'failed-validation-httpcode="401" tenant-id="{{McpTenantId}}"',
    )
    .replace("<base />", "<base></base>")
    .replace("user_impersonate", "mcp.read")
)


def test_a_one_word_change_is_one_line_each_way() -> None:
    diff = unified(STORED, RENDERED, "policy", "")
    changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == [
        "-                    <value>mcp.read</value>",
        "+                    <value>user_impersonate</value>",
    ]


def test_without_the_layout_the_same_change_is_a_wall_of_lines() -> None:
    # what the plan showed before (the raw texts): the protection above is what makes it one line
    import difflib

    raw = [
        line
        for line in difflib.unified_diff(STORED.splitlines(), RENDERED.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert len(raw) > 30


def test_layout_keeps_expression_lines_and_refuses_non_xml() -> None:
    laid = normalised_xml(RENDERED)
    assert laid is not None
    assert 'value="@{ var a = 1; return a.ToString(); }"' in laid
    assert normalised_xml("not xml") is None
    assert normalised_xml("<policies><inbound></policies>") is None  # broken: shown as is
    assert normalised_xml(STORED.replace("mcp.read", "user_impersonate")) == laid


def test_lists_are_diffed_per_element() -> None:
    old = ["https://a/cb", "https://b/cb", "https://c/cb"]
    new = ["https://a/cb", "https://c/cb", "https://d/cb"]
    assert element_changes(old, new, "redirect_uris") == [
        '- redirect_uris[1]: "https://b/cb"',
        '+ redirect_uris[2]: "https://d/cb"',
    ]


def test_list_items_changed_in_place_show_the_field_that_changed() -> None:
    old = [{"value": "user_impersonate", "enabled": True}, {"value": "read", "enabled": True}]
    new = [{"value": "user_impersonate", "enabled": True}, {"value": "read", "enabled": False}]
    assert element_changes(old, new, "scopes") == ["~ scopes[1].enabled: true -> false"]


def test_maps_are_diffed_per_key() -> None:
    assert element_changes({"a": 1, "b": 2}, {"b": 3, "c": UNKNOWN}, "tags") == [
        "- tags.a: 1",
        "~ tags.b: 2 -> 3",
        "+ tags.c: (known after apply)",
    ]


def test_a_whitespace_only_difference_is_shown_as_the_texts_are() -> None:
    spaced = RENDERED.replace("var a = 1;", "var  a = 1;")
    diff = unified(RENDERED, spaced, "policy", "")
    assert any("var  a = 1;" in line for line in diff if line.startswith("+"))


def test_a_long_created_list_is_one_element_a_line() -> None:
    from orchestrator.output.plan_text import _attributes

    uris = [f"https://host-{i}.example/oauth/callback" for i in range(4)]
    lines = _attributes({"redirect_uris": uris, "short": ["a"]}, "+")
    assert lines[0].strip() == "+ redirect_uris: ["
    assert [line.strip() for line in lines[1:5]] == [f'"{u}",' for u in uris]
    assert lines[5].strip() == "]"
    assert lines[6].strip() == '+ short: ["a"]'
