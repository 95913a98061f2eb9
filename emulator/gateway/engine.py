"""Runs a composed pipeline for one request, with APIM's error flow; forwards to the backend.

``Runtime`` is the per-request state the policy steps act on (``context``, the backend URL,
the streaming upstream response); it implements the ``elements.core.Runtime`` protocol. ``execute`` runs inbound -> backend -> outbound; a
``PolicyFailure`` anywhere records ``context.LastError`` and runs on-error; ``ReturnResponse``
ends the pipeline. Backend responses stay a stream (``Runtime.upstream``) unless a policy
reads the body or ``forward-request`` buffers it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio

from emulator.gateway.elements.core import HOP_BY_HOP, Step, run_steps
from emulator.gateway.errors import PolicyFailure, ReturnResponse
from emulator.gateway.expr.context import Body, Context, Headers, LastError, Response
from emulator.gateway.llm import StreamUsage, Usage, parse_request, usage_of_body
from emulator.gateway.policy import Pipeline
from emulator.gateway.services import Services
from emulator.gateway.tracing import Recorder
from emulator.gateway.upstream import UpstreamError, UpstreamReply

log = logging.getLogger("emulator.gateway")

MAX_BUFFER = 16 * 1024 * 1024


def _status_reason(code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


async def raw_chunks(upstream: UpstreamReply) -> AsyncIterator[bytes]:
    """The backend body as it arrives (content-encoding kept), chunk by chunk."""
    async for chunk in upstream.chunks():
        yield chunk


class Runtime:
    def __init__(
        self,
        ctx: Context,
        services: Services,
        pipeline: Pipeline,
        backend_base: str | None,
        backend_path: str,
        request_stream: AsyncIterator[bytes] | None,
    ) -> None:
        self.ctx = ctx
        self.services = services
        self.pipeline = pipeline
        self.backend_base = backend_base
        self.backend_path = backend_path
        self.request_stream = request_stream
        self.upstream: UpstreamReply | None = None
        self.section = "inbound"
        # a traced request (``Apim-Debug-Authorization``): what each element did (``tracing``)
        self.recorder: Recorder | None = None
        self.trace_scope = "global"
        self.trace_depth = 0
        self.cors_headers: list[tuple[str, str]] = []
        # a CORS preflight answered by the cors policy (APIM: OPTIONS + Origin +
        # Access-Control-Request-Method, not matched to an OPTIONS operation)
        self.preflight = False
        self.extra_response_headers: list[tuple[str, str]] = []
        self.error_set = False
        # AI-gateway policies (``elements.ai``): told the backend's token usage once, when the
        # buffered response arrives (before outbound) or when a streamed one has passed (``app``)
        self.usage_watchers: list[Callable[[Usage], None]] = []
        # quotas (``elements.quota``): told the response body's size once it has been sent (``app``)
        self.completion: list[Callable[[int], None]] = []
        self.forwarded = False
        self._llm_request: tuple[bool, int] | None = None
        self._usage_reported = False
        self.stream_usage: StreamUsage | None = None

    # ---- helpers the steps use --------------------------------------------------------------
    def llm_request(self) -> tuple[bool, int]:
        """``(streamed, estimated prompt tokens)`` of the request body (``llm.parse_request``)."""
        if self._llm_request is None:
            self._llm_request = parse_request(self.ctx.Request.Body.content)
        return self._llm_request

    def report_usage(self, usage: Usage | None) -> None:
        if self._usage_reported or usage is None:
            return
        self._usage_reported = True
        for watcher in self.usage_watchers:
            watcher(usage)

    def headers_for(self, target: str) -> Headers:
        if self.section in ("inbound", "backend"):
            return self.ctx.Request.Headers
        return self.ctx.Response.Headers

    async def set_body(self, target: str, data: bytes) -> None:
        if self.section in ("inbound", "backend"):
            self.ctx.Request.Body = Body(data)
            self.request_stream = None
            self.ctx.Request.Headers.remove("Content-Length")
        else:
            await self.close_backend()
            self.ctx.Response.Body = Body(data)
            self.ctx.Response.Headers.remove("Content-Length")

    def set_backend_url(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise PolicyFailure(
                "set-backend-service", "InvalidBackendUrl", f"'{url}' is not an absolute http(s) URL."
            )
        self.backend_base = url

    def error_response(self, code: int, message: str) -> None:
        if not 100 <= code <= 599:
            code, message = 500, "Internal server error"
        body = json.dumps({"statusCode": code, "message": message}).encode()
        self.ctx.Response = Response(
            code, _status_reason(code), Headers([("Content-Type", "application/json")]), Body(body)
        )
        self.error_set = True

    def trace(self, source: str, severity: str, message: str, metadata: dict[str, str]) -> None:
        self.services.trace(
            {
                "requestId": str(self.ctx.RequestId),
                "source": source,
                "severity": severity,
                "message": message,
                "metadata": metadata,
            }
        )

    async def close_backend(self) -> None:
        if self.upstream is not None:
            upstream, self.upstream = self.upstream, None
            await upstream.aclose()

    async def buffer_response(self) -> None:
        """Read a streamed backend response into ``context.Response.Body`` (bounded)."""
        if self.upstream is None:
            return
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in raw_chunks(self.upstream):
                size += len(chunk)
                if size > MAX_BUFFER:
                    raise PolicyFailure(
                        "forward-request",
                        "ResponseTooLarge",
                        "The backend response is larger than the local gateway buffers.",
                    )
                chunks.append(chunk)
        except UpstreamError as exc:
            raise PolicyFailure(
                "forward-request",
                "BackendConnectionFailure",
                f"Error reading the backend response: {type(exc).__name__}.",
            ) from exc
        finally:
            await self.close_backend()
        self.ctx.Response.Body = Body(b"".join(chunks))

    def backend_url(self) -> str:
        if not self.backend_base:
            raise PolicyFailure(
                "forward-request",
                "BackendNotConfigured",
                "No backend service URL is configured for the API (serviceUrl or set-backend-service).",
            )
        base = self.backend_base.rstrip("/")
        path = (
            self.backend_path
            if self.backend_path.startswith("/") or not self.backend_path
            else "/" + self.backend_path
        )
        if path == "/" and not self.ctx.Request.OriginalUrl.Path.endswith("/"):
            path = ""
        return base + path + self.ctx.Request.Url.QueryString

    async def forward(
        self, timeout_s: float, buffer_response: bool, follow_redirects: bool, fail_on_error: bool
    ) -> None:
        req = self.ctx.Request
        url = self.backend_url()
        headers = [
            (k, v) for k, v in req.Headers.pairs() if k.lower() not in HOP_BY_HOP and k.lower() != "host"
        ]
        client_ip = req.IpAddress
        forwarded = req.Headers.m_GetValueOrDefault("X-Forwarded-For", None)
        headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
        headers.append(("X-Forwarded-For", f"{forwarded}, {client_ip}" if forwarded else client_ip))
        content: bytes | AsyncIterator[bytes] | None
        length: int | None = None
        if req.Body.content is not None:
            content = req.Body.content
        else:
            content = self.request_stream
            self.request_stream = None
            declared = req.Headers.m_GetValueOrDefault("Content-Length", None)
            length = int(declared) if isinstance(declared, str) and declared.strip().isdigit() else None
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        await self.close_backend()
        method = req.Method
        upstream: UpstreamReply | None = None
        try:
            # move_on_after, not fail_after: the same deadline without a generator context manager
            # per request (issue 20, gateway throughput); the timeout is answered below
            with anyio.move_on_after(timeout_s) as deadline:
                upstream = await self.services.upstream.request(method, url, headers, content, length)
                hops = 0
                while follow_redirects and upstream.status in (301, 302, 303, 307, 308) and hops < 10:
                    location = next((v for k, v in upstream.headers if k.lower() == "location"), None)
                    if location is None or (
                        upstream.status in (307, 308) and not isinstance(content, bytes | None)
                    ):
                        break
                    await upstream.aclose()
                    from urllib.parse import urljoin

                    url = urljoin(url, location)
                    if upstream.status == 303 or (upstream.status in (301, 302) and method == "POST"):
                        method, content, length = "GET", None, None
                    upstream = await self.services.upstream.request(method, url, headers, content, length)
                    hops += 1
        except UpstreamError as exc:
            self.error_response(500, "Internal server error")
            raise PolicyFailure(
                "forward-request",
                "BackendConnectionFailure",
                f"Error occured while calling backend service: {exc}",
            ) from exc
        if deadline.cancelled_caught or upstream is None:
            if upstream is not None:  # the deadline passed while following a redirect
                await upstream.aclose()
            self.error_response(504, "Gateway Timeout")
            raise PolicyFailure("forward-request", "Timeout", "Request to the backend service timed out")
        self.upstream = upstream
        self.forwarded = True
        resp_headers = Headers([(k, v) for k, v in upstream.headers if k.lower() not in HOP_BY_HOP])
        self.ctx.Response = Response(upstream.status, upstream.reason, resp_headers, Body(None))
        if buffer_response:
            await self.buffer_response()
        if fail_on_error and upstream.status >= 400:
            raise PolicyFailure("forward-request", "BackendError", f"The backend answered {upstream.status}.")


async def _run(steps: list[Step] | Any, rt: Runtime, section: str) -> None:
    rt.section = section
    await run_steps(steps, rt)


async def execute(rt: Runtime) -> None:
    """Run the pipeline; afterwards ``rt.ctx.Response`` (+ ``rt.upstream`` if streaming) is the answer."""
    p = rt.pipeline
    try:
        try:
            await _run(p.inbound, rt, "inbound")
            await _run(p.backend, rt, "backend")
            watching = bool(rt.usage_watchers) and rt.forwarded
            if p.uses_response_body or (watching and not rt.llm_request()[0]):
                await rt.buffer_response()
            if watching and rt.upstream is None:  # the answer is buffered (a stream too, if a policy read it)
                streamed, prompt = rt.llm_request()
                content = rt.ctx.Response.Body.content or b""
                if streamed:
                    tap = StreamUsage(prompt)
                    tap.feed(content)
                    rt.report_usage(tap.result())
                else:
                    rt.report_usage(usage_of_body(content))
            elif watching:
                rt.stream_usage = StreamUsage(rt.llm_request()[1])  # fed by the relay (``app``)
            await _run(p.outbound, rt, "outbound")
        except PolicyFailure as failure:
            section = rt.section
            # APIM records the error in its diagnostics; here the emulator's log says what
            # failed (the element, its reason and the underlying exception's type, never
            # request data), so an unexpected 5xx can be explained after the fact
            cause = failure.__cause__
            # a transport error's text names the network failure; any other exception's text
            # could carry request data (an expression's values), so only its type is logged
            said = f": {cause}" if isinstance(cause, UpstreamError | OSError | TimeoutError) else ""
            log.warning(
                "policy error in %s: %s %s%s",
                section,
                failure.source,
                failure.reason,
                f" ({type(cause).__name__}{said})" if cause is not None else "",
            )
            await rt.close_backend()
            if not rt.error_set:
                rt.error_response(500, "Internal server error")
            rt.ctx.LastError = LastError(
                failure.source, failure.reason, failure.message, failure.scope, section
            )
            try:
                await _run(p.on_error, rt, "on-error")
            except PolicyFailure as second:
                rt.ctx.LastError = LastError(
                    second.source, second.reason, second.message, second.scope, "on-error"
                )
                await rt.close_backend()
                rt.error_response(500, "Internal server error")
    except ReturnResponse:
        pass
