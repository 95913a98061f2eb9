"""Policy XML checks done when a policy is stored through ARM (the PUT-time gate).

``check_policy`` is called by the ARM layer for every policy PUT: it refuses what real APIM
refuses (malformed XML, wrong root or sections, unknown elements/attributes, wrong structure,
a ``{{Name}}`` with no such named value) and whatever the local gateway cannot run (an
element, attribute or C# expression outside the supported subset — see docs/policies.md),
naming the construct and its line; it returns the XML reformatted as APIM stores it.
``check_fragment`` does the same for a policy fragment (``<fragment>...</fragment>``). The
gateway registers this module as ``EmulatorContext.policy_checker`` (ARM does not import it).

``named_values`` may be the names only (a collection), or a mapping name -> value: with
values, expressions that come from named values are checked too; with names only, each
``{{Name}}`` is checked as a neutral placeholder.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from lxml import etree

from emulator.context import PolicyRejectedError
from emulator.gateway.errors import PolicyCompileError
from emulator.gateway.policy import NAMED_VALUE, Missing, Parsed, compile_root, parse_source, substitute
from emulator.gateway.source import TagSource

_PLACEHOLDER = "1"


def named_value_references(xml: str) -> set[str]:
    return {m.group(1) for m in NAMED_VALUE.finditer(xml)}


def _resolver(named_values: Collection[str]) -> dict[str, str]:
    if isinstance(named_values, Mapping):
        return {str(k).lower(): str(v) for k, v in named_values.items()}
    return {str(n).lower(): _PLACEHOLDER for n in named_values}


def _refuse(exc: PolicyCompileError) -> PolicyRejectedError:
    return PolicyRejectedError("ValidationError", exc.apim_message())


def _parse(xml: str) -> Parsed:
    try:
        return parse_source(xml)
    except PolicyCompileError as exc:
        raise _refuse(exc) from exc


def _missing_named_value(positions: Mapping[etree._Element, TagSource]) -> Missing:
    """The ``missing`` hook of ``substitute``: refuses, naming the element and where the
    reference stands (APIM refuses a policy referencing a named value that does not exist)."""

    def missing(name: str, el: etree._Element, attr: str | None, offset: int) -> None:
        t = positions.get(el)
        line, column = (t.line, t.column) if t is not None else (0, 0)
        span = None if t is None else (t.text if attr is None else t.attrs.get(attr))
        if span is not None:
            line, column = span.position(offset)
        element = el.tag if isinstance(el.tag, str) else "policies"
        raise PolicyRejectedError(
            "ValidationError",
            PolicyCompileError(
                element,
                line,
                f"Cannot find a property '{name}'. A named value referenced by the policy does not exist.",
                column,
            ).apim_message(),
        )

    return missing


def _prepared(
    parsed: Parsed, values: dict[str, str]
) -> tuple[etree._Element, dict[etree._Element, TagSource]]:
    """A copy of the document with named values substituted, and where its elements stand."""
    work = etree.fromstring(etree.tostring(parsed.root))
    positions = parsed.positions(work)
    substitute(work, values, _missing_named_value(positions))
    return work, positions


def _compile(
    root: etree._Element, positions: Mapping[etree._Element, TagSource], any_section: bool, scope: str = ""
) -> None:
    try:
        compile_root(root, None, any_section=any_section, positions=positions, scope=scope)
    except PolicyCompileError as exc:
        raise _refuse(exc) from exc
    except RecursionError as exc:  # bounded by MAX_DEPTH; a last resort, placed at the root
        first = next(iter(positions.values()), None)
        raise _refuse(
            PolicyCompileError(
                "policies",
                first.line if first else 1,
                "The policy is nested too deeply for the local gateway.",
                first.column if first else 1,
            )
        ) from exc


def _reformat(root: etree._Element) -> str:
    """Indented with tabs as APIM shows a stored policy — except the content of ``set-body``,
    which is the body itself (a SOAP envelope, a Liquid template): kept as written."""
    kept = [
        (el, el.text, [(d, d.text, d.tail) for d in el.iterdescendants()])
        for el in root.iter("set-body")
        if len(el)
    ]
    etree.indent(root, space="\t")
    for el, text, inner in kept:
        el.text = text
        for d, d_text, d_tail in inner:
            d.text, d.tail = d_text, d_tail
    return etree.tostring(root, encoding="unicode")


def _document(xml: str, root_tag: str) -> Parsed:
    """The parsed document; its root must be ``root_tag``."""
    parsed = _parse(xml)
    root = parsed.root
    if root.tag != root_tag:
        t = parsed.tags[0] if parsed.tags else None
        raise _refuse(
            PolicyCompileError(
                str(root.tag),
                t.line if t else 1,
                f"Root element must be '{root_tag}', found '{root.tag}'.",
                t.column if t else 1,
            )
        )
    return parsed


def check_policy(xml: str, named_values: Collection[str], scope: str = "") -> str:
    """Validate a policy document; return it as APIM stores it, or raise ``PolicyRejectedError``.
    ``scope`` (``global``, ``product``, ``api``, ``operation``; "" unknown) is where it is stored:
    an element APIM allows only at some scopes is refused elsewhere (``Compiler.in_scope``)."""
    parsed = _document(xml, "policies")
    work, positions = _prepared(parsed, _resolver(named_values))
    _compile(work, positions, any_section=False, scope=scope)
    return _reformat(parsed.root)


def check_fragment(xml: str, named_values: Collection[str]) -> str:
    """Validate a policy fragment (``<fragment>`` root); return it reformatted."""
    parsed = _document(xml, "fragment")
    root = parsed.root
    if root.attrib:
        t = parsed.tags[0]
        raise _refuse(
            PolicyCompileError(
                "fragment",
                t.line,
                f"The attribute '{next(iter(root.attrib))!s}' is not valid on 'fragment'.",
                t.column,
            )
        )
    work, positions = _prepared(parsed, _resolver(named_values))
    # a fragment's children are checked as if they were in a section; the section they land in
    # is only known when a policy includes the fragment
    wrapper = etree.Element("policies")
    section = etree.SubElement(wrapper, "inbound")
    section.text = work.text
    for child in list(work):
        section.append(child)
    _compile(wrapper, positions, any_section=True)
    return _reformat(root)
