"""Policy elements of the local gateway: how each is compiled (checked) and run.

``BUILDERS`` maps an element name to a builder that checks attributes/children (refusing what
the gateway cannot run, naming it and its line) and returns a step with ``async run(rt)``.
``rt`` is the per-request ``engine.Runtime``. ``SECTIONS`` says where each element may appear.
docs/policies.md lists every element and the attributes honoured here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lxml import etree

from emulator.gateway.errors import PolicyCompileError, PolicyFailure, ReturnResponse
from emulator.gateway.expr.context import Body, Headers, Response, Url
from emulator.gateway.expr.values import to_string
from emulator.gateway.values import Val, make_val

if TYPE_CHECKING:
    from emulator.gateway.engine import Runtime


class Step:
    """A compiled policy element."""

    name = "?"
    line = 0
    uses_request_body = False
    uses_response_body = False

    async def run(self, rt: Runtime) -> None:
        raise NotImplementedError


Builder = Callable[["Compiler", etree._Element], Step]
ALL = frozenset({"inbound", "backend", "outbound", "on-error"})
SECTIONS: dict[str, frozenset[str]] = {}
BUILDERS: dict[str, Builder] = {}


def element(name: str, sections: frozenset[str] = ALL) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        BUILDERS[name] = fn
        SECTIONS[name] = sections
        return fn

    return register


class Compiler:
    """Compiles the children of a section (and nested elements) to steps."""

    def __init__(self, fragments: dict[str, etree._Element] | None = None, section: str = "inbound") -> None:
        self.fragments = fragments or {}
        self.section = section
        self.fragment_depth = 0
        self.skip_fragments = False  # PUT-time checks: fragments are checked when they are stored

    def fail(self, el: etree._Element, message: str) -> PolicyCompileError:
        return PolicyCompileError(tag(el), line_of(el), message)

    def attrs(self, el: etree._Element, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
        for name in map(str, el.attrib):
            if name not in allowed:
                raise self.fail(
                    el, f"The attribute '{name}' is not supported by the local gateway (or is unknown)."
                )
        for name in required:
            if name not in el.attrib:
                raise self.fail(el, f"'{name}' attribute is required.")

    def val(self, el: etree._Element, name: str, default: str | None = None, expr: bool = True) -> Val | None:
        raw = el.get(name)
        if raw is None:
            return None if default is None else Val(default, None, tag(el), line_of(el))
        return make_val(raw, tag(el), line_of(el), allow_expression=expr)

    def req(self, el: etree._Element, name: str, expr: bool = True) -> Val:
        v = self.val(el, name, expr=expr)
        if v is None:
            raise self.fail(el, f"'{name}' attribute is required.")
        return v

    def choice(self, el: etree._Element, name: str, options: Sequence[str], default: str) -> str:
        value = el.get(name, default)
        if value not in options:
            raise self.fail(
                el,
                f"The value '{value}' of attribute '{name}' is not valid. Allowed values: {', '.join(options)}.",
            )
        return value

    def flag(self, el: etree._Element, name: str, default: bool) -> bool:
        value = el.get(name)
        if value is None:
            return default
        if value.strip().lower() not in ("true", "false"):
            raise self.fail(el, f"The value '{value}' of attribute '{name}' must be 'true' or 'false'.")
        return value.strip().lower() == "true"

    def number(self, el: etree._Element, name: str, default: int | None = None) -> int | None:
        value = el.get(name)
        if value is None:
            return default
        try:
            return int(value.strip())
        except ValueError:
            raise self.fail(el, f"The value '{value}' of attribute '{name}' must be an integer.") from None

    def status(self, el: etree._Element, name: str, default: int) -> int:
        value = self.number(el, name, default)
        assert value is not None
        if not 100 <= value <= 599:
            raise self.fail(
                el, f"The value '{value}' of attribute '{name}' is not a valid HTTP status code (100-599)."
            )
        return value

    def text(self, el: etree._Element) -> Val:
        if len(el):
            raise self.fail(el, f"'{tag(el)}' cannot contain child elements.")
        return make_val(el.text or "", tag(el), line_of(el))

    def kids(self, el: etree._Element, allowed: Sequence[str]) -> list[etree._Element]:
        out = []
        for child in el:
            if not is_element(child):
                continue
            if tag(child) not in allowed:
                raise self.fail(child, f"The element '{tag(child)}' is not valid inside '{tag(el)}'.")
            out.append(child)
        if el.text and el.text.strip():
            raise self.fail(el, f"'{tag(el)}' cannot contain text.")
        return out

    def steps(self, parent: etree._Element) -> list[Step]:
        out: list[Step] = []
        for child in parent:
            if not is_element(child):
                continue  # comments / processing instructions
            out.extend(self.step(child))
        if parent.text and parent.text.strip():
            raise self.fail(parent, f"Unexpected text inside '{tag(parent)}'.")
        return out

    def step(self, el: etree._Element) -> list[Step]:
        name = tag(el)
        if name == "include-fragment":
            return self.include(el)
        builder = BUILDERS.get(name)
        if builder is None:
            raise self.fail(
                el,
                f"Unknown policy '{name}' (or one the local gateway does not support; see docs/policies.md).",
            )
        if self.section != "*" and self.section not in SECTIONS[name]:
            raise self.fail(el, f"Policy is not allowed in this section ('{self.section}').")
        s = builder(self, el)
        s.name = name
        s.line = line_of(el)
        return [s]

    def include(self, el: etree._Element) -> list[Step]:
        self.attrs(el, ("fragment-id",), ("fragment-id",))
        fid = el.get("fragment-id", "")
        if self.skip_fragments:
            return []
        frag = self.fragments.get(fid.lower())
        if frag is None:
            raise self.fail(el, f"Policy fragment '{fid}' does not exist.")
        if self.fragment_depth > 8:
            raise self.fail(el, "Policy fragments are nested too deeply.")
        self.fragment_depth += 1
        try:
            if frag.tag != "fragment":
                raise self.fail(el, f"Policy fragment '{fid}' is not a 'fragment' element.")
            return self.steps(frag)
        except PolicyCompileError as exc:
            raise PolicyCompileError(
                exc.element, exc.line, f"{exc.message} (in policy fragment '{fid}')"
            ) from exc
        finally:
            self.fragment_depth -= 1


def line_of(el: etree._Element) -> int:
    """The element's line in the policy document (lxml's stubs type it loosely)."""
    value: Any = getattr(el, "sourceline", 0)
    return int(value) if isinstance(value, int) else 0


def is_element(el: etree._Element) -> bool:
    """False for comments and processing instructions (their ``tag`` is not a string)."""
    value: Any = getattr(el, "tag", None)
    return isinstance(value, str)


def tag(el: etree._Element) -> str:
    t = el.tag
    return t if isinstance(t, str) else "?"


def body_flags(step: Step, vals: Sequence[Val | None], children: Sequence[Step] = ()) -> None:
    step.uses_request_body = any(v is not None and v.uses_request_body for v in vals) or any(
        c.uses_request_body for c in children
    )
    step.uses_response_body = any(v is not None and v.uses_response_body for v in vals) or any(
        c.uses_response_body for c in children
    )


async def run_steps(steps: Sequence[Step], rt: Runtime) -> None:
    for s in steps:
        try:
            await s.run(rt)
        except (PolicyFailure, ReturnResponse):
            raise
        except Exception as exc:
            # a gateway bug must become APIM's error flow (LastError, on-error, 500), never a crash
            raise PolicyFailure(
                s.name, "PolicyExecutionError", f"The policy failed ({type(exc).__name__})."
            ) from exc


# ---- control flow ---------------------------------------------------------------------------


class BaseStep(Step):
    """``<base/>``: replaced by the enclosing scope's section when the pipeline is composed."""

    async def run(self, rt: Runtime) -> None:  # pragma: no cover - composition removes it
        return None


@element("base")
def _base(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ())
    c.kids(el, ())
    return BaseStep()


@dataclass(eq=False)
class ChooseStep(Step):
    branches: list[tuple[Val, list[Step]]]
    otherwise: list[Step]

    async def run(self, rt: Runtime) -> None:
        for cond, steps in self.branches:
            if cond.boolean(rt.ctx):
                await run_steps(steps, rt)
                return
        await run_steps(self.otherwise, rt)


@element("choose")
def _choose(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ())
    branches: list[tuple[Val, list[Step]]] = []
    otherwise: list[Step] = []
    kids = c.kids(el, ("when", "otherwise"))
    if not kids or tag(kids[0]) != "when":
        raise c.fail(el, "'choose' must contain at least one 'when' element.")
    seen_otherwise = False
    for kid in kids:
        if tag(kid) == "when":
            if seen_otherwise:
                raise c.fail(kid, "'when' cannot follow 'otherwise'.")
            c.attrs(kid, ("condition",), ("condition",))
            cond = c.req(kid, "condition")
            if cond.expr is None and cond.literal not in ("true", "false"):
                raise c.fail(kid, "The 'condition' attribute must be a policy expression.")
            branches.append((cond, c.steps(kid)))
        else:
            if seen_otherwise:
                raise c.fail(kid, "Only one 'otherwise' element is allowed.")
            seen_otherwise = True
            c.attrs(kid, ())
            otherwise = c.steps(kid)
    step = ChooseStep(branches, otherwise)
    body_flags(step, [b[0] for b in branches], [s for _, ss in branches for s in ss] + otherwise)
    return step


# ---- response shaping -----------------------------------------------------------------------


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


@element("set-header")
def _set_header(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("name", "exists-action"), ("name",))
    action = c.choice(el, "exists-action", ("override", "skip", "append", "delete"), "override")
    values = [c.text(v) for v in c.kids(el, ("value",))]
    step = SetHeaderStep(c.req(el, "name"), action, values)
    body_flags(step, [step.header, *values])
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
    step = SetBodyStep(make_val(el.text or "", "set-body", line_of(el)))
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


# ---- variables and request shaping ----------------------------------------------------------


@dataclass(eq=False)
class SetVariableStep(Step):
    var: str
    value: Val

    async def run(self, rt: Runtime) -> None:
        rt.ctx.Variables.set(self.var, self.value.get(rt.ctx))


@element("set-variable")
def _set_variable(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("name", "value"), ("name", "value"))
    c.kids(el, ())
    step = SetVariableStep(el.get("name", ""), c.req(el, "value"))
    body_flags(step, [step.value])
    return step


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
    c.attrs(el, ("name", "exists-action"), ("name",))
    action = c.choice(el, "exists-action", ("override", "skip", "append", "delete"), "override")
    values = [c.text(v) for v in c.kids(el, ("value",))]
    step = SetQueryStep(c.req(el, "name"), action, values)
    body_flags(step, [step.param, *values])
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
class SetBackendStep(Step):
    base_url: Val | None
    backend_id: Val | None

    async def run(self, rt: Runtime) -> None:
        if self.base_url is not None:
            rt.set_backend_url(self.base_url.text(rt.ctx))
            return
        assert self.backend_id is not None
        bid = self.backend_id.text(rt.ctx)
        url = rt.services.backend_url(bid)
        if url is None:
            raise PolicyFailure(
                "set-backend-service", "BackendNotFound", f"Backend with id '{bid}' could not be found."
            )
        rt.set_backend_url(url)


@element("set-backend-service", frozenset({"inbound", "backend"}))
def _set_backend(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("base-url", "backend-id"))
    c.kids(el, ())
    base, bid = c.val(el, "base-url"), c.val(el, "backend-id")
    if (base is None) == (bid is None):
        raise c.fail(el, "Exactly one of 'base-url' or 'backend-id' must be specified.")
    step = SetBackendStep(base, bid)
    body_flags(step, [base, bid])
    return step


@dataclass(eq=False)
class RewriteUriStep(Step):
    template: Val
    copy_unmatched: bool

    async def run(self, rt: Runtime) -> None:
        from urllib.parse import parse_qsl, urlsplit

        text = self.template.text(rt.ctx)
        params = rt.ctx.Request.MatchedParameters
        out: list[str] = []
        i = 0
        used: set[str] = set()
        while i < len(text):
            if text[i] == "{":
                end = text.find("}", i)
                if end < 0:
                    break
                key = text[i + 1 : end]
                found, value = params.lookup(key.lstrip("*"))
                out.append(to_string(value) if found else "")
                used.add(key.lstrip("*"))
                i = end + 1
                continue
            out.append(text[i])
            i += 1
        resolved = "".join(out)
        parts = urlsplit(resolved)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if self.copy_unmatched:
            names = {k for k, _ in query}
            query += [(k, v) for k, v in rt.ctx.Request.Url.query if k not in names and k not in used]
        rt.backend_path = parts.path if parts.path.startswith("/") else "/" + parts.path
        rt.ctx.Request.Url.query = query


@element("rewrite-uri", frozenset({"inbound"}))
def _rewrite_uri(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("template", "copy-unmatched-params"), ("template",))
    c.kids(el, ())
    step = RewriteUriStep(c.req(el, "template"), c.flag(el, "copy-unmatched-params", True))
    body_flags(step, [step.template])
    return step


# ---- backend --------------------------------------------------------------------------------


@dataclass(eq=False)
class ForwardStep(Step):
    timeout: float
    buffer_response: bool
    follow_redirects: bool
    fail_on_error: bool

    async def run(self, rt: Runtime) -> None:
        await rt.forward(self.timeout, self.buffer_response, self.follow_redirects, self.fail_on_error)


@element("forward-request", frozenset({"backend"}))
def _forward(c: Compiler, el: etree._Element) -> Step:
    c.attrs(
        el,
        (
            "timeout",
            "timeout-ms",
            "buffer-response",
            "follow-redirects",
            "fail-on-error-status-code",
            "buffer-request-body",
            "http-version",
            "continue-timeout",
        ),
    )
    c.kids(el, ())
    if el.get("http-version") not in (None, "1", "2or1"):
        raise c.fail(
            el, "Only http-version '1' (or '2or1', served as HTTP/1.1) is supported by the local gateway."
        )
    timeout_ms = c.number(el, "timeout-ms")
    timeout = (timeout_ms / 1000) if timeout_ms is not None else float(c.number(el, "timeout", 300) or 300)
    return ForwardStep(
        timeout,
        c.flag(el, "buffer-response", True),
        c.flag(el, "follow-redirects", False),
        c.flag(el, "fail-on-error-status-code", False),
    )


# ---- access control -------------------------------------------------------------------------


@dataclass(eq=False)
class CheckHeaderStep(Step):
    header: Val
    code: Val
    message: Val
    ignore_case: bool
    values: list[Val]

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        name = self.header.text(ctx)
        present = ctx.Request.Headers.get_values(name)
        ok = present is not None
        if ok and self.values:
            allowed = [v.text(ctx) for v in self.values]
            got = [x.strip() for v in (present or []) for x in v.split(",")]
            if self.ignore_case:
                allowed_l = {a.lower() for a in allowed}
                ok = any(g.lower() in allowed_l for g in got)
            else:
                ok = any(g in allowed for g in got)
        if not ok:
            code = self.code.integer(ctx)
            message = self.message.text(ctx)
            rt.error_response(code, message)
            raise PolicyFailure(
                "check-header", "HeaderNotFound" if present is None else "HeaderValueNotAllowed", message
            )


@element("check-header", frozenset({"inbound"}))
def _check_header(c: Compiler, el: etree._Element) -> Step:
    c.attrs(
        el,
        ("name", "failed-check-httpcode", "failed-check-error-message", "ignore-case"),
        ("name", "failed-check-httpcode", "failed-check-error-message", "ignore-case"),
    )
    values = [c.text(v) for v in c.kids(el, ("value",))]
    if el.get("failed-check-httpcode", "").strip()[:1] != "@":
        c.status(el, "failed-check-httpcode", 400)
    step = CheckHeaderStep(
        c.req(el, "name"),
        c.req(el, "failed-check-httpcode"),
        c.req(el, "failed-check-error-message"),
        c.flag(el, "ignore-case", False),
        values,
    )
    body_flags(step, [step.header, step.code, step.message, *values])
    return step


@dataclass(eq=False)
class CorsStep(Step):
    """APIM's ``cors`` policy (docs: cors-policy, "Usage notes" and "Common configuration issues").

    Preflight (``rt.preflight``: the gateway found no ``OPTIONS`` operation for the request and
    routed it by ``Access-Control-Request-Method`` instead; see ``GatewayApp``): only the cors
    policies of the effective ``inbound`` run. Allowed: 200 with the ``Access-Control-Allow-*``
    headers. Not allowed: with ``terminate-unmatched-request`` an empty 200 at once, without it
    the next cors policy is tried (then an empty 200). A request matched to an ``OPTIONS``
    operation is not a preflight for the policy (custom preflight logic stays possible).

    Actual request with ``Origin``: allowed origin -> ``Access-Control-Allow-Origin`` (and
    credentials / expose-headers) on whatever answers, a ``return-response`` included; not
    allowed -> a ``GET``/``HEAD`` ends with an empty 200 under ``terminate-unmatched-request``,
    any other request proceeds without CORS headers.
    """

    allow_credentials: bool
    terminate_unmatched: bool
    origins: list[str]
    methods: list[str]
    max_age: int | None
    allowed_headers: list[str]
    expose_headers: list[str]

    def _origin_ok(self, origin: str) -> bool:
        return "*" in self.origins or origin in self.origins

    async def _terminate(self, rt: Runtime, headers: Headers | None = None) -> None:
        await rt.close_backend()
        rt.ctx.Response = Response(200, "OK", headers or Headers(), Body(b""))
        raise ReturnResponse()

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        origin = ctx.Request.Headers.m_GetValueOrDefault("Origin", None)
        if origin is None:
            return
        allowed_origin = "*" if "*" in self.origins and not self.allow_credentials else origin
        if rt.preflight:
            method = ctx.Request.Headers.m_GetValueOrDefault("Access-Control-Request-Method", "") or ""
            req_headers = [
                h.strip()
                for h in (
                    ctx.Request.Headers.m_GetValueOrDefault("Access-Control-Request-Headers", "") or ""
                ).split(",")
                if h.strip()
            ]
            ok = self._origin_ok(origin) and ("*" in self.methods or method.upper() in self.methods)
            if ok and "*" not in self.allowed_headers:
                allowed = {h.lower() for h in self.allowed_headers}
                ok = all(h.lower() in allowed for h in req_headers)
            if not ok:
                if self.terminate_unmatched:
                    await self._terminate(rt)
                return  # the gateway tries the next cors policy, then answers an empty 200
            headers = Headers()
            headers.set("Access-Control-Allow-Origin", [allowed_origin])
            headers.set(
                "Access-Control-Allow-Methods",
                [method.upper() if "*" in self.methods else ",".join(self.methods)],
            )
            if req_headers:
                headers.set("Access-Control-Allow-Headers", [",".join(req_headers)])
            if self.allow_credentials:
                headers.set("Access-Control-Allow-Credentials", ["true"])
            if self.max_age is not None:
                headers.set("Access-Control-Max-Age", [str(self.max_age)])
            await self._terminate(rt, headers)
        if self._origin_ok(origin):
            rt.cors_headers = [("Access-Control-Allow-Origin", allowed_origin)]
            if self.allow_credentials:
                rt.cors_headers.append(("Access-Control-Allow-Credentials", "true"))
            if self.expose_headers:
                rt.cors_headers.append(("Access-Control-Expose-Headers", ",".join(self.expose_headers)))
        elif self.terminate_unmatched and ctx.Request.Method in ("GET", "HEAD"):
            await self._terminate(rt)


@element("cors", frozenset({"inbound"}))
def _cors(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("allow-credentials", "terminate-unmatched-request"))
    origins: list[str] = []
    methods: list[str] = ["GET", "POST"]
    max_age: int | None = None
    allowed_headers: list[str] = []
    expose: list[str] = []

    def texts(parent: etree._Element, child: str) -> list[str]:
        out = []
        for k in c.kids(parent, (child,)):
            c.attrs(k, ())
            v = c.text(k)
            if v.expr is not None:
                raise c.fail(k, "Policy expressions are not allowed here.")
            out.append((v.literal or "").strip())
        return out

    for kid in c.kids(el, ("allowed-origins", "allowed-methods", "allowed-headers", "expose-headers")):
        name = tag(kid)
        if name == "allowed-origins":
            c.attrs(kid, ())
            origins = texts(kid, "origin")
        elif name == "allowed-methods":
            c.attrs(kid, ("preflight-result-max-age",))
            methods = [m.upper() for m in texts(kid, "method")]
            max_age = c.number(kid, "preflight-result-max-age")
        elif name == "allowed-headers":
            c.attrs(kid, ())
            allowed_headers = texts(kid, "header")
        else:
            c.attrs(kid, ())
            expose = texts(kid, "header")
    if not origins:
        raise c.fail(el, "'allowed-origins' with at least one 'origin' is required.")
    allow_credentials = c.flag(el, "allow-credentials", False)
    if allow_credentials and "*" in origins:
        raise c.fail(el, "The wildcard origin '*' cannot be used when allow-credentials is true.")
    return CorsStep(
        allow_credentials,
        c.flag(el, "terminate-unmatched-request", True),
        origins,
        methods,
        max_age,
        allowed_headers,
        expose,
    )


# ---- token validation -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimRule:
    name: str
    match: str
    separator: str | None
    values: list[Val]


def _claim_rules(c: Compiler, el: etree._Element) -> list[ClaimRule]:
    rules = []
    c.attrs(el, ())
    for claim in c.kids(el, ("claim",)):
        c.attrs(claim, ("name", "match", "separator"), ("name",))
        match = c.choice(claim, "match", ("all", "any"), "all")
        values = [c.text(v) for v in c.kids(claim, ("value",))]
        rules.append(ClaimRule(claim.get("name", ""), match, claim.get("separator"), values))
    return rules


def _vals(c: Compiler, el: etree._Element, child: str) -> list[Val]:
    c.attrs(el, ())
    return [c.text(k) for k in c.kids(el, (child,))]


@dataclass(eq=False)
class TokenStep(Step):
    """validate-jwt and validate-azure-ad-token."""

    kind: str
    header_name: str | None
    query_name: str | None
    token_value: Val | None
    code: int
    message: str | None
    output_var: str | None
    audiences: list[Val]
    issuers: list[Val]
    claims: list[ClaimRule]
    tenant: Val | None = None
    client_apps: list[Val] = field(default_factory=list)
    backend_apps: list[Val] = field(default_factory=list)
    openid_urls: list[Val] = field(default_factory=list)
    keys: list[dict[str, str]] = field(default_factory=list)
    require_exp: bool = True
    require_scheme: str | None = None
    require_signed: bool = True
    clock_skew: int = 0

    async def run(self, rt: Runtime) -> None:
        from emulator.gateway.tokens import TokenRejected, validate

        try:
            claims, jwt = await validate(self, rt)
        except TokenRejected as exc:
            message = self.message or exc.message
            rt.error_response(self.code, message)
            raise PolicyFailure(self.kind, exc.reason, message) from exc
        if self.output_var:
            rt.ctx.Variables.set(self.output_var, jwt)
        _ = claims


def _token_common(c: Compiler, el: etree._Element, extra: Sequence[str]) -> dict[str, Any]:
    common = (
        "header-name",
        "query-parameter-name",
        "token-value",
        "failed-validation-httpcode",
        "failed-validation-error-message",
        "output-token-variable-name",
    )
    c.attrs(el, (*common, *extra))
    sources = [n for n in ("header-name", "query-parameter-name", "token-value") if el.get(n) is not None]
    if len(sources) > 1:
        raise c.fail(
            el, "Only one of 'header-name', 'query-parameter-name' or 'token-value' may be specified."
        )
    return {
        "header_name": el.get("header-name") if sources else "Authorization",
        "query_name": el.get("query-parameter-name"),
        "token_value": c.val(el, "token-value"),
        "code": c.status(el, "failed-validation-httpcode", 401),
        "message": el.get("failed-validation-error-message"),
        "output_var": el.get("output-token-variable-name"),
    }


@element("validate-jwt", frozenset({"inbound"}))
def _validate_jwt(c: Compiler, el: etree._Element) -> Step:
    args = _token_common(
        c, el, ("require-expiration-time", "require-scheme", "require-signed-tokens", "clock-skew")
    )
    audiences: list[Val] = []
    issuers: list[Val] = []
    claims: list[ClaimRule] = []
    urls: list[Val] = []
    keys: list[dict[str, str]] = []
    for kid in c.kids(
        el,
        (
            "openid-config",
            "issuer-signing-keys",
            "audiences",
            "issuers",
            "required-claims",
            "decryption-keys",
        ),
    ):
        name = tag(kid)
        if name == "openid-config":
            c.attrs(kid, ("url",), ("url",))
            c.kids(kid, ())
            urls.append(c.req(kid, "url"))
        elif name == "issuer-signing-keys":
            c.attrs(kid, ())
            for key in c.kids(kid, ("key",)):
                c.attrs(key, ("id", "n", "e", "certificate-id"))
                if key.get("certificate-id") is not None:
                    raise c.fail(
                        key,
                        "Keys by 'certificate-id' are not supported by the local gateway; give the key inline.",
                    )
                if key.get("n") and key.get("e"):
                    keys.append(
                        {
                            "kty": "RSA",
                            "n": key.get("n", ""),
                            "e": key.get("e", ""),
                            "kid": key.get("id") or "",
                        }
                    )
                else:
                    text = (key.text or "").strip()
                    if not text:
                        raise c.fail(key, "The signing key is empty.")
                    keys.append({"kty": "oct", "k": text, "kid": key.get("id") or ""})
        elif name == "audiences":
            audiences = _vals(c, kid, "audience")
        elif name == "issuers":
            issuers = _vals(c, kid, "issuer")
        elif name == "required-claims":
            claims = _claim_rules(c, kid)
        else:
            raise c.fail(kid, "Encrypted tokens (decryption-keys) are not supported by the local gateway.")
    if not urls and not keys:
        raise c.fail(
            el,
            "'openid-config' or 'issuer-signing-keys' is required (the local gateway validates signatures).",
        )
    if not c.flag(el, "require-signed-tokens", True):
        raise c.fail(el, 'require-signed-tokens="false" is not supported by the local gateway.')
    step = TokenStep(
        "validate-jwt",
        audiences=audiences,
        issuers=issuers,
        claims=claims,
        openid_urls=urls,
        keys=keys,
        require_exp=c.flag(el, "require-expiration-time", True),
        require_scheme=el.get("require-scheme"),
        clock_skew=c.number(el, "clock-skew", 0) or 0,
        **args,
    )
    body_flags(step, [step.token_value, *audiences, *issuers, *urls, *(v for r in claims for v in r.values)])
    return step


@element("validate-azure-ad-token", frozenset({"inbound"}))
def _validate_aad(c: Compiler, el: etree._Element) -> Step:
    args = _token_common(c, el, ("tenant-id",))
    if el.get("tenant-id") is None:
        raise c.fail(el, "'tenant-id' attribute is required.")
    audiences: list[Val] = []
    claims: list[ClaimRule] = []
    clients: list[Val] = []
    backends: list[Val] = []
    for kid in c.kids(
        el,
        (
            "client-application-ids",
            "backend-application-ids",
            "audiences",
            "required-claims",
            "decryption-keys",
        ),
    ):
        name = tag(kid)
        if name == "client-application-ids":
            clients = _vals(c, kid, "application-id")
        elif name == "backend-application-ids":
            backends = _vals(c, kid, "application-id")
        elif name == "audiences":
            audiences = _vals(c, kid, "audience")
        elif name == "required-claims":
            claims = _claim_rules(c, kid)
        else:
            raise c.fail(kid, "Encrypted tokens (decryption-keys) are not supported by the local gateway.")
    step = TokenStep(
        "validate-azure-ad-token",
        audiences=audiences,
        issuers=[],
        claims=claims,
        tenant=c.req(el, "tenant-id"),
        client_apps=clients,
        backend_apps=backends,
        **args,
    )
    body_flags(
        step,
        [
            step.token_value,
            step.tenant,
            *audiences,
            *clients,
            *backends,
            *(v for r in claims for v in r.values),
        ],
    )
    return step


# ---- caching, rate limiting -----------------------------------------------------------------


def _caching_type(c: Compiler, el: etree._Element) -> None:
    c.choice(el, "caching-type", ("internal", "prefer-external", "external"), "prefer-external")


@dataclass(eq=False)
class CacheStoreStep(Step):
    key: Val
    value: Val
    duration: Val

    async def run(self, rt: Runtime) -> None:
        rt.services.cache_store(self.key.text(rt.ctx), self.value.get(rt.ctx), self.duration.integer(rt.ctx))


@element("cache-store-value")
def _cache_store(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("key", "value", "duration", "caching-type"), ("key", "value", "duration"))
    c.kids(el, ())
    _caching_type(c, el)
    step = CacheStoreStep(c.req(el, "key"), c.req(el, "value"), c.req(el, "duration"))
    body_flags(step, [step.key, step.value, step.duration])
    return step


@dataclass(eq=False)
class CacheLookupStep(Step):
    key: Val
    default: Val | None
    var: str

    async def run(self, rt: Runtime) -> None:
        found, value = rt.services.cache_lookup(self.key.text(rt.ctx))
        if found:
            rt.ctx.Variables.set(self.var, value)
        elif self.default is not None:
            rt.ctx.Variables.set(self.var, self.default.get(rt.ctx))
        else:
            rt.ctx.Variables.remove(self.var)


@element("cache-lookup-value")
def _cache_lookup(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("key", "default-value", "variable-name", "caching-type"), ("key", "variable-name"))
    c.kids(el, ())
    _caching_type(c, el)
    step = CacheLookupStep(c.req(el, "key"), c.val(el, "default-value"), el.get("variable-name", ""))
    body_flags(step, [step.key, step.default])
    return step


@dataclass(eq=False)
class CacheRemoveStep(Step):
    key: Val

    async def run(self, rt: Runtime) -> None:
        rt.services.cache_remove(self.key.text(rt.ctx))


@element("cache-remove-value")
def _cache_remove(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("key", "caching-type"), ("key",))
    c.kids(el, ())
    _caching_type(c, el)
    return CacheRemoveStep(c.req(el, "key"))


@dataclass(eq=False)
class RateLimitStep(Step):
    calls: Val
    period: Val
    key: Val
    condition: Val | None
    remaining_var: str | None
    remaining_header: str | None
    retry_var: str | None
    retry_header: str | None
    total_header: str | None

    async def run(self, rt: Runtime) -> None:
        ctx = rt.ctx
        calls, period = self.calls.integer(ctx), self.period.integer(ctx)
        counter = f"{self.key.text(ctx)}|{calls}|{period}"
        count = self.condition is None or self.condition.boolean(ctx)
        allowed, remaining, retry_after = rt.services.rate_check(counter, calls, period, count)
        if self.remaining_var:
            ctx.Variables.set(self.remaining_var, remaining)
        if self.remaining_header:
            rt.extra_response_headers.append((self.remaining_header, str(remaining)))
        if self.total_header:
            rt.extra_response_headers.append((self.total_header, str(calls)))
        if allowed:
            return
        if self.retry_var:
            ctx.Variables.set(self.retry_var, retry_after)
        await rt.close_backend()
        headers = Headers([("Retry-After", str(retry_after)), ("Content-Type", "application/json")])
        if self.retry_header:
            headers.set(self.retry_header, [str(retry_after)])
        message = f"Rate limit is exceeded. Try again in {retry_after} seconds."
        ctx.Response = Response(
            429,
            "Too Many Requests",
            headers,
            Body(json.dumps({"statusCode": 429, "message": message}).encode()),
        )
        raise ReturnResponse()


@element("rate-limit-by-key", frozenset({"inbound"}))
def _rate_limit(c: Compiler, el: etree._Element) -> Step:
    c.attrs(
        el,
        (
            "calls",
            "renewal-period",
            "counter-key",
            "increment-condition",
            "increment-count",
            "remaining-calls-variable-name",
            "remaining-calls-header-name",
            "retry-after-variable-name",
            "retry-after-header-name",
            "total-calls-header-name",
        ),
        ("calls", "renewal-period", "counter-key"),
    )
    c.kids(el, ())
    if el.get("increment-count") not in (None, "1"):
        raise c.fail(el, "increment-count other than 1 is not supported by the local gateway.")
    step = RateLimitStep(
        c.req(el, "calls"), c.req(el, "renewal-period"), c.req(el, "counter-key"), c.val(el, "increment-condition"),
        el.get("remaining-calls-variable-name"), el.get("remaining-calls-header-name"), el.get("retry-after-variable-name"),
        el.get("retry-after-header-name"), el.get("total-calls-header-name"),
    )  # fmt: skip
    body_flags(step, [step.calls, step.period, step.key, step.condition])
    return step


# ---- outbound calls -------------------------------------------------------------------------


@dataclass(eq=False)
class SendRequestStep(Step):
    mode: str
    var: str
    timeout: float
    ignore_error: bool
    url: Val | None
    method: Val | None
    headers: list[SetHeaderStep]
    body: SetBodyStep | None
    managed_identity: ManagedIdentityStep | None

    async def run(self, rt: Runtime) -> None:
        await rt.send_request(self)


@element("send-request")
def _send_request(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("mode", "response-variable-name", "timeout", "ignore-error"), ("response-variable-name",))
    mode = c.choice(el, "mode", ("new", "copy"), "new")
    url: Val | None = None
    method: Val | None = None
    headers: list[SetHeaderStep] = []
    body: SetBodyStep | None = None
    mi: ManagedIdentityStep | None = None
    for kid in c.kids(
        el, ("set-url", "set-method", "set-header", "set-body", "authentication-managed-identity")
    ):
        name = tag(kid)
        if name == "set-url":
            c.attrs(kid, ())
            url = c.text(kid)
        elif name == "set-method":
            c.attrs(kid, ())
            method = c.text(kid)
        elif name == "set-header":
            built = _set_header(c, kid)
            assert isinstance(built, SetHeaderStep)
            headers.append(built)
        elif name == "set-body":
            built_body = _set_body(c, kid)
            assert isinstance(built_body, SetBodyStep)
            body = built_body
        else:
            built_mi = _managed_identity(c, kid)
            assert isinstance(built_mi, ManagedIdentityStep)
            mi = built_mi
    if url is None and mode == "new":
        raise c.fail(el, "'set-url' is required when mode is 'new'.")
    step = SendRequestStep(
        mode,
        el.get("response-variable-name", ""),
        float(c.number(el, "timeout", 60) or 60),
        c.flag(el, "ignore-error", False),
        url,
        method,
        headers,
        body,
        mi,
    )
    body_flags(step, [url, method], [*headers, *([body] if body else []), *([mi] if mi else [])])
    if mode == "copy":
        step.uses_request_body = True
    return step


@dataclass(eq=False)
class ManagedIdentityStep(Step):
    resource: Val
    client_id: Val | None
    output_var: str | None
    ignore_error: bool

    async def run(self, rt: Runtime) -> None:
        token = self.token(rt)
        if token is None:
            return
        if self.output_var:
            rt.ctx.Variables.set(self.output_var, token)
        else:
            rt.ctx.Request.Headers.set("Authorization", [f"Bearer {token}"])

    def token(self, rt: Runtime) -> str | None:
        try:
            return rt.services.managed_identity_token(
                self.resource.text(rt.ctx), self.client_id.text(rt.ctx) if self.client_id else None
            )
        except PolicyFailure:
            if self.ignore_error:
                return None
            raise


@element("authentication-managed-identity", frozenset({"inbound"}))
def _managed_identity(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("resource", "client-id", "output-token-variable-name", "ignore-error"), ("resource",))
    c.kids(el, ())
    step = ManagedIdentityStep(
        c.req(el, "resource"),
        c.val(el, "client-id"),
        el.get("output-token-variable-name"),
        c.flag(el, "ignore-error", False),
    )
    body_flags(step, [step.resource, step.client_id])
    return step


@dataclass(eq=False)
class TraceStep(Step):
    source: str
    severity: str
    message: Val
    metadata: list[tuple[str, Val]]

    async def run(self, rt: Runtime) -> None:
        rt.trace(
            self.source,
            self.severity,
            self.message.text(rt.ctx),
            {k: v.text(rt.ctx) for k, v in self.metadata},
        )


@element("trace")
def _trace(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("source", "severity"), ("source",))
    severity = c.choice(el, "severity", ("verbose", "information", "error"), "verbose")
    message: Val | None = None
    metadata: list[tuple[str, Val]] = []
    for kid in c.kids(el, ("message", "metadata")):
        if tag(kid) == "message":
            c.attrs(kid, ())
            message = c.text(kid)
        else:
            c.attrs(kid, ("name", "value"), ("name", "value"))
            c.kids(kid, ())
            metadata.append((kid.get("name", ""), c.req(kid, "value")))
    if message is None:
        raise c.fail(el, "'message' is required.")
    step = TraceStep(el.get("source", ""), severity, message, metadata)
    body_flags(step, [message, *(v for _, v in metadata)])
    return step


AsyncFn = Callable[[], Awaitable[None]]
_ = (time, Url)
