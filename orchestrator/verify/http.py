"""HTTP helpers of the verifier: clients that trust the lab's CA, parsers for challenges, and
the retry of transient answers from the identity service.

Transient failures (issue 17.6): the identity service (Entra, or the local one) may answer 429
(throttled, with ``Retry-After``), 500/502/503/504, or drop a connection; a real client retries
those, so the verifier does too — through the shared policy (``orchestrator.retry``: backoff with
jitter, the server's ``Retry-After``/``retry-after-ms`` honoured as a minimum, a bounded number
of attempts). ``RetryingTransport`` does it below every client the verifier builds (``client``
for httpx, ``sdk_client`` for the MCP SDK's httpx2 client that performs the token exchange), but
only for requests to ``retry_origins`` — the identity service. The lab's gateway and MCP server
are never retried: an error there is what the checks exist to catch. When the attempts run out
the verifier's own checks get the last answer (they report its status and the attempts), and the
MCP SDK gets ``IdentityUnavailableError`` (the sign-in check reports it as one sentence).
"""

from __future__ import annotations

import functools
import re
import ssl
from collections.abc import Awaitable, Callable, Collection, Iterable
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2

from orchestrator.errors import TemporaryError
from orchestrator.retry import RetriesExhaustedError, RetryPolicy, Sleep, call_with_retry, retry_delay

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """System trust plus the lab's CA (local target) — never trust-everything.

    One context per CA file (as it is on disk: a regenerated CA gets a new one), shared by every
    client of the run: loading the system's trust store costs tens of milliseconds, and the
    forged-token battery alone builds a client per minted token."""
    if ca_file is None:
        return _context(None, None)
    stat = Path(ca_file).stat()
    return _context(str(ca_file), (stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _context(ca_file: str | None, _version: tuple[int, int] | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_file is not None:
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# Sign-in is interactive work: give up sooner than a reconcile does (about half a minute).
VERIFY_RETRY_POLICY = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=8.0, deadline=45.0)


def origin(url: str | httpx.URL) -> str:
    """``scheme://host:port`` (default ports made explicit), lower-case."""
    parsed = httpx.URL(str(url))
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.scheme}://{parsed.host}:{port}".lower()


def identity_origins(target: Any) -> frozenset[str]:
    """Where the identity service of a ``VerifyTarget`` answers: its token issuer's origin."""
    issuer = getattr(target, "token_issuer", None)
    return frozenset({origin(issuer)}) if issuer else frozenset()


class IdentityUnavailableError(httpx2.TransportError):
    """The identity service kept failing a request of the MCP SDK's sign-in: the retries ran out.

    Raised (not a last answer handed back) because the SDK treats a failed metadata request as
    "not there" and falls back to other URLs, which would hide the real cause from the report."""


ATTEMPTS = "prmlab.attempts"  # response extension: how many attempts a retried answer took


class _Retry:
    """The retry loop shared by the httpx and httpx2 transports below."""

    def __init__(self, origins: Iterable[str], policy: RetryPolicy, sleep: Sleep) -> None:
        self.origins = frozenset(origin(o) for o in origins)
        self.policy = policy
        self.sleep = sleep

    async def send(
        self,
        request: Any,
        send: Callable[[Any], Awaitable[Any]],
        transport_errors: tuple[type[BaseException], ...],
        *,
        raise_when_exhausted: bool,
    ) -> Any:
        if origin(str(request.url)) not in self.origins:
            return await send(request)
        resource = f"{request.method} {str(request.url).split('?', 1)[0]}"
        last: list[Any] = []

        async def attempt() -> Any:
            try:
                response = await send(request)
            except transport_errors as exc:
                last[:] = [exc]
                raise TemporaryError(resource, f"no answer ({type(exc).__name__})") from exc
            if response.status_code in TRANSIENT_STATUSES:
                await response.aread()  # keep the body: it is handed back if the retries run out
                last[:] = [response]
                raise TemporaryError(
                    resource, f"HTTP {response.status_code}", delay=retry_delay(response.headers)
                )
            return response

        try:
            response, attempts = await call_with_retry(attempt, self.policy, sleep=self.sleep)
        except RetriesExhaustedError as exc:
            if raise_when_exhausted:
                raise IdentityUnavailableError(
                    f"the identity service kept failing: {resource} {exc.cause}"
                ) from None
            if isinstance(last[0], BaseException):
                raise last[0] from None
            last[0].extensions[ATTEMPTS] = self.policy.max_attempts
            return last[0]
        response.extensions[ATTEMPTS] = attempts
        return response


class RetryingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that retries transient answers of ``origins`` (see the module doc)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        origins: Iterable[str],
        policy: RetryPolicy = VERIFY_RETRY_POLICY,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._inner = inner
        self._retry = _Retry(origins, policy, sleep)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self._retry.send(
            request, self._inner.handle_async_request, (httpx.TransportError,), raise_when_exhausted=False
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class RetryingTransport2(httpx2.AsyncBaseTransport):
    """The same for httpx2 (the MCP SDK's HTTP client, which runs the OAuth token exchange)."""

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        origins: Iterable[str],
        policy: RetryPolicy = VERIFY_RETRY_POLICY,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._inner = inner
        self._retry = _Retry(origins, policy, sleep)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response: httpx2.Response = await self._retry.send(
            request, self._inner.handle_async_request, (httpx2.TransportError,), raise_when_exhausted=True
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def client(
    ca_file: Path | None, timeout: float = 15.0, *, retry_origins: Collection[str] = ()
) -> httpx.AsyncClient:
    """The verifier's httpx client; transient answers of ``retry_origins`` are retried."""
    context = ssl_context(ca_file)
    transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(verify=context)
    if retry_origins:
        transport = RetryingTransport(transport, retry_origins)
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)


def sdk_client(
    ca_file: Path | None, *, auth: Any = None, timeout: float = 30.0, retry_origins: Collection[str] = ()
) -> httpx2.AsyncClient:
    """An httpx2 client for the MCP SDK (``auth``: its OAuth provider); transient answers of
    ``retry_origins`` (the token endpoint's) are retried."""
    context = ssl_context(ca_file)
    transport: httpx2.AsyncBaseTransport = httpx2.AsyncHTTPTransport(verify=context)
    if retry_origins:
        transport = RetryingTransport2(transport, retry_origins)
    return httpx2.AsyncClient(auth=auth, transport=transport, timeout=timeout)


def parse_bearer_challenge(header: str | None) -> dict[str, str] | None:
    """Parameters of a ``WWW-Authenticate: Bearer ...`` challenge, or None if it is not one."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _PARAM.finditer(rest)
    }


def path_inserted_prm_url(resource: str) -> str:
    """RFC 9728 §3.1: ``https://host/mcp`` -> ``https://host/.well-known/oauth-protected-resource/mcp``.

    Deliberately independent of ``orchestrator.urls`` (which builds the URLs the lab serves): the
    verifier checks the deployed gateway against the RFC, so a mistake there cannot hide here.
    Only the slash right after the host is dropped; the query is kept. ``tests/orchestrator/
    test_urls.py`` holds both to one table.
    """
    parsed = httpx.URL(resource)
    path = "" if parsed.path == "/" else parsed.path
    return str(parsed.copy_with(path="/.well-known/oauth-protected-resource" + path, fragment=None))


def as_metadata_urls(issuer: str) -> list[str]:
    """Authorization-server metadata URLs in the order the MCP spec (2025-11-25) gives."""
    parsed = httpx.URL(issuer)
    path = parsed.path.rstrip("/")
    base = str(parsed.copy_with(path="/", query=None, fragment=None)).rstrip("/")
    if path:
        return [
            f"{base}/.well-known/oauth-authorization-server{path}",
            f"{base}/.well-known/openid-configuration{path}",
            f"{base}{path}/.well-known/openid-configuration",
        ]
    return [f"{base}/.well-known/oauth-authorization-server", f"{base}/.well-known/openid-configuration"]
