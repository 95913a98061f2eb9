"""Policy elements that route: ``set-backend-service``, ``rewrite-uri``, ``forward-request``,
``send-request``.

``forward-request`` asks the runtime (``engine.Runtime.forward``: it owns the streamed backend
response); ``send-request`` is a self-contained call whose answer lands in a variable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio
import httpx
from lxml import etree

from emulator.gateway.elements.core import (
    BUILDERS,
    HOP_BY_HOP,
    Compiler,
    Runtime,
    Step,
    body_flags,
    element,
    tag,
)
from emulator.gateway.elements.identity import ManagedIdentityStep
from emulator.gateway.elements.message import SetBodyStep, SetHeaderStep
from emulator.gateway.errors import PolicyFailure
from emulator.gateway.expr.context import Body, Headers, Response
from emulator.gateway.expr.values import to_string
from emulator.gateway.values import Val

log = logging.getLogger("emulator.gateway")


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
    forwards = True

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
        step, ctx = self, rt.ctx
        if step.mode == "copy":
            method = ctx.Request.Method
            url = rt.backend_url() if step.url is None else step.url.text(ctx)
            headers = Headers(
                [
                    (k, v)
                    for k, v in ctx.Request.Headers.pairs()
                    if k.lower() not in HOP_BY_HOP and k.lower() != "host"
                ]
            )
            body = ctx.Request.Body.content or b""
        else:
            method, url, headers, body = "GET", step.url.text(ctx) if step.url else "", Headers(), b""
        if step.url is not None:
            url = step.url.text(ctx)
        if step.method is not None:
            method = step.method.text(ctx).strip().upper()
        for h in step.headers:
            h.apply(ctx, headers)
        if step.body is not None:
            body = step.body.content(rt, in_return_response=False)
        if step.managed_identity is not None:
            token = step.managed_identity.token(rt)
            if token is not None:
                headers.set("Authorization", [f"Bearer {token}"])
        if not url.startswith(("http://", "https://")):
            raise PolicyFailure("send-request", "InvalidUrl", f"'{url}' is not an absolute http(s) URL.")
        try:
            with anyio.fail_after(step.timeout):
                resp = await rt.services.client.request(
                    method, url, headers=headers.pairs(), content=body or None
                )
                data = await resp.aread()
        except (TimeoutError, httpx.HTTPError) as exc:
            if step.ignore_error:
                # the policy goes on with a null response; the log keeps why (type, no request data)
                # a transport error's text names the network failure; others (an invalid URL)
                # could carry request data, so only their type is logged
                said = str(exc) if isinstance(exc, httpx.TransportError | TimeoutError) else ""
                log.warning("send-request failed, ignored (ignore-error): %s: %s", type(exc).__name__, said)
                ctx.Variables.set(step.var, None)
                return
            raise PolicyFailure(
                "send-request",
                "Timeout" if isinstance(exc, TimeoutError) else "RequestFailed",
                f"send-request to '{url}' failed ({type(exc).__name__}).",
            ) from exc
        rh = Headers(
            [
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in resp.headers.raw
                if k.decode("latin-1").lower() not in HOP_BY_HOP
            ]
        )
        ctx.Variables.set(step.var, Response(resp.status_code, resp.reason_phrase, rh, Body(data)))


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
            built = BUILDERS[name](c, kid)
            assert isinstance(built, SetHeaderStep)
            headers.append(built)
        elif name == "set-body":
            built_body = BUILDERS[name](c, kid)
            assert isinstance(built_body, SetBodyStep)
            body = built_body
        else:
            built_mi = BUILDERS[name](c, kid)
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
