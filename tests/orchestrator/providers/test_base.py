"""Pure helpers of the providers: XML canonicalisation, owned-field diff, references, digests."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from orchestrator.providers.base import (
    canonical_xml,
    description_owned,
    diff_owned,
    digest_matches,
    find_digest,
    secret_digest_tag,
    strip_mark,
    subset_equal,
    with_mark,
    xml_equal,
)
from orchestrator.resolve import substitute
from orchestrator.resource import UNKNOWN, FieldChange, Secret

POLICY = '<policies><inbound><base /><set-header name="A" exists-action="override"><value>x</value></set-header></inbound></policies>'

XML_EQUAL = [
    (
        "attribute order",
        POLICY,
        POLICY.replace('name="A" exists-action="override"', 'exists-action="override" name="A"'),
    ),
    ("self-closing vs empty", POLICY, POLICY.replace("<base />", "<base></base>")),
    (
        "indentation",
        POLICY,
        POLICY.replace("<inbound>", "\n\t<inbound>\n\t\t").replace("</policies>", "\n</policies>"),
    ),
    ("quote style", POLICY, POLICY.replace('name="A"', "name='A'")),
    ("character reference", "<a><b>x&gt;y</b></a>", "<a><b>x&#62;y</b></a>"),
    ("text whitespace runs", "<a><b>one  two</b></a>", "<a><b>\n  one two\n</b></a>"),
    ("xml declaration", "<a/>", '<?xml version="1.0" encoding="utf-8"?>\n<a/>'),
    (
        # a multi-line expression as the template writes it vs as APIM's rawxml answers it
        "newlines in an attribute value, literal vs &#10;",
        '<a><b value="@{\n    var x = 1;\n    return x;\n}" /></a>',
        '<a><b value="@{&#10;    var x = 1;&#10;    return x;&#10;}"/></a>',
    ),
]

XML_DIFFERENT = [
    ("attribute value", POLICY, POLICY.replace('name="A"', 'name="B"')),
    ("attribute value's words", '<a b="@{ return 1; }"/>', '<a b="@{&#10;return 2;&#10;}"/>'),
    ("element missing", POLICY, POLICY.replace("<base />", "")),
    ("text", POLICY, POLICY.replace("<value>x</value>", "<value>y</value>")),
    ("comment", "<a><!-- one --></a>", "<a><!-- two --></a>"),
    ("named value", "<a>{{McpClientId}}</a>", "<a>{{McpTenantId}}</a>"),
    ("not xml", "<a>", "<a></a>"),
]


@pytest.mark.parametrize(("why", "left", "right"), XML_EQUAL, ids=[c[0] for c in XML_EQUAL])
def test_xml_equal_ignores_what_apim_rewrites(why: str, left: str, right: str) -> None:
    assert xml_equal(left, right), why
    assert canonical_xml(left) == canonical_xml(right)


@pytest.mark.parametrize(("why", "left", "right"), XML_DIFFERENT, ids=[c[0] for c in XML_DIFFERENT])
def test_xml_equal_sees_real_changes(why: str, left: str, right: str) -> None:
    assert not xml_equal(left, right), why


SUBSET = [
    ("server-only key ignored", {"a": 1}, {"a": 1, "b": 2}, True),
    ("missing key", {"a": 1}, {"b": 2}, False),
    ("nested server defaults", {"x": {"y": 1}}, {"x": {"y": 1, "z": 3}}, True),
    ("list items subset", [{"n": "a"}], [{"n": "a", "extra": 1}], True),
    ("list length differs", [{"n": "a"}], [{"n": "a"}, {"n": "b"}], False),
    ("list order matters", ["a", "b"], ["b", "a"], False),
    ("empty list vs absent", [], None, True),
    ("false vs absent", False, None, True),
    ("true vs absent", True, None, False),
    ("int vs float", 1, 1.0, True),
    (
        "arm ids case-insensitive",
        "/subscriptions/S/resourceGroups/RG",
        "/subscriptions/s/resourcegroups/rg",
        True,
    ),
    ("other strings case-sensitive", "Abc", "abc", False),
    ("secret equal", Secret("v"), Secret("v"), True),
    ("secret differs", Secret("v"), Secret("w"), False),
]


@pytest.mark.parametrize(("why", "want", "have", "equal"), SUBSET, ids=[c[0] for c in SUBSET])
def test_subset_equal(why: str, want: Any, have: Any, equal: bool) -> None:
    assert subset_equal(want, have) is equal, why


def test_diff_owned_compares_only_desired_paths() -> None:
    desired = {"@rg": "rg", "a": 1, "b.c": "x"}
    actual = {"@rg": "other", "a": 1, "b.c": "x", "server.default": 7}
    assert diff_owned(desired, actual) == ()


def test_diff_owned_reports_changes_unknown_and_replacement() -> None:
    desired = {"a": 2, "b": UNKNOWN, "location": "westeurope"}
    actual = {"a": 1, "b": "old", "location": "ukwest"}
    changes = diff_owned(desired, actual, replace=("location",))
    assert changes == (
        FieldChange("a", 1, 2),
        FieldChange("b", "old", UNKNOWN),
        FieldChange("location", "ukwest", "westeurope", forces_replacement=True),
    )
    assert str(changes[1].new) == "(known after apply)"


def test_diff_owned_uses_path_comparators() -> None:
    desired = {"properties.value": POLICY}
    actual = {"properties.value": POLICY.replace("<base />", "<base></base>")}
    assert diff_owned(desired, actual) != ()
    assert diff_owned(desired, actual, compare={"properties.value": xml_equal}) == ()


REFS: dict[str, Any] = {
    "entra.apps.mcp.client_id": "cid",
    "monitoring.app_insights.connection_string": Secret("k"),
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"ref": "entra.apps.mcp.client_id"}, "cid"),
        ({"ref": "entra.apps.mcp.client_id", "suffix": "/x"}, "cid/x"),
        ({"ref": "server.url", "suffix": "/mcp"}, UNKNOWN),
        ({"ref": "monitoring.app_insights.connection_string", "suffix": ";x"}, Secret("k;x")),
        ({"list": [{"ref": "entra.apps.mcp.client_id"}, "lit"]}, {"list": ["cid", "lit"]}),
        ({"ref": "entra.apps.mcp.client_id", "other": 1}, {"ref": "entra.apps.mcp.client_id", "other": 1}),
        (SecretStr("s3cret"), Secret("s3cret")),
    ],
)
def test_substitute(value: Any, expected: Any) -> None:
    assert substitute(value, REFS) == expected


def test_secret_digest_matches_without_holding_the_value() -> None:
    tag = secret_digest_tag("hunter2")
    assert "hunter2" not in tag
    assert digest_matches(tag, "hunter2")
    assert not digest_matches(tag, "hunter3")
    assert not digest_matches(None, "hunter2")
    assert not digest_matches("prmlab-sha256-", "hunter2")
    assert secret_digest_tag("hunter2") != secret_digest_tag("hunter2")  # salted
    assert find_digest(["prmlab-lab-x", tag]) == tag
    assert find_digest(["prmlab-lab-x"]) is None


def test_description_mark_round_trip() -> None:
    text = with_mark("The MCP server", "lab1")
    assert text == "The MCP server [prmlab-lab:lab1]"
    assert with_mark(text, "lab1") == text
    assert description_owned(text, "lab1")
    assert not description_owned(text, "lab2")
    assert not description_owned(None, "lab1")
    assert strip_mark(text) == "The MCP server"
