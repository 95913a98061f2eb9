"""The gateways' access log: one JSON line per request a local gateway answered.

Where it sits: the outermost ASGI layer of every APIM service's gateway port
(``server.GatewayManager`` wraps each ``GatewayApp`` in ``AccessLogMiddleware``); ``prmlab logs
gateway`` reads the file. ``GatewayApp`` puts what it matched into the request scope
(``MATCH_KEY``), so a line says which API and operation took the request::

    {"ts": 1764337000.123, "service": "apim-lab", "method": "POST", "path": "/mcp",
     "status": 401, "duration_ms": 2.4, "api": "mcp", "operation": "mcp-post"}

``api``/``operation`` are null when nothing matched (APIM's 404) or the API has no operation for
the request. ``status`` is null when the client went away before the answer started. Never
written: query strings, headers, bodies (codes, tokens, keys); the path goes through
``redaction.redact``. File: ``<state>/gateway.jsonl`` (0600).

Cost (issue 20, gateway throughput): the line is formatted by hand (one ``json.dumps`` with
``separators`` built a new encoder per request: 16 µs, the largest single cost this layer added)
and appended with one ``os.write`` on an ``O_APPEND`` descriptor - as durable as the
line-buffered text file it replaces (a ``kill -9`` loses nothing), without its encoding layer.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

from redaction import redact

ACCESS_LOG = "gateway.jsonl"
MATCH_KEY = "prmlab.gateway.match"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def _text(value: str | None) -> str:
    """A JSON string (ASCII, as ``json.dumps`` writes it) or ``null``."""
    return "null" if value is None else encode_basestring_ascii(value)


@functools.lru_cache(maxsize=1024)
def _path(path: str) -> str:
    """The redacted path as JSON (a gateway sees the same few paths again and again)."""
    return encode_basestring_ascii(redact(path))


class AccessLog:
    """Appends one JSON line per request, each with its own ``write``: a ``kill -9`` loses nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def write(
        self,
        *,
        ts: float,
        service: str,
        method: str,
        path: str,
        status: int | None,
        duration_ms: float,
        api: str | None,
        operation: str | None,
    ) -> None:
        """One line (``path`` is redacted here)."""
        line = (
            f'{{"ts":{ts:.3f},"service":{_text(service)},"method":{_text(method)},'
            f'"path":{_path(path)},"status":{"null" if status is None else int(status)},'
            f'"duration_ms":{duration_ms:.1f},"api":{_text(api)},"operation":{_text(operation)}}}\n'
        )
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        data = line.encode("ascii")
        while data:  # a regular file takes it at once; a short write is finished, never dropped
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class AccessLogMiddleware:
    def __init__(self, app: App, log: AccessLog, service: str) -> None:
        self.app = app
        self.log = log
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status: int | None = None
        matched: dict[str, str | None] = {"api": None, "operation": None}
        scope[MATCH_KEY] = matched

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.log.write(
                ts=time.time(),
                service=self.service,
                method=scope.get("method", ""),
                path=scope.get("path") or "/",
                status=status,
                duration_ms=(time.monotonic() - started) * 1000,
                api=matched["api"],
                operation=matched["operation"],
            )
