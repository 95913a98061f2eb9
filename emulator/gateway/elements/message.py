"""Policy elements that shape the message: status, headers, body, query, method, responses.

``set-status``, ``set-header``, ``set-body``, ``set-query-parameter``, ``set-method``, and the
elements that answer in place of the backend: ``return-response``, ``mock-response``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from liquid import BoundTemplate
from liquid.exceptions import LiquidError
from lxml import etree

from emulator.gateway import liquid
from emulator.gateway.elements.core import (
    BUILDERS,
    Compiler,
    Runtime,
    Step,
    body_flags,
    element,
    tag,
)
from emulator.gateway.errors import PolicyCompileError, PolicyFailure, ReturnResponse
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
    # Learn's set-status page calls both attributes required, yet APIM stores and runs policies
    # without 'reason' (deployed through ARM templates, Bicep and Terraform: e.g. the
    # azurerm_api_management_api_policy in pagopa's infrastructure returns <set-status code="401"
    # />; a Bicep client-certificate sample too): the status line then carries the
    # standard reason phrase of the code. 'code' stays required.
    c.attrs(el, ("code", "reason"), ("code",))
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
        if any(ch in v for v in values for ch in "\r\n\x00"):
            # RFC 9110 section 5.5: CR, LF and NUL are never valid in a field value (.NET's header
            # validation throws on them): a policy failure (on-error, 500), never a header sent
            # half-way or a dropped connection.
            raise PolicyFailure(
                "set-header", "InvalidHeaderValue", f"The value of header '{name}' contains CR, LF or NUL."
            )
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
        await rt.set_body(self.target, self.content(rt, in_return_response=False))

    def content(self, rt: Runtime, in_return_response: bool) -> bytes:
        return _body_bytes(self.body.get(rt.ctx))


@dataclass(eq=False)
class LiquidBodyStep(SetBodyStep):
    """``<set-body template="liquid">``: the template over the body of the current pipeline
    (the request in inbound/backend, the response in outbound/on-error) and ``context``. Inside
    ``return-response`` the input is empty (Learn, set-body: "any liquid template used inside
    the return-response will receive an empty string as its input")."""

    template: BoundTemplate | None = None
    parse_date: bool = True

    def content(self, rt: Runtime, in_return_response: bool) -> bytes:
        ctx = rt.ctx
        message = ctx.Request if rt.section in ("inbound", "backend") else ctx.Response
        data = b"" if in_return_response else (message.Body.content or b"")
        content_type = message.Headers.m_GetValueOrDefault("Content-Type", "") or ""
        body = liquid.bind_body(data, str(content_type), self.parse_date)
        assert self.template is not None
        try:
            return liquid.render(self.template, body, liquid.bind_context(ctx)).encode("utf-8")
        except LiquidError as exc:
            raise PolicyFailure("set-body", "LiquidTemplateFailure", f"Liquid: {exc}") from exc


def _body_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return to_string(value).encode("utf-8")


def _inner_text(el: etree._Element) -> str:
    """The element's content as written: text and child elements (a SOAP envelope, say)."""
    parts = [el.text or ""]
    for child in el:
        parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
    return "".join(parts)


@element("set-body")
def _set_body(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("template", "xsi-nil", "parse-date"))
    template = el.get("template")
    # xsi-nil (blank | null) only changes how XML payloads' xsi:nil elements bind to a template
    c.choice(el, "xsi-nil", ("blank", "null"), "blank")
    parse_date = c.flag(el, "parse-date", True)
    text = _inner_text(el)
    if template is None:
        step: SetBodyStep = SetBodyStep(make_val(text, "set-body", c.where(el)))
        body_flags(step, [step.body])
        return step
    if template.lower() != "liquid":
        raise c.fail_at(
            el, "template", f"The template '{template}' is not supported (the only value is 'liquid')."
        )
    try:
        compiled = liquid.compile_template(text)
    except liquid.LiquidTemplateError as exc:
        line, column = c.where(el).at(text, exc.offset)
        raise PolicyCompileError("set-body", line, exc.message, column) from exc
    step = LiquidBodyStep(
        Val(text, None, "set-body", c.position(el)[0]), template=compiled, parse_date=parse_date
    )
    _reads_body(c, step)  # the template reads the body
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
            response.Body = Body(self.body.content(rt, in_return_response=True))
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


@dataclass(eq=False)
class FindAndReplaceStep(Step):
    """``find-and-replace``: every occurrence of ``from`` in the body of the current message (the
    request in inbound/backend, the response in outbound/on-error) becomes ``to`` (Learn:
    find-and-replace policy; an empty ``to`` removes the text). Ordinal and case-sensitive, as
    .NET's String.Replace; bytes that are not UTF-8 text are kept as they are."""

    find: Val
    replacement: Val

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        find, replacement = self.find.text(ctx), self.replacement.text(ctx)
        if not find:
            raise PolicyFailure(
                "find-and-replace",
                "ArgumentException",
                "String cannot be of zero length. (Parameter 'oldValue')",
            )
        message = ctx.Request if rt.section in ("inbound", "backend") else ctx.Response
        data = message.Body.content
        if data is None:
            return  # no body (a streamed one is buffered first: uses_*_body)
        await rt.set_body("auto", data.replace(find.encode("utf-8"), replacement.encode("utf-8")))


@element("find-and-replace")
def _find_and_replace(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("from", "to"), ("from", "to"))
    c.kids(el, ())
    find = c.req(el, "from")
    if find.expr is None and not find.literal:
        raise c.fail_at(el, "from", "The 'from' attribute cannot be empty: there is nothing to find.")
    step = FindAndReplaceStep(find, c.req(el, "to"))
    body_flags(step, [step.find, step.replacement])
    _reads_body(c, step)  # it rewrites the body of its section's message
    return step


def _reads_body(c: Compiler, step: Step) -> None:
    """The step reads the body of its section's message (both when the section is not known
    yet: a fragment)."""
    step.uses_request_body = c.section in ("inbound", "backend", "*")
    step.uses_response_body = c.section in ("outbound", "on-error", "*")
