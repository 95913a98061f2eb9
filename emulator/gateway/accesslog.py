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
``redaction.redact``. File: ``<state>/gateway.jsonl`` (the emulator's umask makes it 0600).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import IO, Any

from redaction import redact

ACCESS_LOG = "gateway.jsonl"
MATCH_KEY = "prmlab.gateway.match"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class AccessLog:
    """Appends one JSON line per request; line-buffered so a ``kill -9`` loses nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            self._file = self.path.open("a", buffering=1, encoding="utf-8")
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


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
                {
                    "ts": round(time.time(), 3),
                    "service": self.service,
                    "method": scope.get("method", ""),
                    "path": redact(scope.get("path") or "/"),
                    "status": status,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                    "api": matched["api"],
                    "operation": matched["operation"],
                }
            )
