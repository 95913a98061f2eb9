"""JSON to XML as APIM's ``json-to-xml`` converts it (pure: bytes in, bytes out, or a refusal).

Where it sits: ``elements.convert`` compiles the element and calls ``convert`` on the body of the
current message. Built to the published evidence, and refusing by name what it does not show:

* Learn, json-to-xml policy (learn.microsoft.com/azure/api-management/json-to-xml-policy,
  MicrosoftDocs/azure-docs articles/api-management/json-to-xml-policy.md): a top-level object
  with one property is the root element; an object's properties are child elements, an empty
  object an empty element; ``namespace-prefix`` (e.g. ``xmlns``): properties whose name begins
  with it are namespace declarations of the current element; ``namespace-separator`` (default
  ``_``) separates a name's namespace prefix from its local name; ``attribute-block-name``: the
  properties of the object of that name are the element's attributes; ``parse-date="false"``:
  dates are copied. (Learn's example output leaves out the ``v1:QueryItem`` element around
  ``<name>`` that its input has; every other element of the example, and the example below,
  follow "a property is an element", which this module applies.)
* APIM's output for a JSON document published with the policy ``<json-to-xml apply="always"
  consider-accept-header="false" />`` (dev.fyicenter.com, "'json-to-xml' Azure API Policy
  Statement"): several top-level properties are wrapped in a ``Document`` root element; an array
  is a sequence of repeated elements of the property's name (objects or values); an empty array
  is one empty element; ``null`` is an element with ``xsi:nil="true"`` (declaring ``xsi``);
  ``true``/``false`` are written ``True``/``False`` (.NET's Boolean.ToString); numbers as written.

Refused, naming the construct (``JsonToXmlRefusedError``; the gateway answers it through
on-error): a body that is not JSON, a top level that is not an object (an array or a value), an
array directly inside an array, a default namespace declaration (a property named exactly
``namespace-prefix``), a property name that is not an XML name or uses an undeclared prefix, a
non-value in the attribute block, and - with ``parse-date="true"`` (the default) - a string that
is a date (ISO 8601 or ``/Date(...)/``): how APIM writes a parsed date is not published.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

XSI = "http://www.w3.org/2001/XMLSchema-instance"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|^/Date\(-?\d+")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._\-]*$")


class JsonToXmlRefusedError(Exception):
    """A construct the local gateway does not convert (the message names it)."""


@dataclass(frozen=True)
class Options:
    parse_date: bool = True
    separator: str = "_"
    namespace_prefix: str | None = None
    attribute_block: str | None = None


class _Number(str):
    """A JSON number, kept as written."""


def _load(data: bytes) -> Any:
    try:
        return json.loads(data, parse_int=_Number, parse_float=_Number, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise JsonToXmlRefusedError("the body is not JSON") from exc


def _refuse_constant(name: str) -> Any:
    raise JsonToXmlRefusedError(f"'{name}' is not a JSON value")


def convert(data: bytes, options: Options) -> bytes:
    """The XML document of the JSON ``data`` (UTF-8, no declaration)."""
    doc = _load(data)
    if not isinstance(doc, dict):
        kind = "an array" if isinstance(doc, list) else "a value"
        raise JsonToXmlRefusedError(
            f"a JSON body whose top level is {kind} (APIM's result for it is not published)"
        )
    items = list(doc.items())
    if len(items) == 1 and not isinstance(items[0][1], list):
        name, value = items[0]
        root = _element(None, name, value, options, {})
    else:
        root = etree.Element("Document")
        _children(root, doc, options, {})
    return etree.tostring(root, encoding="utf-8", pretty_print=True)


def _qname(name: str, options: Options, scope: dict[str, str]) -> str:
    """``prefix<sep>local`` with a declared prefix is ``{namespace}local``; other names as written."""
    if not _NAME.fullmatch(name.replace(options.separator, "_", 1) if options.separator else name):
        raise JsonToXmlRefusedError(f"the property name '{name}' is not an XML name")
    if options.separator and options.separator in name:
        prefix, _, local = name.partition(options.separator)
        if prefix in scope and _NAME.fullmatch(local):
            return f"{{{scope[prefix]}}}{local}"
    if ":" in name:
        raise JsonToXmlRefusedError(
            f"the property name '{name}' uses a namespace prefix that is not declared"
        )
    return name


def _declarations(value: dict[str, Any], options: Options) -> dict[str, str]:
    """The namespace declarations among an object's properties (``namespace-prefix``)."""
    found: dict[str, str] = {}
    prefix, sep = options.namespace_prefix, options.separator
    if not prefix:
        return found
    for key, item in value.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        if not rest:
            raise JsonToXmlRefusedError(
                f"the default namespace declaration '{key}' (APIM's result for it is not published)"
            )
        if not (sep and rest.startswith(sep) and _NAME.fullmatch(rest[len(sep) :])):
            continue  # a property whose name merely starts like a declaration: an element
        if not isinstance(item, str):
            raise JsonToXmlRefusedError(f"the namespace declaration '{key}' is not a string")
        found[rest[len(sep) :]] = item
    return found


def _element(
    parent: etree._Element | None, name: str, value: Any, options: Options, scope: dict[str, str]
) -> etree._Element:
    nsmap = _declarations(value, options) if isinstance(value, dict) else {}
    inner = {**scope, **nsmap}
    tag = _qname(name, options, inner)
    if value is None:
        nsmap = {**nsmap, "xsi": XSI}
    el = (
        etree.SubElement(parent, tag, nsmap=nsmap or None)
        if parent is not None
        else etree.Element(tag, nsmap=nsmap or None)
    )
    if value is None:
        el.set(f"{{{XSI}}}nil", "true")
    elif isinstance(value, dict):
        _children(el, value, options, inner)
    else:
        el.text = _text(value, options)
    return el


def _children(el: etree._Element, value: dict[str, Any], options: Options, scope: dict[str, str]) -> None:
    declared = _declared_keys(value, options)
    for key, item in value.items():
        if key in declared:
            continue  # a namespace declaration (``_declarations``)
        if options.attribute_block is not None and key == options.attribute_block:
            _attributes(el, key, item, options, scope)
            continue
        if isinstance(item, list):
            if not item:
                etree.SubElement(el, _qname(key, options, scope))
            for entry in item:
                if isinstance(entry, list):
                    raise JsonToXmlRefusedError(
                        f"an array inside the array '{key}' (APIM's result for it is not published)"
                    )
                _element(el, key, entry, options, scope)
            continue
        _element(el, key, item, options, scope)


def _declared_keys(value: dict[str, Any], options: Options) -> set[str]:
    prefix, sep = options.namespace_prefix, options.separator
    if not prefix or not sep:
        return set()
    return {k for k in value if k.startswith(prefix + sep) and _NAME.fullmatch(k[len(prefix + sep) :])}


def _attributes(el: etree._Element, block: str, item: Any, options: Options, scope: dict[str, str]) -> None:
    if not isinstance(item, dict):
        raise JsonToXmlRefusedError(f"the attribute block '{block}' is not an object")
    for name, value in item.items():
        if isinstance(value, dict | list):
            raise JsonToXmlRefusedError(f"the attribute '{name}' of '{block}' is not a value")
        el.set(_qname(name, options, scope), "" if value is None else _text(value, options))


def _text(value: Any, options: Options) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, _Number):
        return str.__str__(value)
    text = str(value)
    if options.parse_date and _DATE.match(text):
        raise JsonToXmlRefusedError(
            f"the date '{text}' with parse-date=\"true\" (how APIM writes a parsed date is not "
            'published; parse-date="false" copies it)'
        )
    return text
