"""A lean HTTP/1.1 client for ``forward-request``: pooled keep-alive connections over anyio streams.

Why not httpx here: the gateway's hot path is one backend call per request, and httpx/httpcore
cost more than the whole policy pipeline (pool bookkeeping, per-call async-library
detection). This client does only what forwarding needs: write a request (fixed-length or
chunked body, streamed), read the status line and headers, then hand the body out as it
arrives (Content-Length, chunked, or until close) so SSE streams through unbuffered. A
connection returns to the pool only after its response body was read completely.

A request never fails because of a stale pooled connection (issue 17, item 1: a backend such as
uvicorn closes a keep-alive connection after 5 s idle; the pool used to hand it out, then retry
on another pooled connection just as stale). Three layers:

1. A pooled connection is checked before use: one whose last request was sent longer than
   ``keepalive_expiry`` ago (below the keep-alive of uvicorn/Node/Apache backends; counted
   from the request, an upper bound of the backend's idle time), or whose socket is readable while idle
   (the peer's FIN, RST or TLS close_notify; or bytes nobody asked for, such as a 408), is
   closed instead of reused.
2. If a reused connection still breaks before a single byte of the response arrived (the
   backend closed it while the request was on its way), the request is sent again once, on a
   NEW connection - never on another pooled one - when that is safe: the body is replayable
   (not a consumed stream) and the method is idempotent (RFC 9110 section 9.2.2: "A proxy MUST
   NOT automatically retry non-idempotent requests"; Go's net/http transport draws the same
   line in ``shouldRetryRequest``). APIM's own retry of a request body is opt-in
   (``forward-request buffer-request-body``).
3. A fresh connection that fails is an error (``UpstreamError``): the backend is really down.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio
import httpx
from anyio.abc import ByteStream, SocketAttribute
from anyio.streams.buffered import BufferedByteReceiveStream

MAX_HEAD = 64 * 1024
MAX_IDLE_PER_HOST = 64
# Below the idle keep-alive of the usual backends (uvicorn's ``timeout_keep_alive`` and Node's
# ``keepAliveTimeout`` default to 5 s) and of the local target's apps (``ports.APP_KEEP_ALIVE_S``,
# 2 s), by a second at least: the pool drops a connection before the backend would.
KEEPALIVE_EXPIRY_S = 1.0
# RFC 9110 section 9.2.2: the methods a request of which may be sent again automatically.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_TRANSPORT_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
    ssl.SSLError,
    anyio.IncompleteRead,
)
_NO_BODY_STATUS = frozenset({204, 304})
_SKIP_REQUEST_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "expect",
    }
)


class UpstreamError(Exception):
    """The backend could not be reached or broke the HTTP exchange."""


@dataclass(eq=False)
class _Connection:
    key: tuple[str, str, int]
    stream: ByteStream
    reader: BufferedByteReceiveStream
    reused: bool = False
    # When the last request on this connection was sent. The backend's idle clock starts when it
    # has sent its response, which is never before the request was sent, so ``now - sent_at``
    # bounds the backend's idle time from above, however late this side read the response (a
    # streamed body read at the pace of a slow client, a loaded machine). Counting from
    # ``release`` instead (the end of reading) under-estimated it by that lag: a connection the
    # backend had idled for 5 s looked 3 s idle, was reused just as uvicorn's keep-alive
    # timer closed it, and a POST (never sent again: not idempotent) answered 500.
    sent_at: float = 0.0
    # The socket and its poller, registered once. Looked up per check, anyio's typed attribute
    # cost 10 µs a request (it builds the stream's whole attribute table each time): a third of
    # what the gateway's throughput lost in issue 20. No socket (a stream in memory): nothing to poll.
    _sock: socket.socket | None = field(default=None, init=False, repr=False)
    _poller: select.poll | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._sock = self.stream.extra(SocketAttribute.raw_socket, None)  # noqa: S610 - anyio typed attribute, not Django
        if self._sock is not None:
            poller = select.poll()
            with contextlib.suppress(OSError, ValueError):  # left None: never reused (below)
                poller.register(self._sock, select.POLLIN | select.POLLPRI)
                self._poller = poller

    def reusable(self, now: float, expiry: float) -> bool:
        """Whether this idle keep-alive connection can carry another request."""
        if now - self.sent_at >= expiry or self.reader.buffer:
            return False
        if self._sock is None:
            return True
        if self._poller is None or self._sock.fileno() == -1:  # closed: its number may be another's now
            return False
        # Between two exchanges an HTTP/1.1 server sends nothing: a readable socket means the
        # backend closed (EOF, reset, TLS close_notify) or broke the protocol - never reuse it.
        try:
            return not self._poller.poll(0)
        except (OSError, ValueError):
            return False

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(
                OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError
            ):
                await self.stream.aclose()


@dataclass(eq=False)
class UpstreamResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    _conn: _Connection | None
    _pool: UpstreamPool
    _length: int | None
    _chunked: bool
    _keep_alive: bool
    _done: bool = False
    _started: bool = field(default=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (transfer coding removed, content coding kept)."""
        if self._started:
            raise UpstreamError("the response body was already read")
        self._started = True
        conn = self._conn
        if conn is None:
            return
        reader = conn.reader
        try:
            if self._chunked:
                while True:
                    line = await reader.receive_until(b"\r\n", 4096)
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while (await reader.receive_until(b"\r\n", MAX_HEAD)) != b"":
                            pass  # trailers
                        break
                    remaining = size
                    while remaining:
                        data = await reader.receive(min(remaining, 65536))
                        remaining -= len(data)
                        yield data
                    await reader.receive_exactly(2)
            elif self._length is not None:
                remaining = self._length
                while remaining:
                    data = await reader.receive(min(remaining, 65536))
                    remaining -= len(data)
                    yield data
            else:
                self._keep_alive = False
                while True:
                    try:
                        data = await reader.receive(65536)
                    except anyio.EndOfStream:
                        break
                    yield data
        except (
            anyio.EndOfStream,
            anyio.IncompleteRead,
            anyio.BrokenResourceError,
            anyio.DelimiterNotFound,
            ValueError,
            OSError,
            ssl.SSLError,
        ) as exc:
            self._keep_alive = False
            raise UpstreamError(f"the backend broke the response body ({type(exc).__name__})") from exc
        self._done = True
        await self.aclose()

    async def read(self) -> bytes:
        parts = [chunk async for chunk in self.chunks()]
        return b"".join(parts)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._keep_alive:
            await self._pool.release(conn)
        else:
            await conn.close()


def _frame(headers: list[tuple[str, str]], status: int, method: str) -> tuple[int | None, bool, bool]:
    length: int | None = None
    chunked = False
    keep_alive = True
    for name, value in headers:
        lower = name.lower()
        if lower == "content-length":
            try:
                length = int(value.strip())
            except ValueError as exc:
                raise UpstreamError("invalid Content-Length from the backend") from exc
            if length < 0:
                raise UpstreamError("invalid Content-Length from the backend")
        elif lower == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif lower == "connection" and "close" in value.lower():
            keep_alive = False
    if method == "HEAD" or status in _NO_BODY_STATUS or 100 <= status < 200:
        return 0, False, keep_alive
    if chunked:
        length = None
    return length, chunked, keep_alive


class UpstreamPool:
    def __init__(self, ssl_context: ssl.SSLContext, keepalive_expiry: float = KEEPALIVE_EXPIRY_S) -> None:
        self.ssl_context = ssl_context
        self.keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}

    async def release(self, conn: _Connection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) < MAX_IDLE_PER_HOST:
            conn.reused = True
            idle.append(conn)
        else:
            await conn.close()

    async def _pooled(self, key: tuple[str, str, int]) -> _Connection | None:
        """The most recently used idle connection that is still sound (the others are closed)."""
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.reusable(now, self.keepalive_expiry):
                return conn
            await conn.close()
        return None

    async def _connect(self, key: tuple[str, str, int]) -> _Connection:
        """A NEW connection (TCP, then TLS for https)."""
        scheme, host, port = key
        try:
            stream: ByteStream = await anyio.connect_tcp(host, port)
        except OSError as exc:
            raise UpstreamError(f"cannot connect to {host}:{port} ({type(exc).__name__}: {exc})") from exc
        if scheme == "https":
            from anyio.streams.tls import TLSStream

            try:
                stream = await TLSStream.wrap(
                    stream, hostname=host, ssl_context=self.ssl_context, standard_compatible=False
                )
            except BaseException as exc:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                if isinstance(exc, OSError | ssl.SSLError | anyio.BrokenResourceError | anyio.EndOfStream):
                    raise UpstreamError(
                        f"TLS with {host}:{port} failed ({type(exc).__name__}: {exc})"
                    ) from exc
                raise
        return _Connection(key, stream, BufferedByteReceiveStream(stream))

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None,
        content_length: int | None = None,
    ) -> UpstreamResponse:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"'{url}' is not an absolute http(s) URL")
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = port == (443 if scheme == "https" else 80)
        host_header = parts.hostname if default_port else f"{parts.hostname}:{port}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _SKIP_REQUEST_HEADERS]
        streaming = body is not None and not isinstance(body, bytes)
        if isinstance(body, bytes):
            if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS", "TRACE"):
                lines.append(f"Content-Length: {len(body)}")
        elif streaming:
            lines.append(
                f"Content-Length: {content_length}"
                if content_length is not None
                else "Transfer-Encoding: chunked"
            )
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        replayable = not streaming and method.upper() in IDEMPOTENT_METHODS
        conn = await self._pooled(key) or await self._connect(key)
        while True:
            received = False
            conn.sent_at = time.monotonic()
            try:
                await conn.stream.send(head + body if isinstance(body, bytes) else head)
                if streaming:
                    assert body is not None
                    assert not isinstance(body, bytes)
                    async for chunk in body:
                        if not chunk:
                            continue
                        if content_length is None:
                            await conn.stream.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        else:
                            await conn.stream.send(chunk)
                    if content_length is None:
                        await conn.stream.send(b"0\r\n\r\n")
                while True:
                    raw = await conn.reader.receive_until(b"\r\n\r\n", MAX_HEAD)
                    received = True
                    status, reason, resp_headers = _parse_head(raw)
                    if 100 <= status < 200 and status != 101:
                        continue
                    break
            except _TRANSPORT_ERRORS as exc:
                nothing_back = not received and not conn.reader.buffer
                await conn.close()
                if conn.reused and nothing_back and replayable:
                    # the backend closed this keep-alive connection while the request was on its
                    # way: send it again once, on a connection of its own (never another pooled one)
                    conn = await self._connect(key)
                    continue
                raise UpstreamError(f"the backend closed the connection ({type(exc).__name__})") from exc
            except (anyio.DelimiterNotFound, ValueError) as exc:
                await conn.close()
                raise UpstreamError("the backend sent an invalid HTTP response head") from exc
            except BaseException:
                await conn.close()
                raise
            length, chunked, keep_alive = _frame(resp_headers, status, method)
            response = UpstreamResponse(status, reason, resp_headers, conn, self, length, chunked, keep_alive)
            if length == 0:
                response._done = True
                await response.aclose()
            return response

    async def aclose(self) -> None:
        conns = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        for conn in conns:
            await conn.close()


def _parse_head(raw: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError("not HTTP/1.x")
    code_text, _, reason = rest.partition(" ")
    status = int(code_text)
    if not 100 <= status <= 999:
        raise ValueError("bad status")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or "\x00" in line:
            raise ValueError("bad header line")  # RFC 9110 section 5.5: no NUL in a field
        headers.append((name, value.strip()))
    return status, reason, headers


class HttpxUpstream:
    """The same interface over an ``httpx.AsyncClient`` (tests plug ASGI/mock transports in)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | AsyncIterator[bytes] | None,
        content_length: int | None = None,
    ) -> HttpxResponse:
        hdrs = [(k, v) for k, v in headers if k.lower() not in _SKIP_REQUEST_HEADERS]
        if content_length is not None:
            hdrs.append(("Content-Length", str(content_length)))
        try:
            request = self.client.build_request(method, url, headers=hdrs, content=body or None)
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from exc
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        return HttpxResponse(response.status_code, response.reason_phrase, raw, response)

    async def aclose(self) -> None:
        await self.client.aclose()


@dataclass(eq=False)
class HttpxResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    _response: httpx.Response

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            if self._response.is_stream_consumed:  # an in-memory transport already read it
                yield self._response.content
                return
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from exc

    async def read(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    async def aclose(self) -> None:
        await self._response.aclose()


Upstream = UpstreamPool | HttpxUpstream
UpstreamReply = UpstreamResponse | HttpxResponse
