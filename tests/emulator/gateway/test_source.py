"""Positions in the policy as written (``emulator.gateway.source``) and the refusals that use
them: every PUT-time refusal names the element and the line and column of the document the
user sent — counted from the file's first line (an XML declaration and comments before the
root count), unshifted by earlier multi-line attributes, and inside a multi-line expression the
line and column of the offending token. Also: attribute values keep their line structure, so a
``//`` comment in a multi-line ``@{...}`` ends at its line."""

from __future__ import annotations

import pytest

from emulator.context import PolicyRejectedError
from emulator.gateway.check import check_fragment, check_policy
from emulator.gateway.policy import compile_document, parse_source
from emulator.gateway.source import Lines, Where, scan

PROLOG = '<?xml version="1.0" encoding="utf-8"?>\n<!--\n  A policy with a preamble.\n-->\n'
MULTI = (
    '    <set-variable name="m" value="@{\n'
    "        var a = 1; // a comment: \" < & '\n"
    "        return a;\n"
    '    }" />\n'
)


def test_lines_count_crlf_and_cr_as_one_break() -> None:
    lines = Lines.of("a\r\nb\rc\nd")
    assert [lines.at(i) for i in (0, 3, 5, 7)] == [(1, 1), (2, 1), (3, 1), (4, 1)]


def test_scan_finds_each_start_tag_where_it_is_written() -> None:
    xml = PROLOG + "<policies>\n  <inbound>\n" + MULTI + "    <bogus a='1'/>\n  </inbound>\n</policies>"
    tags = scan(xml)
    assert [(t.name, t.line, t.column) for t in tags] == [
        ("policies", 5, 1),
        ("inbound", 6, 3),
        ("set-variable", 7, 5),
        ("bogus", 11, 5),
    ]
    value = tags[2].attrs["value"]
    assert value.text.startswith("@{\n        var a = 1; // a comment")  # newlines kept
    assert value.position(0) == (7, 35)
    assert value.position(value.text.index("return")) == (9, 9)
    assert tags[3].attrs["a"].position(0) == (11, 15)


def test_scan_decodes_entities_and_cdata_and_keeps_their_positions() -> None:
    xml = "<policies><inbound><set-body>a &amp; b<![CDATA[<x>]]>c</set-body></inbound></policies>"
    body = scan(xml)[2].text
    assert body is not None
    assert body.text == "a & b<x>c"
    assert body.position(body.text.index("b")) == (1, 38)
    assert body.position(body.text.index("<x>")) == (1, 48)


def test_where_counts_from_its_start_when_the_text_changed() -> None:
    where = Where(3, 10)
    assert where.at("abc", 2) == (3, 12)
    assert where.at("a\nbc", 3) == (4, 2)


def test_attribute_values_keep_their_lines_through_storage() -> None:
    xml = f"<policies>\n<inbound>\n{MULTI}</inbound>\n</policies>"
    stored = check_policy(xml, [])
    assert "&#10;" in stored  # the stored document keeps the line structure
    value = parse_source(stored).root[0][0].get("value")
    assert value == "@{\n        var a = 1; // a comment: \" < & '\n        return a;\n    }"
    step = compile_document(stored, {}, {}).sections["inbound"][0]
    assert step.value.expr is not None  # type: ignore[attr-defined]


def _refusal(xml: str, *, fragment: bool = False, names: tuple[str, ...] = ()) -> str:
    with pytest.raises(PolicyRejectedError) as info:
        (check_fragment if fragment else check_policy)(xml, list(names))
    return info.value.message


def _doc(*inbound: str) -> str:
    return PROLOG + "<policies>\n  <inbound>\n" + "".join(inbound) + "  </inbound>\n</policies>"


@pytest.mark.parametrize(
    ("xml", "where"),
    [
        # an unknown element after the prolog and a multi-line attribute
        (_doc(MULTI, "    <bogus />\n"), "element 'bogus' on line 11, column 5:"),
        # an unknown attribute on an element whose start tag spans lines
        (
            _doc(MULTI, '    <set-header\n        name="a"\n        nope="1" />\n'),
            "element 'set-header' on line 11, column 5:",
        ),
        # an expression error on the expression's third line: the token's own line and column
        (
            _doc(
                '    <set-variable name="x" value="@{\n        var a = 1;\n        return nope;\n    }" />\n'
            ),
            "element 'set-variable' on line 9, column 16:",
        ),
        # ... and after an earlier multi-line attribute
        (
            _doc(MULTI, '    <set-variable name="y" value="@(context.Request.Nope)" />\n'),
            "element 'set-variable' on line 11, column 53:",
        ),
        # an expression in element text, after entities on the same line
        (
            _doc("    <set-body>@(true &amp;&amp; nope)</set-body>\n"),
            "element 'set-body' on line 7, column 33:",
        ),
        # a named value that does not exist, in an attribute and in a text
        (
            _doc(MULTI, '    <set-header name="h{{Missing}}" exists-action="override" />\n'),
            "element 'set-header' on line 11, column 24:",
        ),
        (
            _doc('    <set-header name="h">\n      <value>a {{Missing}}</value>\n    </set-header>\n'),
            "element 'value' on line 8, column 16:",
        ),
        # a policy in the wrong section, a root that is not 'policies', malformed XML
        (_doc(MULTI, "    <forward-request />\n"), "element 'forward-request' on line 11, column 5:"),
        (PROLOG + "\n<policy />", "element 'policy' on line 6, column 1:"),
        (_doc("    <set-header name='a'>\n"), "element 'policies' on line 8, column 13:"),
        # a <base /> nested where it may not be
        (
            _doc(
                '    <choose>\n      <when condition="@(true)">\n        <base />\n      </when>\n    </choose>\n'
            ),
            "element 'base' on line 9, column 9:",
        ),
    ],
)
def test_refusals_name_the_line_and_column_as_written(xml: str, where: str) -> None:
    assert f"Error in {where}" in _refusal(xml)


def test_fragment_refusals_count_from_the_fragments_first_line() -> None:
    xml = (
        "<!-- fragment -->\n<fragment>\n"
        + MULTI
        + "    <set-header name='a'><value>@(nope)</value></set-header>\n</fragment>"
    )
    assert "Error in element 'value' on line 7, column 35:" in _refusal(xml, fragment=True)


def test_text_that_is_not_a_named_value_reference_is_left_as_written() -> None:
    # display names are letters, digits, '.', '-' and '_' only: anything else is plain text
    for text in ("{{ spaced }}", '{{context.Request.Headers["a"]}}', "{{a b}}", "{{}}"):
        stored = check_policy(_doc(f'    <set-header name="h"><value>{text}</value></set-header>\n'), [])
        assert text.replace('"', "&quot;") in stored or text in stored
