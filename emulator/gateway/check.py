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

import re
from collections.abc import Collection, Mapping

from lxml import etree

from emulator.context import PolicyRejectedError
from emulator.gateway.elements import line_of
from emulator.gateway.errors import PolicyCompileError
from emulator.gateway.policy import compile_root, parse_xml, substitute

_NAMED_VALUE = re.compile(r"\{\{([^{}]+)\}\}")
_PLACEHOLDER = "1"


def named_value_references(xml: str) -> set[str]:
    return {m.group(1).strip() for m in _NAMED_VALUE.finditer(xml)}


def _resolver(named_values: Collection[str]) -> dict[str, str]:
    if isinstance(named_values, Mapping):
        return {str(k).lower(): str(v) for k, v in named_values.items()}
    return {str(n).lower(): _PLACEHOLDER for n in named_values}


def _check_names(xml: str, values: dict[str, str]) -> None:
    for name in sorted(named_value_references(xml)):
        if name.lower() not in values:
            raise PolicyRejectedError(
                "ValidationError",
                f"Cannot find a property '{name}'. A named value referenced by the policy does not exist.",
            )


def _parse(xml: str) -> etree._Element:
    try:
        return parse_xml(xml)
    except PolicyCompileError as exc:
        raise PolicyRejectedError("ValidationError", f"{exc.message} Line {exc.line}.") from exc


def _compile(root: etree._Element, values: dict[str, str], any_section: bool) -> None:
    work = etree.fromstring(etree.tostring(root))
    substitute(work, lambda name: values.get(name.lower(), _PLACEHOLDER))
    try:
        compile_root(work, None, any_section=any_section)
    except PolicyCompileError as exc:
        raise PolicyRejectedError("ValidationError", exc.apim_message()) from exc
    except RecursionError as exc:
        raise PolicyRejectedError("ValidationError", "The policy is nested too deeply.") from exc


def _reformat(root: etree._Element) -> str:
    etree.indent(root, space="\t")
    return etree.tostring(root, encoding="unicode")


def _document(
    xml: str, named_values: Collection[str], root_tag: str
) -> tuple[etree._Element, dict[str, str]]:
    """The parsed document (its root must be ``root_tag``) and the named values it may use."""
    values = _resolver(named_values)
    _check_names(xml, values)
    root = _parse(xml)
    if root.tag != root_tag:
        raise PolicyRejectedError(
            "ValidationError",
            f"Root element must be '{root_tag}', found '{root.tag}' (line {line_of(root)}).",
        )
    return root, values


def check_policy(xml: str, named_values: Collection[str]) -> str:
    """Validate a policy document; return it as APIM stores it, or raise ``PolicyRejectedError``."""
    root, values = _document(xml, named_values, "policies")
    _compile(root, values, any_section=False)
    return _reformat(root)


def check_fragment(xml: str, named_values: Collection[str]) -> str:
    """Validate a policy fragment (``<fragment>`` root); return it reformatted."""
    root, values = _document(xml, named_values, "fragment")
    if root.attrib:
        raise PolicyRejectedError(
            "ValidationError", f"The attribute '{next(iter(root.attrib))!s}' is not valid on 'fragment'."
        )
    wrapper = etree.Element("policies")
    section = etree.SubElement(wrapper, "inbound")
    section.append(etree.fromstring(etree.tostring(root)))
    # a fragment's children are checked as if they were in a section; the section they land in
    # is only known when a policy includes the fragment
    inner = section[0]
    section.remove(inner)
    section.text = inner.text
    for child in list(inner):
        section.append(child)
    _compile(wrapper, values, any_section=True)
    return _reformat(root)
