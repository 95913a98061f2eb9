"""Policy documents: XML -> checked, compiled sections; composition of scopes through <base/>.

``compile_document`` parses a stored policy (``<policies>`` with ``inbound``/``backend``/
``outbound``/``on-error``), substitutes named values (``{{Name}}``, secrets included, in
attribute values and text, as APIM does) and compiles every element (``elements``).
``compose`` builds the effective pipeline of an operation from the global, API and
operation documents, replacing each ``<base/>`` with the enclosing scope's section.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from emulator.gateway.elements import BaseStep, ChooseStep, Compiler, Step, is_element, line_of, tag
from emulator.gateway.errors import PolicyCompileError
from emulator.gateway.rawxml import escape_expressions

SECTION_NAMES = ("inbound", "backend", "outbound", "on-error")
NAMED_VALUE = re.compile(r"\{\{([^{}]+)\}\}")
MAX_ELEMENTS = 5_000
MAX_DEPTH = 40


@dataclass(frozen=True)
class PolicyDocument:
    sections: Mapping[str, Sequence[Step]]


@dataclass(frozen=True)
class Pipeline:
    inbound: Sequence[Step]
    backend: Sequence[Step]
    outbound: Sequence[Step]
    on_error: Sequence[Step]
    uses_request_body: bool
    uses_response_body: bool


def parse_xml(xml: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=False, huge_tree=False)
    try:
        root = etree.fromstring(escape_expressions(xml).encode("utf-8", errors="surrogatepass"), parser)
    except etree.XMLSyntaxError as exc:
        raise PolicyCompileError(
            "policies", exc.lineno or 0, f"'{exc.msg}' (position {exc.offset})."
        ) from exc
    except ValueError as exc:
        raise PolicyCompileError("policies", 0, f"The policy is not valid XML: {exc}.") from exc
    for count, _el in enumerate(root.iter(), start=1):
        if count > MAX_ELEMENTS:
            raise PolicyCompileError(
                "policies", 0, "The policy has more elements than the local gateway allows."
            )
    _check_depth(root)
    return root


def _check_depth(root: etree._Element) -> None:
    stack: list[tuple[etree._Element, int]] = [(root, 0)]
    while stack:
        el, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PolicyCompileError(tag(el), line_of(el), "Elements are nested too deeply.")
        stack.extend((child, depth + 1) for child in el)


def substitute(root: etree._Element, resolve: Callable[[str], str]) -> None:
    """Replace ``{{Name}}`` in attribute values and text of every element (in place)."""

    def sub(text: str) -> str:
        return NAMED_VALUE.sub(lambda m: resolve(m.group(1).strip()), text)

    for el in root.iter():
        for name, value in list(el.attrib.items()):
            text = value if isinstance(value, str) else value.decode()
            if "{{" in text:
                el.set(name, sub(text))
        if el.text and "{{" in el.text:
            el.text = sub(el.text)
        if el.tail and "{{" in el.tail:
            el.tail = sub(el.tail)


def compile_root(
    root: etree._Element, fragments: Mapping[str, etree._Element] | None, any_section: bool = False
) -> PolicyDocument:
    if root.tag != "policies":
        raise PolicyCompileError(
            tag(root), line_of(root), f"Root element must be 'policies', found '{tag(root)}'."
        )
    if root.attrib:
        raise PolicyCompileError(
            "policies",
            line_of(root),
            f"The attribute '{next(iter(root.attrib))!s}' is not valid on 'policies'.",
        )
    sections: dict[str, list[Step]] = {}
    for child in root:
        if not is_element(child):
            continue
        name = tag(child)
        if name not in SECTION_NAMES:
            raise PolicyCompileError(
                name,
                line_of(child),
                f"Unknown section '{name}'; a policy has only inbound, backend, outbound and on-error.",
            )
        if name in sections:
            raise PolicyCompileError(name, line_of(child), f"The section '{name}' appears more than once.")
        if child.attrib:
            raise PolicyCompileError(
                name,
                line_of(child),
                f"The attribute '{next(iter(child.attrib))!s}' is not valid on '{name}'.",
            )
        compiler = Compiler(dict(fragments or {}), "*" if any_section else name)
        compiler.skip_fragments = fragments is None
        steps = compiler.steps(child)
        bases = [s for s in steps if isinstance(s, BaseStep)]
        if len(bases) > 1:
            raise PolicyCompileError("base", bases[1].line, "'base' can appear only once in a section.")
        _no_nested_base(steps)
        sections[name] = steps
    if root.text and root.text.strip():
        raise PolicyCompileError("policies", line_of(root), "Unexpected text inside 'policies'.")
    return PolicyDocument(sections)


def _no_nested_base(steps: Sequence[Step]) -> None:
    for s in steps:
        if isinstance(s, ChooseStep):
            for _, branch in s.branches:
                _nested(branch)
            _nested(s.otherwise)


def _nested(steps: Sequence[Step]) -> None:
    for s in steps:
        if isinstance(s, BaseStep):
            raise PolicyCompileError("base", s.line, "'base' must be a direct child of a section.")
    _no_nested_base(steps)


def compile_document(
    xml: str, named_values: Mapping[str, str], fragments: Mapping[str, str]
) -> PolicyDocument:
    """Compile a stored policy with the service's named values and fragments (by id)."""
    lower = {k.lower(): v for k, v in named_values.items()}

    def resolve(name: str) -> str:
        if name.lower() not in lower:
            raise PolicyCompileError(
                "policies",
                0,
                f"Cannot find a property '{name}'. A named value referenced by the policy does not exist.",
            )
        return lower[name.lower()]

    root = parse_xml(xml)
    substitute(root, resolve)
    frags: dict[str, etree._Element] = {}
    for fid, text in fragments.items():
        try:
            froot = parse_xml(text)
        except PolicyCompileError:
            continue
        substitute(froot, lambda n: lower.get(n.lower(), ""))
        frags[fid.lower()] = froot
    return compile_root(root, frags)


def compose(documents: Sequence[PolicyDocument | None]) -> Pipeline:
    """Effective pipeline; ``documents`` from the outermost scope (global) to the innermost."""

    def expand(section: str, index: int) -> list[Step]:
        if index < 0:
            return []
        doc = documents[index]
        if doc is None:
            return expand(section, index - 1)
        steps = doc.sections.get(section)
        if steps is None:
            return expand(section, index - 1)
        out: list[Step] = []
        for s in steps:
            if isinstance(s, BaseStep):
                out.extend(expand(section, index - 1))
            else:
                out.append(s)
        return out

    last = len(documents) - 1
    inbound, backend = expand("inbound", last), expand("backend", last)
    outbound, on_error = expand("outbound", last), expand("on-error", last)
    req_body = any(s.uses_request_body for s in (*inbound, *backend, *outbound, *on_error))
    resp_body = any(s.uses_response_body for s in (*outbound, *on_error))
    return Pipeline(inbound, backend, outbound, on_error, req_body, resp_body)


DEFAULT_GLOBAL_XML = (
    "<policies><inbound /><backend><forward-request /></backend><outbound /><on-error /></policies>"
)


def default_global() -> PolicyDocument:
    """APIM's global policy when none was stored: forward every request to the backend."""
    return compile_root(parse_xml(DEFAULT_GLOBAL_XML), {})
