"""Policy elements that shape the message: status, headers, body, query, method, responses.

``set-status``, ``set-header``, ``set-body``, ``set-query-parameter``, ``set-method``, and the
elements that answer in place of the backend: ``return-response``, ``mock-response``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from emulator.gateway.elements.core import (
    BUILDERS,
    Compiler,
    Runtime,
    Step,
    body_flags,
    element,
    tag,
)
from emulator.gateway.errors import PolicyFailure, ReturnResponse
from emulator.gateway.expr.context import Body, Headers, Response
from emulator.gateway.expr.values import to_string
from emulator.gateway.values import Val, make_val


@dataclass(eq=False)
class SetStatusStep(Step):
    code: Val
    reason: Val | None

    async def run(self, rt: Runtime) -> None:
        code = self.code.integer(rt.ctx)
        if not 100 <= code <= 599:
            raise PolicyFailure("set-status", "InvalidStatusCode", f"Status code {code} is not valid.")
        rt.ctx.Response.StatusCode = code
        rt.ctx.Response.StatusReason = self.reason.text(rt.ctx) if self.reason else _reason(code)


def _reason(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


@element("set-status")
def _set_status(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("code", "reason"), ("code", "reason"))  # APIM requires both
    c.kids(el, ())
    code = c.req(el, "code")
    if code.expr is None:
        c.status(el, "code", 200)
    step = SetStatusStep(code, c.val(el, "reason"))
    body_flags(step, [step.code, step.reason])
    return step


@dataclass(eq=False)
class SetHeaderStep(Step):
    header: Val
    action: str
    values: list[Val]
    target: str = (
        "auto"  # request | response | auto (by section); "message" inside return-response/send-request
    )

    async def run(self, rt: Runtime) -> None:
        headers = rt.headers_for(self.target)
        self.apply(rt.ctx, headers)

    def apply(self, ctx: Any, headers: Headers) -> None:
        name = self.header.text(ctx)
        if not name or any(ch in name for ch in " \r\n:"):
            raise PolicyFailure("set-header", "InvalidHeaderName", f"'{name}' is not a valid header name.")
        if self.action == "delete":
            headers.remove(name)
            return
        values = [v.text(ctx) for v in self.values]
        values = [v for v in values if not any(ch in v for ch in "\r\n")]
        existing = headers.get_values(name)
        if self.action == "skip" and existing is not None:
            return
        if self.action == "append" and existing is not None:
            headers.set(name, existing + values)
            return
        if not values:
            headers.remove(name)
            return
        headers.set(name, values)


def _name_action_values(c: Compiler, el: etree._Element) -> tuple[Val, str, list[Val]]:
    """``name``, ``exists-action`` and the ``<value>`` children (set-header, set-query-parameter)."""
    c.attrs(el, ("name", "exists-action"), ("name",))
    action = c.choice(el, "exists-action", ("override", "skip", "append", "delete"), "override")
    values = [c.text(v) for v in c.kids(el, ("value",))]
    return c.req(el, "name"), action, values


@element("set-header")
def _set_header(c: Compiler, el: etree._Element) -> Step:
    step = SetHeaderStep(*_name_action_values(c, el))
    body_flags(step, [step.header, *step.values])
    return step


@dataclass(eq=False)
class SetBodyStep(Step):
    body: Val
    target: str = "auto"

    async def run(self, rt: Runtime) -> None:
        value = self.body.get(rt.ctx)
        data = _body_bytes(value)
        await rt.set_body(self.target, data)


def _body_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return to_string(value).encode("utf-8")


@element("set-body")
def _set_body(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("template", "xsi-nil", "parse-date"))
    template = el.get("template")
    if template is not None:
        if template.lower() == "liquid":
            raise c.fail(
                el,
                'Liquid templates (template="liquid") are not supported by the local gateway; use a policy expression.',
            )
        raise c.fail(el, f"The template '{template}' is not supported.")
    if el.get("xsi-nil") is not None:
        raise c.fail(el, "The attribute 'xsi-nil' is not supported by the local gateway.")
    if len(el):
        raise c.fail(el[0], "'set-body' cannot contain child elements (XML bodies must be escaped text).")
    step = SetBodyStep(make_val(el.text or "", "set-body", c.where(el)))
    body_flags(step, [step.body])
    return step


@dataclass(eq=False)
class ReturnResponseStep(Step):
    variable: str | None
    status: SetStatusStep | None
    headers: list[SetHeaderStep]
    body: SetBodyStep | None

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        if self.variable is not None:
            found, value = ctx.Variables.get(self.variable)
            if not found or not isinstance(value, Response):
                raise PolicyFailure(
                    "return-response",
                    "VariableNotFound",
                    f"Variable '{self.variable}' does not hold a response.",
                )
            response = Response(
                value.StatusCode, value.StatusReason, Headers(value.Headers.pairs()), Body(value.Body.content)
            )
        else:
            response = Response(200, "OK", Headers(), Body(b""))
        await rt.close_backend()
        ctx.Response = response
        if self.status is not None:
            await self.status.run(rt)
        for h in self.headers:
            h.apply(ctx, response.Headers)
        if self.body is not None:
            response.Body = Body(_body_bytes(self.body.body.get(ctx)))
        raise ReturnResponse()


@element("return-response")
def _return_response(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("response-variable-name",))
    status: SetStatusStep | None = None
    headers: list[SetHeaderStep] = []
    body: SetBodyStep | None = None
    for kid in c.kids(el, ("set-status", "set-header", "set-body")):
        built = BUILDERS[tag(kid)](c, kid)
        if isinstance(built, SetStatusStep):
            status = built
        elif isinstance(built, SetHeaderStep):
            headers.append(built)
        elif isinstance(built, SetBodyStep):
            body = built
    step = ReturnResponseStep(el.get("response-variable-name"), status, headers, body)
    body_flags(step, [], [s for s in (status, body, *headers) if s is not None])
    return step


@dataclass(eq=False)
class MockResponseStep(Step):
    status: int
    content_type: str

    async def run(self, rt: Runtime) -> None:
        await rt.close_backend()
        headers = Headers([("Content-Type", self.content_type)])
        rt.ctx.Response = Response(self.status, _reason(self.status), headers, Body(b""))
        raise ReturnResponse()


@element("mock-response", frozenset({"inbound", "outbound", "on-error"}))
def _mock_response(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("status-code", "content-type", "index"))
    c.kids(el, ())
    return MockResponseStep(c.status(el, "status-code", 200), el.get("content-type", "application/json"))


@dataclass(eq=False)
class SetQueryStep(Step):
    param: Val
    action: str
    values: list[Val]

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        name = self.param.text(ctx)
        query = ctx.Request.Url.query
        existing = [v for k, v in query if k == name]
        if self.action == "delete":
            ctx.Request.Url.query = [(k, v) for k, v in query if k != name]
            return
        if self.action == "skip" and existing:
            return
        values = [v.text(ctx) for v in self.values]
        if self.action == "append":
            ctx.Request.Url.query = query + [(name, v) for v in values]
            return
        ctx.Request.Url.query = [(k, v) for k, v in query if k != name] + [(name, v) for v in values]


@element("set-query-parameter", frozenset({"inbound", "backend"}))
def _set_query(c: Compiler, el: etree._Element) -> Step:
    step = SetQueryStep(*_name_action_values(c, el))
    body_flags(step, [step.param, *step.values])
    return step


@dataclass(eq=False)
class SetMethodStep(Step):
    method: Val

    async def run(self, rt: Runtime) -> None:
        method = self.method.text(rt.ctx).strip().upper()
        if not method.isalpha():
            raise PolicyFailure("set-method", "InvalidMethod", f"'{method}' is not a valid HTTP method.")
        rt.ctx.Request.Method = method


@element("set-method", frozenset({"inbound", "on-error"}))
def _set_method(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ())
    return SetMethodStep(c.text(el))
