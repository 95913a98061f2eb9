"""Policy documents: XML -> checked, compiled sections; composition of scopes through <base/>.

``compile_document`` parses a stored policy (``<policies>`` with ``inbound``/``backend``/
``outbound``/``on-error``), substitutes named values (``{{Name}}``, secrets included, in
attribute values and text, as APIM does) and compiles every element (``elements``).
``compose`` builds the effective pipeline of an operation from the global, product, API and
operation documents (APIM's order; Learn "Policies in Azure API Management", "Scopes"),
replacing each ``<base/>`` with the enclosing scope's section.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from lxml import etree

from emulator.gateway.elements import BaseStep, Compiler, Step, is_element, line_of, tag
from emulator.gateway.errors import PolicyCompileError
from emulator.gateway.rawxml import escape_expressions
from emulator.gateway.source import TagSource, keep_raw_values, locate, scan

SECTION_NAMES = ("inbound", "backend", "outbound", "on-error")
# a named value is referenced by its display name in double braces; a display name "may contain
# only letters, digits, period, dash, and underscore characters" (NamedValueCreateContract-
# Properties.displayName, Azure/azure-rest-api-specs apimnamedvalues.json; Learn "Use named
# values in Azure API Management policies": "place its display name inside a double pair of
# braces like {{ContosoHeader}}"). Other ``{{...}}`` text is not a reference.
NAMED_VALUE = re.compile(r"\{\{([A-Za-z0-9._-]+)\}\}")
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


@dataclass(frozen=True)
class Parsed:
    """A parsed policy document and its start tags as written (``source.scan``)."""

    root: etree._Element
    tags: Sequence[TagSource]

    def positions(self, root: etree._Element | None = None) -> dict[etree._Element, TagSource]:
        """Where each element of ``root`` (this tree or a copy of it) sits in the text."""
        return locate(self.root if root is None else root, self.tags)


def parse_xml(xml: str) -> etree._Element:
    return parse_source(xml).root


def parse_source(xml: str) -> Parsed:
    """Parse with APIM's leniency (``rawxml``); attribute values keep their newlines and tabs
    (the parser folds them to spaces: a ``//`` comment in a multi-line ``@{...}`` would
    swallow the rest of the expression)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=False, huge_tree=False)
    try:
        root = etree.fromstring(escape_expressions(xml).encode("utf-8", errors="surrogatepass"), parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 0, 0)
        reason = re.sub(r", line \d+, column \d+$", "", str(exc.msg)).strip()
        raise PolicyCompileError(
            "policies", line or 1, f"The policy is not well-formed XML: {reason}.", column or 1
        ) from exc
    except ValueError as exc:
        raise PolicyCompileError("policies", 1, f"The policy is not valid XML: {exc}.", 1) from exc
    tags = scan(xml)
    positions = locate(root, tags)
    first = tags[0] if tags else None
    for count, _el in enumerate(root.iter(), start=1):
        if count > MAX_ELEMENTS:
            raise PolicyCompileError(
                tag(root),
                first.line if first else 1,
                f"The policy has more than {MAX_ELEMENTS} elements: more than the local gateway allows.",
                first.column if first else 1,
            )
    _check_depth(root, positions)
    keep_raw_values(positions)
    return Parsed(root, tags)


def _check_depth(root: etree._Element, positions: Mapping[etree._Element, TagSource]) -> None:
    stack: list[tuple[etree._Element, int]] = [(root, 0)]
    while stack:
        el, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Compiler(positions=positions).fail(
                el, f"Elements are nested more than {MAX_DEPTH} deep: more than the local gateway allows."
            )
        stack.extend((child, depth + 1) for child in el)


def in_liquid(el: etree._Element) -> bool:
    """True inside ``<set-body template="liquid">`` (the element or a descendant)."""
    node: etree._Element | None = el
    while node is not None:
        if node.tag == "set-body" and str(node.get("template", "")).lower() == "liquid":
            return True
        node = node.getparent()
    return False


Missing = Callable[[str, etree._Element, str | None, int], None]


def substitute(root: etree._Element, values: Mapping[str, str], missing: Missing | None = None) -> None:
    """Replace ``{{Name}}`` in attribute values, texts and tails (in place).

    ``values`` is keyed by lower-cased display name (APIM matches names case-insensitively).
    Only ``{{...}}`` around a possible display name is a reference (``NAMED_VALUE``); anything
    else (``{{ body.x }}``, ``{{context.Request.Headers["a"]}}``) is text, left as written. A
    reference to no named value is reported to ``missing(name, element, attribute, offset)``
    (``attribute`` None for the text, ``"#tail"`` for the tail) — except inside a Liquid
    ``set-body``, where ``{{name}}`` is Liquid's output tag and stays for the template engine —
    and left as written when ``missing`` returns.
    """

    def sub(text: str, el: etree._Element, attr: str | None) -> str:
        def one(m: re.Match[str]) -> str:
            value = values.get(m.group(1).lower())
            if value is not None:
                return value
            if missing is not None and not in_liquid(el):
                missing(m.group(1), el, attr, m.start())
            return m.group(0)

        return NAMED_VALUE.sub(one, text)

    for el in root.iter():
        if not is_element(el):
            continue
        for name, value in list(el.attrib.items()):
            text = value if isinstance(value, str) else value.decode()
            if "{{" in text:
                el.set(name, sub(text, el, str(name)))
        if el.text and "{{" in el.text:
            el.text = sub(el.text, el, None)
        if el.tail and "{{" in el.tail:
            parent = el.getparent()
            el.tail = sub(el.tail, parent if parent is not None else el, "#tail")


def compile_root(
    root: etree._Element,
    fragments: Mapping[str, etree._Element] | None,
    any_section: bool = False,
    positions: Mapping[etree._Element, TagSource] | None = None,
    scope: str = "",
) -> PolicyDocument:
    where = Compiler(positions=positions)
    if root.tag != "policies":
        raise where.fail(root, f"Root element must be 'policies', found '{tag(root)}'.")
    if root.attrib:
        raise where.fail(root, f"The attribute '{next(iter(root.attrib))!s}' is not valid on 'policies'.")
    sections: dict[str, list[Step]] = {}
    for child in root:
        if not is_element(child):
            continue
        name = tag(child)
        if name not in SECTION_NAMES:
            raise where.fail(
                child, f"Unknown section '{name}'; a policy has only inbound, backend, outbound and on-error."
            )
        if name in sections:
            raise where.fail(child, f"The section '{name}' appears more than once.")
        if child.attrib:
            raise where.fail(child, f"The attribute '{next(iter(child.attrib))!s}' is not valid on '{name}'.")
        compiler = Compiler(dict(fragments or {}), "*" if any_section else name, positions)
        compiler.skip_fragments = fragments is None
        compiler.scope = scope
        steps = compiler.steps(child)
        bases = [s for s in steps if isinstance(s, BaseStep)]
        if len(bases) > 1:
            raise PolicyCompileError(
                "base", bases[1].line, "'base' can appear only once in a section.", bases[1].column
            )
        _no_nested_base(steps)
        sections[name] = steps
    if root.text and root.text.strip():
        raise where.fail(root, "Unexpected text inside 'policies'.")
    return PolicyDocument(sections)


def _no_nested_base(steps: Sequence[Step]) -> None:
    for s in steps:
        for inner in s.nested():
            for n in inner:
                if isinstance(n, BaseStep):
                    raise PolicyCompileError(
                        "base", n.line, "'base' must be a direct child of a section.", n.column
                    )
            _no_nested_base(inner)


def compile_document(
    xml: str, named_values: Mapping[str, str], fragments: Mapping[str, str]
) -> PolicyDocument:
    """Compile a stored policy with the service's named values and fragments (by id)."""
    lower = {k.lower(): v for k, v in named_values.items()}
    parsed = parse_source(xml)
    positions = parsed.positions()

    def missing(name: str, el: etree._Element, attr: str | None, offset: int) -> None:
        t = positions.get(el)
        raise PolicyCompileError(
            tag(el),
            t.line if t is not None else line_of(el),
            f"Cannot find a property '{name}'. A named value referenced by the policy does not exist.",
            t.column if t is not None else 0,
        )

    substitute(parsed.root, lower, missing)
    frags: dict[str, etree._Element] = {}
    for fid, text in fragments.items():
        try:
            fparsed = parse_source(text)
        except PolicyCompileError:
            continue
        substitute(fparsed.root, lower)
        positions.update(fparsed.positions())
        frags[fid.lower()] = fparsed.root
    return compile_root(parsed.root, frags, positions=positions)


def compose(documents: Sequence[PolicyDocument | None], scopes: Sequence[str] = ()) -> Pipeline:
    """Effective pipeline; ``documents`` from the outermost scope (global) to the innermost.
    ``scopes`` names them (``global``, ``product``, ``api``, ``operation``): each top-level step is tagged with
    the scope it comes from, which a request trace shows (``tracing``)."""

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
            if index < len(scopes):
                s.scope = scopes[index]  # a step belongs to one compiled document, one scope
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
