"""Policy elements that guard access: ``check-header`` and ``cors``."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from emulator.gateway.elements.core import Compiler, Runtime, Step, body_flags, element, tag
from emulator.gateway.errors import PolicyFailure, ReturnResponse
from emulator.gateway.expr.context import Body, Headers, Response
from emulator.gateway.values import Val


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
