"""JSON-lines request log of the emulator (``<state>/requests.jsonl``).

Where it sits: the outermost ASGI middleware of the main port; tests and benchmarks count
calls by ``method``, ``api`` and ``resource`` from it. One line per request::

    {"ts": 1764337000.123, "method": "PUT", "path": "/subscriptions/.../apis/echo",
     "api": "arm", "resource": "microsoft.apimanagement/service/apis", "status": 201,
     "duration_ms": 1.9}

Never written: query strings, headers, bodies (they may carry codes, tokens and secrets); the
path goes through ``redaction.redact`` (a credential in a path segment, ``;sig=``, a JWT).
``api`` is ``arm`` | ``graph`` | ``identity`` | ``admin`` | ``other``; ``resource`` is the ARM
resource type (lower-case, ``resourcegroups`` for groups) or the Graph collection (``applications``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redaction import redact

REQUEST_LOG = "requests.jsonl"


def api_of(path: str) -> str:
    """Which emulated API a request path belongs to."""
    if path.startswith(("/subscriptions", "/providers", "/tenants")):
        return "arm"
    if path.startswith(("/v1.0/", "/v1.0")):
        return "graph"
    if path.startswith("/_emulator"):
        return "admin"
    if path.startswith(("/login", "/.well-known", "/metadata", "/msi", "/common", "/organizations")):
        return "identity"
    return "other"


def resource_of(path: str) -> str:
    """The resource a path addresses: ARM type (``microsoft.app/containerapps``) or Graph collection."""
    parts = [p for p in path.lower().split("/") if p]
    if not parts:
        return ""
    if parts[0] == "v1.0":
        if len(parts) < 2:
            return ""
        return parts[1].split("(", 1)[0]
    if "providers" in parts:
        i = len(parts) - 1 - parts[::-1].index("providers")
        rest = parts[i + 1 :]
        if not rest:
            return "providers"
        types = rest[1::2]
        return "/".join([rest[0], *types])
    if len(parts) >= 3 and parts[2] == "resourcegroups":
        return "resourcegroups"
    return parts[0]


class RequestLog:
    """Appends one JSON line per request; line-buffered so a ``kill -9`` loses nothing.

    The middleware writes a request's line before the client can have its whole answer (before
    the last body byte, or before the headers of a bodiless answer), so a client that read its
    answer and then reads this log finds the line.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("a", buffering=1, encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._file.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every complete record of a request log (tests and benchmarks).

    Another process appends to it: no exists()-then-read, and a last line the writer has not
    finished (no newline yet) is not a record yet.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = text.split("\n")[:-1]  # what follows the last newline is unfinished (or empty)
    return [json.loads(line) for line in lines if line.strip()]


def _complete_at_headers(method: str, status: int, headers: Any) -> bool:
    """Whether a client has the whole answer once its headers arrived (RFC 9110 6.4.1: no content
    in an answer to HEAD, in 1xx, 204 and 304; RFC 9112 6.3: ``Content-Length: 0``)."""
    if method == "HEAD" or status < 200 or status in (204, 304):
        return True
    return any(name.lower() == b"content-length" and value.strip() == b"0" for name, value in headers)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        logged = False

        def write() -> None:
            nonlocal logged
            if logged:
                return
            logged = True
            path: str = scope["path"]
            self.log.write(
                {
                    "ts": round(time.time(), 3),
                    "method": scope["method"],
                    "path": redact(path),
                    "api": api_of(path),
                    "resource": resource_of(path),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                }
            )

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if _complete_at_headers(scope["method"], status, message.get("headers", [])):
                    # The server writes the status line and headers on this message (uvicorn
                    # does), and for a bodiless answer they are the whole answer: the client has
                    # it before the body message comes. Written now, or a test reading the log
                    # right after a HEAD (check_existence) could run before the line was there.
                    write()
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                write()  # before the last byte leaves: a client that got its answer finds the line
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            write()
