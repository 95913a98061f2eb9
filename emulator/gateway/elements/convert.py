"""Policy elements that change the format of a message body: ``jsonp``.

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

from emulator.gateway.elements.core import Compiler, Runtime, Step, element, is_element, tag
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
