"""Policy elements that change the format of a message body: ``jsonp``, ``json-to-xml``.

``jsonp`` (https://learn.microsoft.com/azure/api-management/jsonp-policy): outbound only, once per
section; ``callback-parameter-name`` (required, expressions allowed) names the request query
parameter that carries the callback. Without that parameter the response is left as it is
("plain JSON"); with ``?cb=XYZ`` the body becomes ``XYZ(<body>);``. A callback that is not a
JavaScript name path (``a``, ``a.b``, ``$a_1``) leaves the body unwrapped: the local gateway
never reflects script from a query string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from emulator.gateway import jsonxml
from emulator.gateway.elements.core import Compiler, Runtime, Step, body_flags, element, is_element, tag
from emulator.gateway.errors import PolicyFailure
from emulator.gateway.values import Val

_CALLBACK = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$")


@dataclass(eq=False)
class JsonpStep(Step):
    parameter: Val

    async def run(self, rt: Runtime) -> None:
        name = self.parameter.text(rt.ctx)
        values = [v for k, v in rt.ctx.Request.Url.query if k == name]
        callback = values[0] if values else ""
        if not _CALLBACK.fullmatch(callback):
            return
        body = rt.ctx.Response.Body.content or b""
        await rt.set_body("response", callback.encode() + b"(" + body + b");")


@element("jsonp", frozenset({"outbound"}))
def _jsonp(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("callback-parameter-name",), ("callback-parameter-name",))
    c.kids(el, ())
    parent = el.getparent()
    if parent is not None:
        first = next(e for e in parent if is_element(e) and tag(e) == "jsonp")
        if first is not el:
            raise c.fail(el, "'jsonp' can appear only once in a section.")
    step = JsonpStep(c.req(el, "callback-parameter-name"))
    step.uses_response_body = True
    return step


@dataclass(eq=False)
class JsonToXmlStep(Step):
    """``json-to-xml`` (Learn: json-to-xml policy; the conversion itself: ``jsonxml``). The body of
    the current message (request in inbound, response in outbound/on-error) is converted when
    ``apply`` is ``always``, or ``content-type-json`` and the message's Content-Type is JSON
    (``application/json``, ``…+json``, ``text/json``); with ``consider-accept-header`` true (the
    default) only when the request's Accept asks for XML (a ``…/xml`` or ``…+xml`` media range).
    The converted message's Content-Type is ``application/xml``."""

    apply: Val
    consider_accept: Val | None
    parse_date: bool
    separator: Val | None
    namespace_prefix: Val | None
    attribute_block: Val | None

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        message = ctx.Request if rt.section in ("inbound", "backend") else ctx.Response
        apply = self.apply.text(ctx).strip()
        if apply not in ("always", "content-type-json"):
            raise PolicyFailure(
                "json-to-xml",
                "InvalidArgument",
                f"'{apply}' is not a value of 'apply' (always, content-type-json).",
            )
        if apply == "content-type-json" and not _is_json(
            str(message.Headers.m_GetValueOrDefault("Content-Type", "") or "")
        ):
            return
        if (self.consider_accept is None or self.consider_accept.boolean(ctx)) and not _asks_xml(
            str(ctx.Request.Headers.m_GetValueOrDefault("Accept", "") or "")
        ):
            return
        data = message.Body.content
        if data is None:
            return
        options = jsonxml.Options(
            parse_date=self.parse_date,
            separator=self.separator.text(ctx) if self.separator is not None else "_",
            namespace_prefix=self.namespace_prefix.text(ctx) if self.namespace_prefix is not None else None,
            attribute_block=self.attribute_block.text(ctx) if self.attribute_block is not None else None,
        )
        try:
            converted = jsonxml.convert(data, options)
        except jsonxml.JsonToXmlRefusedError as exc:
            raise PolicyFailure(
                "json-to-xml", "JsonToXmlNotConverted", f"The local gateway does not convert {exc}."
            ) from exc
        await rt.set_body("auto", converted)
        message.Headers.set("Content-Type", ["application/xml"])


def _media_types(header: str) -> list[str]:
    return [part.split(";", 1)[0].strip().lower() for part in header.split(",")]


def _is_json(content_type: str) -> bool:
    return any(m.endswith(("/json", "+json")) for m in _media_types(content_type))


def _asks_xml(accept: str) -> bool:
    return any(m.endswith(("/xml", "+xml")) for m in _media_types(accept))


_JSON_TO_XML = (
    "apply",
    "consider-accept-header",
    "parse-date",
    "namespace-separator",
    "namespace-prefix",
    "attribute-block-name",
)


@element("json-to-xml", frozenset({"inbound", "outbound", "on-error"}))
def _json_to_xml(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, _JSON_TO_XML, ("apply",))
    c.kids(el, ())
    apply = c.req(el, "apply")
    if apply.expr is None and (apply.literal or "") not in ("always", "content-type-json"):
        raise c.fail_at(
            el,
            "apply",
            f"The value '{apply.literal}' of attribute 'apply' is not valid. Allowed values: always, content-type-json.",
        )
    consider = c.val(el, "consider-accept-header")
    if (
        consider is not None
        and consider.expr is None
        and (consider.literal or "").strip().lower() not in ("true", "false")
    ):
        raise c.fail_at(el, "consider-accept-header", "The value must be 'true' or 'false'.")
    separator = c.val(el, "namespace-separator")
    if separator is not None and separator.expr is None and len(separator.literal or "") != 1:
        raise c.fail_at(el, "namespace-separator", "The namespace separator must be one character.")
    step = JsonToXmlStep(
        apply,
        consider,
        c.flag(el, "parse-date", True),  # Learn: policy expressions aren't allowed
        separator,
        c.val(el, "namespace-prefix"),
        c.val(el, "attribute-block-name"),
    )
    body_flags(
        step, [v for v in (apply, consider, separator, step.namespace_prefix, step.attribute_block) if v]
    )
    step.uses_request_body = step.uses_request_body or c.section in ("inbound", "*")
    step.uses_response_body = step.uses_response_body or c.section in ("outbound", "on-error", "*")
    return step
