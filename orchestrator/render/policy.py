"""Render one policy template into APIM policy XML, and check the result.

The pure core of ``orchestrator.render``: the reconcile engine (desired policy properties),
``prmlab render`` and the tests call :func:`render_policy`. No I/O besides reading templates.

Checks, each a ``RenderError`` naming the template, the variable or the template line:
unknown template; variables the template does not take; values APIM would misread (see
``values.py``); undefined variables (StrictUndefined); filter checks (URLs, scopes, ...);
``{{...}}`` in the output that is not a valid named value or was neither written in the
template nor passed as a named-value token; malformed XML or a root other than ``<policies>``.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping

import jinja2
from lxml import etree

from orchestrator.errors import RenderError
from orchestrator.render.environment import (
    environment,
    template_file,
    template_names,
    template_source,
    template_variables,
)
from orchestrator.render.values import NamedValueRef, ValueRefusedError, check_variables, is_named_value_name

# What APIM reads as a named-value reference.
_NAMED_VALUE = re.compile(r"\{\{([^{}]*)\}\}")


def named_value_references(xml: str) -> set[str]:
    """Names of the APIM named values ``{{Name}}`` that a policy document references."""
    return {m.group(1).strip() for m in _NAMED_VALUE.finditer(xml)}


def render_policy(template: str, variables: Mapping[str, object]) -> str:
    """Render ``policy_templates/<template>.xml.j2`` with ``variables`` into policy XML."""
    if template not in template_names():
        known = ", ".join(template_names())
        raise RenderError(f"policy template {template!r} does not exist (known templates: {known})")
    expected = template_variables(template)
    unknown = sorted(set(variables) - expected)
    if unknown:
        raise RenderError(
            f"policy template {template!r} does not take variable(s) {', '.join(map(repr, unknown))} "
            f"(it takes: {', '.join(sorted(expected))})"
        )
    try:
        checked = check_variables(variables)
    except ValueRefusedError as exc:
        raise RenderError(f"policy template {template!r}: {exc}") from exc

    try:
        xml = environment().get_template(template_file(template)).render(checked)
    except jinja2.UndefinedError as exc:
        raise RenderError(
            f"policy template {template!r}{_where(template, exc)}: {_undefined_message(exc)}"
        ) from exc
    except ValueRefusedError as exc:
        raise RenderError(f"policy template {template!r}{_where(template, exc)}: {exc}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"policy template {template!r} line {exc.lineno}: {exc.message}") from exc

    _check_named_values(template, xml, variables)
    check_policy_xml(template, xml)
    return xml


def _undefined_message(exc: jinja2.UndefinedError) -> str:
    # Jinja says "'x' is undefined"; say what to do about it.
    return f"{exc.message}: give this variable in the policy's variables"


def _where(template: str, exc: BaseException) -> str:
    """`` line N (text)`` of the template frame where ``exc`` was raised, if Jinja kept it."""
    filename = template_file(template)
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(filename) and frame.lineno:
            line = frame.lineno
    if line is None:
        return ""
    lines = template_source(template).splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return f" line {line} ({text})" if text else f" line {line}"


def check_template_source(template: str, source: str) -> None:
    """Refuse ``{{ x }}`` written in a template that is not a valid APIM named-value reference.

    Inside these templates ``{{...}}`` is always APIM's; one that cannot be a named value
    (spaces, a Jinja expression) is a Jinja habit that would reach APIM unrendered.
    """
    for number, line in enumerate(source.splitlines(), start=1):
        for m in _NAMED_VALUE.finditer(line):
            if not is_named_value_name(m.group(1)):
                raise RenderError(
                    f"policy template {template!r} line {number}: {m.group(0)!r} is not an APIM named "
                    "value (names are letters, digits, '.', '-', '_', without spaces); "
                    "a Jinja variable is written [[ name ]]"
                )


def _check_named_values(template: str, xml: str, variables: Mapping[str, object]) -> None:
    source = template_source(template)
    check_template_source(template, source)
    allowed = named_value_references(source) | {
        v.name for v in _walk(list(variables.values())) if isinstance(v, NamedValueRef)
    }
    stray = sorted(named_value_references(xml) - allowed)
    if stray:
        raise RenderError(
            f"policy template {template!r}: the output references named value(s) "
            f"{', '.join('{{' + s + '}}' for s in stray)} that were neither written in the template "
            "nor given as named-value tokens (a value combined into '{{...}}')"
        )


def _walk(values: object) -> list[object]:
    out: list[object] = []
    stack: list[object] = [values]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        else:
            out.append(value)
    return out


def check_policy_xml(template: str, xml: str) -> None:
    """Require well-formed XML with a ``<policies>`` root (``RenderError`` naming the output line)."""
    try:
        root = parse_policy(xml)
    except etree.XMLSyntaxError as exc:
        lines = xml.splitlines()
        text = lines[exc.lineno - 1].strip() if exc.lineno and 0 < exc.lineno <= len(lines) else ""
        raise RenderError(
            f"policy template {template!r} rendered malformed XML at output line {exc.lineno}: "
            f"{exc.msg} (line: {text})"
        ) from exc
    if root.tag != "policies":
        raise RenderError(
            f"policy template {template!r} rendered a <{root.tag}> document; the root must be <policies>"
        )


def parse_policy(xml: str) -> etree._Element:
    """Parse policy XML safely (no entities, no network); raises ``etree.XMLSyntaxError``."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(xml.encode("utf-8"), parser)
