"""The ASGI app of one APIM service's gateway: route, run the pipeline, answer (streaming).

Flow per request: match API + operation in the config snapshot (404 as APIM otherwise),
admission by subscription key or open product (``subscriptions``), build ``context`` (with
``Subscription``/``User``/``Product``), buffer the request body only when a policy reads
it (otherwise it streams to the backend), ``engine.execute``, then send ``context.Response``
— a backend response still streaming is relayed chunk by chunk (SSE, chunked) and closed when
the client goes away. A policy the gateway cannot compile answers 500 naming the construct
(PUT-time checks make that rare: e.g. a named value deleted after the policy was stored).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from itertools import chain
from typing import Any
from urllib.parse import parse_qsl

import anyio

from emulator.gateway import tracing
from emulator.gateway.accesslog import MATCH_KEY
from emulator.gateway.config import Match, ServiceConfig, Snapshot
from emulator.gateway.elements import CorsStep
from emulator.gateway.engine import Runtime, execute, raw_chunks
from emulator.gateway.errors import PolicyCompileError
from emulator.gateway.expr.context import (
    Api,
    Body,
    Context,
    Deployment,
    Group,
    Headers,
    Operation,
    Product,
    Request,
    Subscription,
    Url,
    User,
    UserIdentity,
)
from emulator.gateway.expr.netlib import NetDict
from emulator.gateway.policy import Pipeline
from emulator.gateway.services import Services
from emulator.gateway.subscriptions import Admission
from emulator.gateway.upstream import UpstreamError, UpstreamReply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
MAX_REQUEST_BUFFER = 16 * 1024 * 1024
_FORBIDDEN_IN_FIELDS = re.compile("[\r\n\x00]")


async def _simple(
    send: Send, status: int, payload: dict[str, Any], headers: list[tuple[str, str]] | None = None
) -> None:
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers or []]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class GatewayApp:
    def __init__(self, config: ServiceConfig, services: Services, gateway_url: str) -> None:
        self.config = config
        self.services = services
        self.gateway_url = gateway_url.rstrip("/")
        service_name = config.service_key.rsplit("/", 1)[-1]
        self.deployment = Deployment(service_name, config.service_key, "local")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"].upper()
        path: str = scope.get("path") or "/"
        snapshot = self.config.snapshot()
        headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers") or [])
        match, preflight = self._route(snapshot, path, method, headers)
        matched = scope.get(MATCH_KEY)
        if matched is not None and match is not None:  # for the access log (accesslog)
            matched["api"] = match.api.name
            matched["operation"] = match.operation.name if match.operation is not None else None
        if match is None:
            await _simple(send, 404, {"statusCode": 404, "message": "Resource not found"})
            return
        query = parse_qsl((scope.get("query_string") or b"").decode("latin-1"), keep_blank_values=True)
        admission = Admission()
        if preflight is None:
            admission = snapshot.directory.admit(
                match.api.name,
                match.api.subscription_required,
                self._subscription_key(headers, query, match.api.body),
            )
            if admission.refusal is not None:
                await _simple(send, 401, {"statusCode": 401, "message": admission.refusal})
                return
        try:
            product = admission.product.id if admission.product is not None else ""
            pipeline = snapshot.pipeline(match, product) if preflight is None else preflight[1]
        except PolicyCompileError as exc:
            await _simple(
                send,
                500,
                {
                    "statusCode": 500,
                    # element and line only: the detail may quote text with secret named values in it
                    "message": f"The local gateway cannot run the policy: error in element '{exc.element}' on line {exc.line}.",
                },
            )
            return
        self.services.backends = snapshot.backends
        self.services.app_insights = snapshot.app_insights
        request_body = await self._request_body(headers, pipeline, receive)
        if request_body is None:
            await _simple(send, 413, {"statusCode": 413, "message": "Request entity too large"})
            return
        body, stream = request_body
        ctx = self._context(scope, method, path, query, headers, body, match)
        self._admitted(ctx, admission, snapshot)
        rt = Runtime(
            ctx,
            self.services,
            pipeline,
            match.api.service_url,
            match.remainder if match.remainder != "/" or path.endswith("/") else "",
            stream,
        )
        rt.preflight = preflight is not None
        debug = headers.get_values(tracing.DEBUG_HEADER)
        if debug and preflight is None:  # APIM request tracing (``tracing``): only with a valid credential
            verdict = tracing.check(
                self.services.emulator.store, self.services.service_key, debug[0], match.api.name
            )
            if verdict.trace:
                operation = match.operation.name if match.operation is not None else ""
                rt.recorder = tracing.Recorder(match.api.name, operation, method, path)
            elif verdict.header is not None:
                rt.extra_response_headers.append(verdict.header)
        sent = [0]  # response body bytes sent (quotas count bandwidth)
        try:
            await execute(rt)
            if rt.recorder is not None:
                document = rt.recorder.document(rt.ctx.Response.StatusCode, dict(headers.pairs()))
                tracing.save(self.services.emulator.store, self.services.service_key, document)
                rt.extra_response_headers.append(("Apim-Trace-Id", rt.recorder.trace_id))
            await self._respond(rt, method, receive, send, sent)
        finally:
            await rt.close_backend()
            for done in rt.completion:  # quotas count the call once it has been answered
                done(sent[0])

    def _route(
        self, snapshot: Snapshot, path: str, method: str, headers: Headers
    ) -> tuple[Match | None, tuple[Match, Pipeline] | None]:
        """The API and operation of the request, and for a CORS preflight its route and pipeline."""
        match = snapshot.match(path, method)
        preflight = None
        if (
            method == "OPTIONS"
            and (match is None or match.operation is None)
            and headers.m_ContainsKey("Origin")
            and headers.m_ContainsKey("Access-Control-Request-Method")
        ):
            preflight = self._preflight_route(snapshot, path, headers)
            if preflight is not None:
                match = preflight[0]
        return match, preflight

    async def _request_body(
        self, headers: Headers, pipeline: Pipeline, receive: Receive
    ) -> tuple[Body, AsyncIterator[bytes] | None] | None:
        """The body, buffered only when a policy reads it (else streamed); ``None``: too large."""
        has_body = (
            headers.m_ContainsKey("Content-Length") and headers.m_GetValueOrDefault("Content-Length") != "0"
        ) or headers.m_ContainsKey("Transfer-Encoding")
        if not has_body:
            return Body(b""), None
        if pipeline.uses_request_body:
            data = await self._read_body(receive)
            return None if data is None else (Body(data), None)
        return Body(None), self._stream_body(receive)

    def _context(
        self,
        scope: Scope,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: Headers,
        body: Body,
        match: Match,
    ) -> Context:
        """The policy ``context`` of the request."""
        host = headers.m_GetValueOrDefault("Host", "127.0.0.1")
        hostname, _, port_text = str(host).partition(":")
        port = int(port_text) if port_text.isdigit() else 443
        url = Url("https", hostname, port, path, query)
        client = scope.get("client") or ("127.0.0.1", 0)
        request = Request(method, url, headers, body, str(client[0]))
        request.MatchedParameters = NetDict(match.params)
        api = Api(dict(match.api.body), match.api.name)
        op = match.operation
        operation = (
            Operation(op.name, op.display_name, op.method, op.template)
            if op
            else Operation("", "", method, "/*")
        )
        return Context(request, self.deployment, api, operation)

    @staticmethod
    def _preflight_route(snapshot: Snapshot, path: str, headers: Headers) -> tuple[Match, Pipeline] | None:
        """A CORS preflight no ``OPTIONS`` operation takes: APIM answers it with the cors policy
        of the operation the real request will reach (matched by ``Access-Control-Request-Method``;
        no subscription key needed), running only the cors policies of its effective ``inbound``.
        ``None`` when that operation has no cors policy: the request is then routed as any other
        (no ``OPTIONS`` operation: 404)."""
        requested = str(headers.m_GetValueOrDefault("Access-Control-Request-Method", "") or "").strip()
        if not requested or requested.upper() == "OPTIONS":
            return None
        target = snapshot.match(path, requested.upper())
        if target is None:
            return None
        try:
            full = snapshot.pipeline(target)
        except PolicyCompileError:
            return None
        cors = [s for s in full.inbound if isinstance(s, CorsStep)]
        if not cors:
            return None
        return target, Pipeline(cors, [], [], [], False, False)

    @staticmethod
    def _subscription_key(headers: Headers, query: list[tuple[str, str]], api_body: Any) -> str | None:
        """The key the request carries: the API's header, else (only when the header is absent)
        its query parameter (Learn "Subscriptions in Azure API Management", "Use a subscription key")."""
        names = ((api_body.get("properties") or {}).get("subscriptionKeyParameterNames")) or {}
        header_name = names.get("header", "Ocp-Apim-Subscription-Key")
        query_name = names.get("query", "subscription-key")
        if headers.m_ContainsKey(header_name):
            return str(headers.m_GetValueOrDefault(header_name, "") or "")
        return next((v for k, v in query if k == query_name), None)

    @staticmethod
    def _admitted(ctx: Context, admission: Admission, snapshot: Snapshot) -> None:
        """``context.Subscription`` / ``User`` / ``Product`` of an admitted request (null when none)."""
        sub, user, product = admission.subscription, admission.user, admission.product
        if sub is not None:
            ctx.Subscription = Subscription(
                sub.id,
                sub.name,
                admission.key,
                sub.primary_key,
                sub.secondary_key,
                sub.created,
                sub.start,
                sub.end,
            )
        if user is not None:
            ctx.User = User(
                user.id, user.email, user.first_name, user.last_name, user.note, user.registered,
                [Group(g.id, g.name) for g in user.groups], [UserIdentity(i, p) for p, i in user.identities],
            )  # fmt: skip
        if product is not None:
            apis = [Api(dict(a.body), a.name) for a in snapshot.apis if a.name.lower() in product.apis]
            ctx.Product = Product(
                product.id, product.name, product.published, product.approval_required,
                product.subscription_required, product.limit, apis, [Group(g.id, g.name) for g in product.groups],
            )  # fmt: skip

    @staticmethod
    async def _read_body(receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                break
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > MAX_REQUEST_BUFFER:
                return None
            chunks.append(chunk)
            if not msg.get("more_body"):
                break
        return b"".join(chunks)

    @staticmethod
    async def _stream_body(receive: Receive) -> AsyncIterator[bytes]:
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            if chunk:
                yield chunk
            if not msg.get("more_body"):
                return

    @staticmethod
    def _head(rt: Runtime, method: str) -> tuple[list[tuple[str, str]], bool, bool, bytes]:
        """The response's header fields, whether its body streams, has no body, and the bytes."""
        response = rt.ctx.Response
        pairs = response.Headers.pairs() + rt.cors_headers + rt.extra_response_headers
        streaming = rt.upstream is not None and response.Body.content is None
        no_body = method == "HEAD" or response.StatusCode in (204, 304) or 100 <= response.StatusCode < 200
        data = b""
        if not streaming:
            data = b"" if no_body else (response.Body.content or b"")
            pairs = [(k, v) for k, v in pairs if k.lower() not in ("content-length", "transfer-encoding")]
            if not no_body:
                pairs.append(("Content-Length", str(len(data))))
        return pairs, streaming, no_body, data

    async def _respond(self, rt: Runtime, method: str, receive: Receive, send: Send, sent: list[int]) -> None:
        """Send ``context.Response`` (relaying a streamed body); ``sent[0]``: the body bytes sent."""
        if not 100 <= rt.ctx.Response.StatusCode <= 599:  # only reachable through a bug: never send it
            await rt.close_backend()
            rt.error_response(500, "Internal server error")
        pairs, streaming, no_body, data = self._head(rt, method)
        if _FORBIDDEN_IN_FIELDS.search("".join(chain.from_iterable(pairs))):
            # The last line of defence (RFC 9110 section 5.5: CR, LF, NUL are never valid in a
            # field): a head that cannot be sent is a 500, never a connection dropped half-way.
            await rt.close_backend()
            rt.cors_headers.clear()
            rt.extra_response_headers.clear()
            rt.error_response(500, "Internal server error")
            pairs, streaming, no_body, data = self._head(rt, method)
        response = rt.ctx.Response
        raw = [
            (k.encode("latin-1", errors="replace"), v.encode("latin-1", errors="replace")) for k, v in pairs
        ]
        await send({"type": "http.response.start", "status": response.StatusCode, "headers": raw})
        if not streaming:
            await send({"type": "http.response.body", "body": data})
            sent[0] = len(data)
            return
        upstream = rt.upstream
        assert upstream is not None
        if no_body:
            await send({"type": "http.response.body", "body": b""})
            return
        sized = any(k.lower() == "content-length" for k, _ in pairs)
        if sized:  # a bounded body: relay it, no need to watch for the client leaving
            await self._relay(rt, upstream, send, sent)
            return
        async with anyio.create_task_group() as tg:  # a stream (SSE, chunked): stop when the client leaves

            async def watch_disconnect() -> None:
                while True:
                    msg = await receive()
                    if msg["type"] == "http.disconnect":
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watch_disconnect)
            await self._relay(rt, upstream, send, sent)
            tg.cancel_scope.cancel()

    @staticmethod
    async def _relay(rt: Runtime, upstream: UpstreamReply, send: Send, sent: list[int]) -> None:
        tap = rt.stream_usage  # AI-gateway policies read the usage as the stream passes
        try:
            async for chunk in raw_chunks(upstream):
                if chunk:
                    if tap is not None:
                        tap.feed(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    sent[0] += len(chunk)
            await send({"type": "http.response.body", "body": b""})
        except (OSError, UpstreamError):
            pass  # the client went away, or the backend broke the stream: the response ends here
        finally:
            await rt.close_backend()
            if tap is not None:
                rt.report_usage(tap.result())
