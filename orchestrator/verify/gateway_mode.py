"""Verification of authorization mode ``gateway``: API Management is the authorization server.

Runs after reconcile (next to the discovery/client/forged checks) when ``authorization.mode`` is
``gateway``. Every check talks to the deployed gateway over HTTPS like a real client would:

* ``gateway.metadata`` — the PRM names the gateway's issuer; RFC 8414 metadata at the
  path-inserted URL has that exact issuer, S256 only, CIMD support, and every advertised
  endpoint is really served (a POST/GET answers something other than 404);
* ``gateway.dcr_client`` / ``gateway.cimd_client`` — the ``mcp`` SDK client with no
  pre-registration (dynamic registration; separately a Client ID Metadata Document) signs in
  headlessly through the consent page and Entra, and calls ``show_user_profile``;
* ``gateway.refresh`` — a refresh token works once and rotates;
* ``gateway.reject.*`` — the negative suite: unregistered redirect URI, PKCE mismatch, code
  replay, state tampering, consent denied, missing CSRF token, refresh after revoke, a token
  requested for another resource, and an Entra token (another issuer's) presented to the MCP API.

The headless "browser" (``ConsentBrowser``) keeps cookies, sends the Fetch-Metadata headers a
browser sends, reads the consent form and submits it; Entra (the local identity service)
signs the test user in without a page because of ``login_hint``. Pure helpers (form parsing,
PKCE) are separate from the I/O; nothing here prints secrets (codes and tokens never appear
in details).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import html
import ipaddress
import json
import re
import secrets
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import httpx2
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSListener, TLSStream
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientMetadata,
)
from pydantic import AnyUrl

from orchestrator.verify.client_flow import MemoryStorage, profile_of, strict_resource
from orchestrator.verify.discovery import post_mcp
from orchestrator.verify.http import client, path_inserted_prm_url, ssl_context
from orchestrator.verify.model import CheckResult, Outcome

REDIRECT_URI = "http://127.0.0.1:33418/callback"
MAX_HOPS = 8


@dataclass(frozen=True, slots=True)
class GatewayTarget:
    """What the gateway-mode checks need to know about one deployed lab."""

    mcp_url: str  # the MCP URL clients use, <gateway>/mcp
    issuer: str  # the gateway's issuer, <gateway>/oauth
    scope: str  # the scope clients request (<identifier URI>/user_impersonate)
    login_hint: str  # headless sign-in as this test user (local target)
    ca_file: Path | None = None  # the lab's CA (local target)
    expected_profile: Mapping[str, str] | None = None  # the test user's Graph profile
    redirect_uri: str = REDIRECT_URI
    # Local target: the state folder's CA key, to serve a Client ID Metadata Document over HTTPS
    # that the gateway trusts. None: the CIMD check is skipped.
    ca_key_file: Path | None = None
    # Another issuer's valid token for the MCP app (e.g. Entra's own): the MCP API must refuse it.
    foreign_token: str | None = None
    checks: frozenset[str] | None = None  # run only these (prefix match); None = all


# ------------------------------------------------------------------ pure helpers


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


_FORM = re.compile(r"<form\b[^>]*\baction=\"([^\"]*)\"[^>]*>(.*?)</form>", re.S | re.I)
_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_ATTR = re.compile(r"(\w[\w-]*)=\"([^\"]*)\"")


def consent_form(page: str) -> tuple[str, dict[str, str]] | None:
    """The consent page's form: (action URL, hidden fields), or None when there is none."""
    m = _FORM.search(page)
    if m is None:
        return None
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(m.group(2)):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR.findall(tag)}
        if attrs.get("type", "").lower() == "hidden" and "name" in attrs:
            fields[attrs["name"]] = attrs.get("value", "")
    return html.unescape(m.group(1)), fields


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def same_endpoint(url: str, target: str) -> bool:
    a, b = urlsplit(url), urlsplit(target)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def with_params(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


# ------------------------------------------------------------------ the headless browser


class SignInStoppedError(Exception):
    """The sign-in did not come back to the redirect URI; ``status``/``page`` say where it stopped."""

    def __init__(self, status: int, page: str) -> None:
        super().__init__(f"sign-in stopped at HTTP {status}")
        self.status = status
        self.page = page


class ConsentBrowser:
    """Plays the user's browser through the gateway's consent page and Entra's sign-in.

    ``decision`` is what the user clicks; ``tamper`` may rewrite the consent form fields or the
    Entra callback URL before they are sent (negative checks). Returns the URL the browser was
    sent back to (the client's redirect URI with ``code`` or ``error``).
    """

    def __init__(self, target: GatewayTarget) -> None:
        self._target = target
        self._http = httpx.AsyncClient(verify=ssl_context(target.ca_file), timeout=20, follow_redirects=False)
        self.authorization_url: str | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ConsentBrowser:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def sign_in(
        self,
        url: str,
        *,
        decision: str = "allow",
        form_tamper: Callable[[dict[str, str]], dict[str, str]] | None = None,
        callback_tamper: Callable[[str], str] | None = None,
    ) -> str:
        self.authorization_url = url
        if "login_hint=" not in url:
            url = with_params(url, login_hint=self._target.login_hint)
        navigate = {
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Dest": "document",
            "Sec-Fetch-Site": "cross-site",
        }
        resp = await self._http.get(url, headers=navigate)
        if resp.status_code in (301, 302, 303, 307, 308):
            return await self._follow(str(resp.url.join(resp.headers["location"])), callback_tamper)
        form = consent_form(resp.text) if resp.status_code == 200 else None
        if form is None:
            raise SignInStoppedError(resp.status_code, resp.text[:300])
        action, fields = form
        fields["decision"] = decision
        if form_tamper is not None:
            fields = form_tamper(fields)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(action))
        resp = await self._http.post(
            action,
            data=fields,
            headers={**navigate, "Sec-Fetch-Site": "same-origin", "Origin": origin},
        )
        if resp.status_code not in (301, 302, 303, 307, 308):
            raise SignInStoppedError(resp.status_code, resp.text[:300])
        return await self._follow(str(resp.url.join(resp.headers["location"])), callback_tamper)

    async def _follow(self, url: str, callback_tamper: Callable[[str], str] | None) -> str:
        callback = self._target.issuer + "/oauth-callback"
        for _ in range(MAX_HOPS):
            if same_endpoint(url, self._target.redirect_uri):
                return url
            if callback_tamper is not None and same_endpoint(url, callback):
                url = callback_tamper(url)
            resp = await self._http.get(
                url, headers={"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
            )
            location = resp.headers.get("location")
            if resp.status_code not in (301, 302, 303, 307, 308) or not location:
                raise SignInStoppedError(resp.status_code, resp.text[:300])
            url = str(resp.url.join(location))
        raise SignInStoppedError(0, "too many redirects")


# ------------------------------------------------------------------ a CIMD document over HTTPS


def _leaf_certificate(ca_file: Path, ca_key_file: Path, folder: Path) -> tuple[Path, Path]:
    """A short-lived certificate for 127.0.0.1 signed by the lab's CA (local target only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prmlab verify CIMD")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_path, key_path = folder / "cimd.pem", folder / "cimd-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@asynccontextmanager
async def serve_client_metadata(target: GatewayTarget, client_name: str) -> AsyncIterator[str]:
    """Serve a Client ID Metadata Document on https://127.0.0.1:<port>/...; yields its URL (= client_id)."""
    if target.ca_file is None or target.ca_key_file is None:
        raise RuntimeError("serving a client metadata document needs the lab's CA and its key")
    with tempfile.TemporaryDirectory(prefix="prmlab-cimd-") as tmp:
        cert, key = _leaf_certificate(target.ca_file, target.ca_key_file, Path(tmp))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        port = listener.extra(SocketAttribute.local_port)  # noqa: S610 - anyio typed attribute, not Django
        url = f"https://127.0.0.1:{port}/prmlab-verify/client-metadata.json"
        document = json.dumps(
            {
                "client_id": url,
                "client_name": client_name,
                "redirect_uris": [target.redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }
        ).encode()

        async def handle(stream: TLSStream) -> None:
            async with stream:
                try:
                    with anyio.fail_after(10):
                        await stream.receive(65536)
                        await stream.send(
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                            + f"Content-Length: {len(document)}\r\n\r\n".encode()
                            + document
                        )
                except (anyio.EndOfStream, anyio.BrokenResourceError, ssl.SSLError, TimeoutError, OSError):
                    return

        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(TLSListener(listener, context, standard_compatible=False).serve, handle)
            try:
                yield url
            finally:
                tg.cancel_scope.cancel()


# ------------------------------------------------------------------ the MCP SDK client


async def sdk_client_flow(
    target: GatewayTarget, name: str, client_metadata_url: str | None = None
) -> tuple[CheckResult, MemoryStorage]:
    """The ``mcp`` SDK client, unregistered: discovery, DCR or CIMD, consent, PKCE, tool call."""
    storage = MemoryStorage()
    result: AuthorizationCodeResult | None = None

    async with ConsentBrowser(target) as browser:

        async def redirect(url: str) -> None:
            nonlocal result
            back = await browser.sign_in(url)
            params = query_of(back)
            if "error" in params:
                raise RuntimeError(
                    f"authorization error {params['error']}: {params.get('error_description', '')}"
                )
            result = AuthorizationCodeResult(
                code=params.get("code", ""), state=params.get("state"), iss=params.get("iss")
            )

        async def callback() -> AuthorizationCodeResult:
            if result is None:
                raise RuntimeError("no authorization response was received")
            return result

        provider = OAuthClientProvider(
            server_url=target.mcp_url,
            client_metadata=OAuthClientMetadata(
                redirect_uris=[AnyUrl(target.redirect_uri)],
                token_endpoint_auth_method="none",
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                client_name=f"prmlab verify ({name})",
            ),
            storage=storage,
            redirect_handler=redirect,
            callback_handler=callback,
            validate_resource_url=strict_resource,
            client_metadata_url=client_metadata_url,
        )
        check = f"gateway.{name}_client"
        http = httpx2.AsyncClient(auth=provider, verify=ssl_context(target.ca_file), timeout=30.0)
        try:
            async with http, Client(streamable_http_client(target.mcp_url, http_client=http)) as mcp:
                tools = [t.name for t in (await mcp.list_tools()).tools]
                if "show_user_profile" not in tools:
                    return CheckResult(check, Outcome.FAIL, f"tools: {tools}"), storage
                called = await mcp.call_tool("show_user_profile", {})
        except Exception as exc:  # the SDK raises many kinds; each is this check failing
            leaf: BaseException = exc
            while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
                leaf = leaf.exceptions[0]  # the task group's wrapping says nothing
            return CheckResult(check, Outcome.FAIL, f"{type(leaf).__name__}: {leaf}"[:300]), storage
    registered = storage.client.client_id if storage.client else ""
    how = "client metadata document" if client_metadata_url else "dynamic registration"
    if client_metadata_url and registered != client_metadata_url:
        return CheckResult(check, Outcome.FAIL, f"the client did not use its metadata URL ({how})"), storage
    if not client_metadata_url and not registered.startswith("mcp_"):
        return CheckResult(check, Outcome.FAIL, "the client was not dynamically registered"), storage
    profile = profile_of(called)
    if getattr(called, "is_error", False) or profile is None:
        return CheckResult(check, Outcome.FAIL, "show_user_profile failed"), storage
    wrong = [
        f"{k}: {profile.get(k)!r} != {v!r}"
        for k, v in (target.expected_profile or {}).items()
        if profile.get(k) != v
    ]
    if wrong:
        return CheckResult(check, Outcome.FAIL, "; ".join(wrong)), storage
    return CheckResult(check, Outcome.PASS, f"{how}, consent, PKCE; {profile.get('displayName')}"), storage


# ------------------------------------------------------------------ raw protocol steps


@dataclass(frozen=True, slots=True)
class Grant:
    access_token: str
    refresh_token: str


class GatewayClient:
    """A raw OAuth client of the gateway (registration, authorize, token, revoke) for the negatives."""

    def __init__(self, target: GatewayTarget, http: httpx.AsyncClient) -> None:
        self.target = target
        self.http = http
        self.client_id = ""

    async def register(self) -> None:
        resp = await self.http.post(
            self.target.issuer + "/register",
            json={
                "redirect_uris": [self.target.redirect_uri],
                "client_name": "prmlab verify (negative suite)",
                "application_type": "native",
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
            },
        )
        if resp.status_code != 201:
            raise RuntimeError(f"registration answered {resp.status_code}")
        self.client_id = str(resp.json()["client_id"])

    def authorize_url(self, challenge: str, state: str, **extra: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.target.redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "scope": self.target.scope,
            "resource": self.target.mcp_url,
            **extra,
        }
        return self.target.issuer + "/authorize?" + urlencode(params)

    async def code(self, challenge: str, **sign_in: Any) -> dict[str, str]:
        """Run authorize through the browser; the redirect's query (code or error)."""
        state = secrets.token_urlsafe(16)
        async with ConsentBrowser(self.target) as browser:
            back = await browser.sign_in(self.authorize_url(challenge, state), **sign_in)
        params = query_of(back)
        if params.get("state") != state:
            raise RuntimeError("the client's state was not echoed")
        if params.get("iss") != self.target.issuer:
            raise RuntimeError("the authorization response has no (or a wrong) iss")
        return params

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post(self.target.issuer + "/token", data={"client_id": self.client_id, **form})

    async def exchange(self, code: str, verifier: str) -> httpx.Response:
        return await self.token(
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            redirect_uri=self.target.redirect_uri,
            resource=self.target.mcp_url,
        )

    async def grant(self) -> Grant:
        verifier, challenge = pkce_pair()
        params = await self.code(challenge)
        resp = await self.exchange(params.get("code", ""), verifier)
        if resp.status_code != 200:
            raise RuntimeError(f"token endpoint answered {resp.status_code}")
        body = resp.json()
        return Grant(str(body["access_token"]), str(body["refresh_token"]))

    async def revoke(self, token: str) -> httpx.Response:
        return await self.http.post(
            self.target.issuer + "/revoke", data={"client_id": self.client_id, "token": token}
        )

    async def mcp_status(self, token: str) -> int:
        return (await post_mcp(self.http, self.target.mcp_url, token)).status_code


def _oauth_error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


VSCODE_CLIENT_ID = "aebc6443-996d-45c2-90f0-388ff96faa56"


async def entra_user_token(
    entra_base: str, scope: str, login_hint: str, ca_file: Path | None, client_id: str = VSCODE_CLIENT_ID
) -> str | None:
    """A real Entra access token for the MCP app, obtained directly from Entra (not the gateway):
    authorization code + PKCE as the pre-authorized VS Code client, headless with ``login_hint``
    (local target). ``entra_base`` is ``<authority>/<tenant>/oauth2/v2.0``. None when it fails."""
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:33419/"
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect,
        "scope": scope,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "entra",
        "login_hint": login_hint,
    }
    async with client(ca_file) as http:
        url = entra_base + "/authorize?" + urlencode(params)
        for _ in range(MAX_HOPS):
            resp = await http.get(url)
            location = resp.headers.get("location")
            if resp.status_code not in (301, 302, 303, 307, 308) or not location:
                return None
            url = str(resp.url.join(location))
            if same_endpoint(url, redirect):
                break
        code = query_of(url).get("code")
        if not code:
            return None
        token = await http.post(
            entra_base + "/token",
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "code": code,
                "redirect_uri": redirect,
                "code_verifier": verifier,
                "scope": scope,
            },
        )
        if token.status_code != 200:
            return None
        value = token.json().get("access_token")
        return value if isinstance(value, str) else None


# ------------------------------------------------------------------ the checks


Check = Callable[[GatewayClient], Awaitable[CheckResult]]


async def check_metadata(target: GatewayTarget, http: httpx.AsyncClient) -> CheckResult:
    name = "gateway.metadata"
    prm = await http.get(path_inserted_prm_url(target.mcp_url))
    servers = prm.json().get("authorization_servers") if prm.status_code == 200 else None
    if servers != [target.issuer]:
        return CheckResult(
            name, Outcome.FAIL, f"PRM authorization_servers {servers!r}, expected [{target.issuer!r}]"
        )
    issuer = urlsplit(target.issuer)
    url = f"{issuer.scheme}://{issuer.netloc}/.well-known/oauth-authorization-server{issuer.path}"
    resp = await http.get(url)
    if resp.status_code != 200:
        return CheckResult(name, Outcome.FAIL, f"RFC 8414 metadata at {url} answered {resp.status_code}")
    meta = resp.json()
    problems = []
    if meta.get("issuer") != target.issuer:
        problems.append(f"issuer {meta.get('issuer')!r} is not {target.issuer!r}")
    if meta.get("code_challenge_methods_supported") != ["S256"]:
        problems.append("code_challenge_methods_supported is not exactly [S256]")
    if meta.get("client_id_metadata_document_supported") is not True:
        problems.append("client_id_metadata_document_supported is not true")
    if "offline_access" in (meta.get("scopes_supported") or []):
        problems.append("offline_access is advertised")
    for key, method in (
        ("authorization_endpoint", "GET"),
        ("token_endpoint", "POST"),
        ("registration_endpoint", "POST"),
        ("revocation_endpoint", "POST"),
    ):
        endpoint = meta.get(key)
        if not isinstance(endpoint, str):
            problems.append(f"{key} missing")
            continue
        probe = await http.request(method, endpoint, data={} if method == "POST" else None)
        if probe.status_code == 404:
            problems.append(f"{key} {endpoint} is advertised but not served (404)")
    for key in meta:
        if key.endswith("_endpoint") and key not in (
            "authorization_endpoint",
            "token_endpoint",
            "registration_endpoint",
            "revocation_endpoint",
        ):
            problems.append(f"unexpected endpoint {key} advertised")
    if problems:
        return CheckResult(name, Outcome.FAIL, "; ".join(problems))
    return CheckResult(name, Outcome.PASS, f"issuer {target.issuer}; 4 endpoints served")


async def check_refresh(c: GatewayClient) -> CheckResult:
    name = "gateway.refresh"
    grant = await c.grant()
    if await c.mcp_status(grant.access_token) != 200:
        return CheckResult(name, Outcome.FAIL, "the issued access token is refused by the MCP API")
    first = await c.token(grant_type="refresh_token", refresh_token=grant.refresh_token)
    if first.status_code != 200:
        return CheckResult(name, Outcome.FAIL, f"refresh answered {first.status_code} {_oauth_error(first)}")
    body = first.json()
    if not body.get("refresh_token") or body.get("refresh_token") == grant.refresh_token:
        return CheckResult(name, Outcome.FAIL, "the refresh token was not rotated")
    if await c.mcp_status(str(body["access_token"])) != 200:
        return CheckResult(name, Outcome.FAIL, "the refreshed access token is refused by the MCP API")
    if await c.mcp_status(grant.access_token) != 401:
        return CheckResult(name, Outcome.FAIL, "the access token replaced by the refresh still works")
    again = await c.token(grant_type="refresh_token", refresh_token=grant.refresh_token)
    if again.status_code != 400 or _oauth_error(again) != "invalid_grant":
        return CheckResult(name, Outcome.FAIL, f"a used refresh token answered {again.status_code}")
    if await c.mcp_status(str(body["access_token"])) != 401:
        return CheckResult(name, Outcome.FAIL, "reusing a rotated refresh token did not revoke the grant")
    return CheckResult(name, Outcome.PASS, "rotated; old tokens refused; reuse revokes the grant")


async def reject_unregistered_redirect(c: GatewayClient) -> CheckResult:
    _, challenge = pkce_pair()
    url = c.authorize_url(challenge, "s1").replace(
        urlencode({"redirect_uri": c.target.redirect_uri}),
        urlencode({"redirect_uri": "https://attacker.example/cb"}),
    )
    resp = await c.http.get(url, headers={"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
    location = resp.headers.get("location", "")
    if resp.status_code == 400 and not location:
        return CheckResult(
            "gateway.reject.unregistered_redirect", Outcome.PASS, "400 error page, no redirect"
        )
    return CheckResult(
        "gateway.reject.unregistered_redirect",
        Outcome.FAIL,
        f"answered {resp.status_code} location={location[:60]!r}",
    )


async def reject_pkce_mismatch(c: GatewayClient) -> CheckResult:
    _, challenge = pkce_pair()
    params = await c.code(challenge)
    other_verifier, _ = pkce_pair()
    resp = await c.exchange(params.get("code", ""), other_verifier)
    return _expect_invalid_grant("gateway.reject.pkce_mismatch", resp)


async def reject_code_replay(c: GatewayClient) -> CheckResult:
    name = "gateway.reject.code_replay"
    verifier, challenge = pkce_pair()
    code = (await c.code(challenge)).get("code", "")
    first = await c.exchange(code, verifier)
    if first.status_code != 200:
        return CheckResult(name, Outcome.FAIL, f"the first exchange answered {first.status_code}")
    if await c.mcp_status(str(first.json()["access_token"])) != 200:
        return CheckResult(
            name, Outcome.FAIL, "the token issued for the code does not work (cannot test revocation)"
        )
    second = await c.exchange(code, verifier)
    if second.status_code != 400 or _oauth_error(second) != "invalid_grant":
        return CheckResult(name, Outcome.FAIL, f"the replayed code answered {second.status_code}")
    if await c.mcp_status(str(first.json()["access_token"])) != 401:
        return CheckResult(name, Outcome.FAIL, "the replay did not revoke the tokens issued for the code")
    return CheckResult(name, Outcome.PASS, "invalid_grant; the tokens issued for it are revoked")


async def reject_state_tampering(c: GatewayClient) -> CheckResult:
    name = "gateway.reject.state_tampering"
    _, challenge = pkce_pair()

    def tamper(url: str) -> str:
        state = query_of(url).get("state", "")
        flipped = ("0" if state[:1] != "0" else "1") + state[1:]
        return url.replace(f"state={state}", f"state={flipped}")

    try:
        back = await c.code(challenge, callback_tamper=tamper)
    except SignInStoppedError as stop:
        if stop.status == 400:
            return CheckResult(name, Outcome.PASS, "the callback refused the altered state (400)")
        return CheckResult(name, Outcome.FAIL, f"the callback answered {stop.status}")
    return CheckResult(name, Outcome.FAIL, f"the sign-in completed with {sorted(back)}")


async def reject_consent_denied(c: GatewayClient) -> CheckResult:
    _, challenge = pkce_pair()
    params = await c.code(challenge, decision="deny")
    if params.get("error") == "access_denied" and "code" not in params:
        return CheckResult("gateway.reject.consent_denied", Outcome.PASS, "error=access_denied, no code")
    return CheckResult("gateway.reject.consent_denied", Outcome.FAIL, f"redirect carried {sorted(params)}")


async def reject_missing_csrf(c: GatewayClient) -> CheckResult:
    name = "gateway.reject.missing_csrf"
    _, challenge = pkce_pair()
    try:
        params = await c.code(challenge, form_tamper=lambda f: {k: v for k, v in f.items() if k != "csrf"})
    except SignInStoppedError as stop:
        if stop.status == 403:
            return CheckResult(name, Outcome.PASS, "403 without the CSRF token")
        return CheckResult(name, Outcome.FAIL, f"answered {stop.status}")
    return CheckResult(name, Outcome.FAIL, f"consent accepted without a CSRF token ({sorted(params)})")


async def reject_refresh_after_revoke(c: GatewayClient) -> CheckResult:
    name = "gateway.reject.refresh_after_revoke"
    grant = await c.grant()
    if await c.mcp_status(grant.access_token) != 200:
        return CheckResult(
            name, Outcome.FAIL, "the grant's access token does not work (cannot test revocation)"
        )
    revoked = await c.revoke(grant.refresh_token)
    if revoked.status_code != 200:
        return CheckResult(name, Outcome.FAIL, f"revoke answered {revoked.status_code}")
    resp = await c.token(grant_type="refresh_token", refresh_token=grant.refresh_token)
    if resp.status_code != 400 or _oauth_error(resp) != "invalid_grant":
        return CheckResult(name, Outcome.FAIL, f"refresh after revoke answered {resp.status_code}")
    if await c.mcp_status(grant.access_token) != 401:
        return CheckResult(name, Outcome.FAIL, "the access token of the revoked grant still works")
    return CheckResult(name, Outcome.PASS, "invalid_grant; the grant's access token is refused too")


async def reject_other_resource(c: GatewayClient) -> CheckResult:
    name = "gateway.reject.other_resource"
    _, challenge = pkce_pair()
    state = "other-resource"
    url = c.authorize_url(challenge, state, resource="https://other.example/mcp")
    url = url.replace(urlencode({"resource": c.target.mcp_url}) + "&", "")
    async with ConsentBrowser(c.target) as browser:
        try:
            back = await browser.sign_in(url)
        except SignInStoppedError as stop:
            return CheckResult(name, Outcome.FAIL, f"stopped at {stop.status} instead of invalid_target")
    error = query_of(back).get("error")
    if error == "invalid_target":
        return CheckResult(name, Outcome.PASS, "invalid_target")
    return CheckResult(name, Outcome.FAIL, f"authorization answered error={error!r}")


async def reject_foreign_token(c: GatewayClient) -> CheckResult:
    name = "gateway.reject.foreign_token"
    if c.target.foreign_token is None:
        return CheckResult(name, Outcome.SKIP, "no token of another issuer available")
    status = await c.mcp_status(c.target.foreign_token)
    if status == 401:
        return CheckResult(name, Outcome.PASS, "a valid Entra token (not the gateway's) is refused: 401")
    return CheckResult(name, Outcome.FAIL, f"answered {status}")


def _expect_invalid_grant(name: str, resp: httpx.Response) -> CheckResult:
    if resp.status_code == 400 and _oauth_error(resp) == "invalid_grant":
        return CheckResult(name, Outcome.PASS, "invalid_grant")
    return CheckResult(name, Outcome.FAIL, f"answered {resp.status_code} {_oauth_error(resp)}".strip())


NEGATIVE_CHECKS: tuple[tuple[str, Check], ...] = (
    ("gateway.refresh", check_refresh),
    ("gateway.reject.unregistered_redirect", reject_unregistered_redirect),
    ("gateway.reject.pkce_mismatch", reject_pkce_mismatch),
    ("gateway.reject.code_replay", reject_code_replay),
    ("gateway.reject.state_tampering", reject_state_tampering),
    ("gateway.reject.consent_denied", reject_consent_denied),
    ("gateway.reject.missing_csrf", reject_missing_csrf),
    ("gateway.reject.refresh_after_revoke", reject_refresh_after_revoke),
    ("gateway.reject.other_resource", reject_other_resource),
    ("gateway.reject.foreign_token", reject_foreign_token),
)


def _wanted(target: GatewayTarget, name: str) -> bool:
    return target.checks is None or any(name.startswith(prefix) for prefix in target.checks)


async def check_gateway_mode(target: GatewayTarget) -> list[CheckResult]:
    """Every gateway-mode check, in order; one failure never stops the others."""
    results: list[CheckResult] = []
    async with client(target.ca_file, timeout=30.0) as http:
        if _wanted(target, "gateway.metadata"):
            results.append(await _guard("gateway.metadata", check_metadata(target, http)))
        if _wanted(target, "gateway.dcr_client"):
            results.append((await sdk_client_flow(target, "dcr"))[0])
        if _wanted(target, "gateway.cimd_client"):
            if target.ca_key_file is None:
                results.append(
                    CheckResult("gateway.cimd_client", Outcome.SKIP, "needs the lab CA key (local target)")
                )
            else:
                async with serve_client_metadata(target, "prmlab verify (cimd)") as url:
                    results.append((await sdk_client_flow(target, "cimd", client_metadata_url=url))[0])
        c = GatewayClient(target, http)
        registered = await _guard("gateway.reject", c.register())
        if isinstance(registered, CheckResult):
            return [*results, registered]
        for name, check in NEGATIVE_CHECKS:
            if _wanted(target, name):
                results.append(await _guard(name, check(c)))
    return results


# ------------------------------------------------------------------ glue for the reconcile hook


def gateway_target_for(
    lab: Any,
    outputs: Mapping[str, Mapping[str, Any]],
    target_outputs: Mapping[str, Any],
    ca_file: Path | None,
) -> GatewayTarget | None:
    """The ``GatewayTarget`` of a reconciled gateway-mode lab, from its spec and the engine's
    outputs (graph address -> ``Actual.outputs``); None when the lab is not in gateway mode or
    has no test user to sign in with (``verification.test_users``, local target).

    The MCP API is the API whose policy template is ``gateway-mcp-api``; the issuer and scope are
    the ``issuer``/``scope`` variables of the ``gateway-oauth`` policy, resolved like the engine
    resolves them.
    """
    from orchestrator.spec.refs import resolve
    from orchestrator.spec.values import Ref

    if lab.authorization.mode != "gateway" or not lab.verification.test_users:
        return None

    def value(v: Any) -> str:
        return str(resolve(v, lab, outputs, target_outputs)) if isinstance(v, Ref) else str(v)

    oauth = mcp = None
    for api in lab.apim.apis.values():
        template = api.policy.template if api.policy is not None else None
        if template == "gateway-oauth":
            oauth = api.policy.variables
        elif template == "gateway-mcp-api":
            mcp = api.policy.variables
    if oauth is None or mcp is None:
        return None
    user = lab.verification.test_users[0]
    profile = {"displayName": user.display_name}
    if user.mail:
        profile["mail"] = user.mail
    return GatewayTarget(
        mcp_url=value(mcp["resource"]),
        issuer=value(oauth["issuer"]),
        scope=value(oauth["scope"]),
        login_hint=user.user_principal_name,
        ca_file=ca_file,
        expected_profile=profile,
        ca_key_file=ca_file.parent / "ca-key.pem" if ca_file is not None else None,
        checks=frozenset(lab.verification.checks) if lab.verification.checks else None,
    )


async def verify_gateway(
    lab: Any,
    outputs: Mapping[str, Mapping[str, Any]],
    target_outputs: Mapping[str, Any],
    ca_file: Path | None,
) -> list[CheckResult]:
    """Every gateway-mode check of a reconciled lab (``[]`` when the lab is not in gateway mode).
    On the local target the foreign-token check gets a real Entra token for the app (VS Code
    client, headless); on Azure it is skipped."""
    target = gateway_target_for(lab, outputs, target_outputs, ca_file)
    if target is None:
        return []
    if ca_file is not None:
        entra = f"{target_outputs['authority']}/{target_outputs['tenant_id']}/oauth2/v2.0"
        foreign = await entra_user_token(entra, target.scope, target.login_hint, ca_file)
        target = dataclasses.replace(target, foreign_token=foreign)
    return await check_gateway_mode(target)


async def _guard(name: str, step: Awaitable[Any]) -> Any:
    """Run one check; an unexpected exception is that check failing (never the whole run)."""
    try:
        return await step
    except (httpx.HTTPError, RuntimeError, ValueError, KeyError, SignInStoppedError) as exc:
        return CheckResult(name, Outcome.FAIL, f"{type(exc).__name__}: {exc}"[:300])
