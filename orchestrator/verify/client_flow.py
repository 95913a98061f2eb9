"""The real-client check: the ``mcp`` SDK's OAuth client signs a user in and calls the tool —
made spec-strict (``strict``): it refuses an authorization server that does not advertise PKCE
S256, as the MCP specification requires of clients.

On the local target the sign-in is headless: the authorization URL is fetched with the test
user's ``login_hint`` (the local identity service signs that user in without a page) and the
``302`` back to the loopback redirect URI is handed to the SDK's callback handler — the redirect
is never followed, so nothing listens on the redirect URI. On Azure the URL is opened in a
browser and a one-shot loopback listener on 127.0.0.1 receives the redirect.
"""

from __future__ import annotations

import json
import webbrowser
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import jwt
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from orchestrator.errors import printable
from orchestrator.verify.http import client as http_client
from orchestrator.verify.http import identity_origins, parse_bearer_challenge, sdk_client
from orchestrator.verify.model import CheckResult, Outcome, VerifyTarget
from orchestrator.verify.strict import refuse_unless_pkce

PROFILE_FIELDS = ("displayName", "mail", "id", "jobTitle", "department", "officeLocation")


class MemoryStorage:
    """In-memory token storage for the SDK's OAuth client: starts with a pre-registered client
    (entra mode) or none (gateway mode: the client registers itself, DCR or CIMD)."""

    def __init__(self, client: OAuthClientInformationFull | None = None) -> None:
        self.client: OAuthClientInformationFull | None = client
        self.tokens: OAuthToken | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class _HeadlessBrowser:
    """Plays the user's browser: follows the authorization URL to the redirect, keeps the code."""

    def __init__(self, target: VerifyTarget) -> None:
        self._target = target
        self._result: AuthorizationCodeResult | None = None
        self.authorization_url: str | None = None

    async def redirect(self, url: str) -> None:
        self.authorization_url = url
        if self._target.login_hint is None:
            raise RuntimeError("headless sign-in needs a test user (verification.test_users in lab.yaml)")
        sep = "&" if "?" in url else "?"
        url = f"{url}{sep}{urlencode({'login_hint': self._target.login_hint})}"
        expected = urlsplit(self._target.redirect_uri)
        origins = identity_origins(self._target)
        async with http_client(self._target.ca_file, retry_origins=origins) as http:
            for _ in range(5):  # the sign-in may bounce through a few pages of the identity service
                resp = await http.get(url)
                location = resp.headers.get("location")
                if resp.status_code not in (301, 302, 303, 307, 308) or not location:
                    raise RuntimeError(f"sign-in stopped at HTTP {resp.status_code} ({resp.text[:200]!r})")
                url = str(resp.url.join(location))
                got = urlsplit(url)
                if (got.scheme, got.netloc, got.path) == (expected.scheme, expected.netloc, expected.path):
                    self._result = _code_result(got.query)
                    return
        raise RuntimeError("sign-in did not come back to the redirect URI")

    async def callback(self) -> AuthorizationCodeResult:
        if self._result is None:
            raise RuntimeError("no authorization response was received")
        return self._result


class _BrowserListener:
    """Interactive sign-in (azure target): opens the browser, receives one loopback redirect."""

    def __init__(self, target: VerifyTarget) -> None:
        self._port = urlsplit(target.redirect_uri).port or 80
        self._result: AuthorizationCodeResult | None = None

    async def redirect(self, url: str) -> None:
        webbrowser.open(url)

    async def callback(self) -> AuthorizationCodeResult:
        async with await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self._port) as listener:
            with anyio.fail_after(300):
                async with await listener.accept() as stream:  # type: ignore[attr-defined]
                    request = (await stream.receive(65536)).decode("latin-1")
                    target = request.split(" ", 2)[1] if request.count(" ") >= 2 else "/"
                    body = b"Signed in. You can close this tab and return to prmlab."
                    await stream.send(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
        return _code_result(urlsplit(target).query)


def _describe(exc: BaseException) -> str:
    """The innermost causes of a failure (task groups wrap them in exception groups)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


class _Refusals:
    """The MCP endpoint's answers refusing a token (401/403 to a request that carried one), with
    their ``WWW-Authenticate`` challenge: what a failed flow names as its cause. The SDK's
    message for them says only "Server returned an error response"."""

    def __init__(self, mcp_url: str) -> None:
        self.mcp_url = _bare(mcp_url)
        self.last: tuple[int, dict[str, str], str] | None = None  # status, challenge, token's scp

    async def __call__(self, response: Any) -> None:
        request = response.request
        bearer = str(request.headers.get("authorization", ""))
        if response.status_code not in (401, 403) or not bearer.lower().startswith("bearer "):
            return
        if _bare(str(request.url)) != self.mcp_url:
            return
        challenge = parse_bearer_challenge(response.headers.get("www-authenticate")) or {}
        try:
            claims = jwt.decode(bearer[7:].strip(), options={"verify_signature": False})
        except jwt.PyJWTError:
            claims = {}
        self.last = (response.status_code, challenge, str(claims.get("scp", "")))

    def cause(self, lab_scope: str) -> str:
        """``""`` when the endpoint refused no token; else what it said, against the lab's scope."""
        if self.last is None:
            return ""
        status, challenge, scp = self.last
        error = challenge.get("error", "no error code")
        said = f"the MCP endpoint refused the token: {status} {printable(error)}"
        if challenge.get("error_description"):
            said += f" ({printable(challenge['error_description'])})"
        if challenge.get("scope"):
            said += f", scope={printable(challenge['scope'])!r}"
        said += f"; the token carries scp {printable(scp)!r}" if scp else "; the token carries no scp"
        if error == "insufficient_scope":
            wanted = lab_scope.rsplit("/", 1)[-1]
            said += (
                f" (the lab's scope {wanted!r}, as its PRM advertises): the endpoint requires a scope "
                "the lab does not grant (the server's REQUIRED_SCOPE, or the API's policy)"
            )
        return said


def _bare(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0].rstrip("/")


def _code_result(query: str) -> AuthorizationCodeResult:
    params = {k: v[0] for k, v in parse_qs(query).items()}
    if "error" in params:
        raise RuntimeError(f"authorization error: {params['error']}: {params.get('error_description', '')}")
    return AuthorizationCodeResult(
        code=params.get("code", ""), state=params.get("state"), iss=params.get("iss")
    )


async def strict_resource(server_url: str, prm_resource: str | None) -> None:
    # RFC 9728 §3.3: the metadata's resource must be identical to the URL the client used.
    if prm_resource != server_url:
        raise ValueError(f"PRM resource {prm_resource!r} is not identical to the server URL {server_url!r}")


def profile_of(result: Any) -> dict[str, Any] | None:
    structured = getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)
    if isinstance(structured, dict):
        inner = structured.get("result", structured)
        if isinstance(inner, dict):
            return inner
    for item in getattr(result, "content", []) or []:
        text = getattr(item, "text", None)
        if text:
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _compare_profile(got: Mapping[str, Any], expected: Mapping[str, str] | None) -> list[str]:
    if expected is None:
        return []
    return [f"{k}: got {got.get(k)!r}, expected {v!r}" for k, v in expected.items() if got.get(k) != v]


def server_label(info: Any) -> str:
    """``server prmlab-mcp-server 0.1.0`` from the ``initialize`` answer's ``serverInfo``
    (its title too when it has one; "(no version)" when it sends an empty one), never the
    object's repr."""
    name = printable(str(getattr(info, "name", "") or "(no name)"))
    version = getattr(info, "version", "")
    title = getattr(info, "title", None)
    label = f"server {name}" + (f" {printable(str(version))}" if version else " (no version)")
    return label + (f" ({printable(str(title))})" if title else "")


_GIVEN = "no sign-in: the token given with --token"


class GivenTokenRefusedError(Exception):
    """The MCP endpoint refused the token given with ``--token`` (the flow would sign in)."""


async def check_client_flow(target: VerifyTarget) -> tuple[list[CheckResult], str | None]:
    """Sign in with the real MCP client and call the tool; returns the results and the token."""
    client_info = OAuthClientInformationFull(
        client_id=target.client_id,
        redirect_uris=[target.redirect_uri],
        token_endpoint_auth_method="none",
        grant_types=["authorization_code", "refresh_token"],
    )
    storage = MemoryStorage(client_info)
    browser: _HeadlessBrowser | _BrowserListener = (
        _BrowserListener(target) if target.interactive else _HeadlessBrowser(target)
    )

    async def strict_redirect(url: str) -> None:
        if target.token is not None:
            # the endpoint refused the token given with --token: that is the finding, not a
            # reason to sign in with another one
            raise GivenTokenRefusedError(
                "the token given with --token was refused; verification does not sign in instead"
            )
        # A spec-strict client: no PKCE S256 in the discovered metadata, no sign-in (``strict``).
        refuse_unless_pkce(provider.context.oauth_metadata)
        await browser.redirect(url)

    provider = OAuthClientProvider(
        server_url=target.mcp_url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[target.redirect_uri],
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
            client_name="prmlab verify",
        ),
        storage=storage,
        redirect_handler=strict_redirect,
        callback_handler=browser.callback,
        validate_resource_url=strict_resource,
    )
    if target.token is not None:
        await storage.set_tokens(OAuthToken(access_token=target.token, token_type="Bearer"))
    results: list[CheckResult] = []
    http = sdk_client(target.ca_file, auth=provider, retry_origins=identity_origins(target))
    refusals = _Refusals(target.mcp_url)
    http.event_hooks = {**http.event_hooks, "response": [*http.event_hooks.get("response", []), refusals]}
    try:
        async with http, Client(streamable_http_client(target.mcp_url, http_client=http)) as client:
            token = storage.tokens.access_token if storage.tokens else None
            issuer = provider.context.oauth_metadata.issuer if provider.context.oauth_metadata else "?"
            results.append(
                CheckResult(
                    "client.sign_in",
                    Outcome.PASS,
                    _GIVEN
                    if target.token is not None
                    else f"token obtained through the MCP OAuth flow (spec-strict: PKCE S256 of {issuer})",
                )
            )
            results.append(CheckResult("client.initialize", Outcome.PASS, server_label(client.server_info)))
            tools = await client.list_tools()
            names = [t.name for t in tools.tools]
            if "show_user_profile" not in names:
                results.append(CheckResult("client.tools_list", Outcome.FAIL, f"tools: {names}"))
                return results, token
            results.append(CheckResult("client.tools_list", Outcome.PASS, ", ".join(names)))
            called = await client.call_tool("show_user_profile", {})
            profile = profile_of(called)
            if getattr(called, "is_error", False) or profile is None:
                results.append(
                    CheckResult("client.show_user_profile", Outcome.FAIL, f"tool answered {called!r}")
                )
            elif profile.get("consent_required"):
                # The server's on-behalf-of exchange was refused for want of consent (AADSTS65001).
                results.append(
                    CheckResult(
                        "client.show_user_profile",
                        Outcome.FAIL,
                        "no consent to Microsoft Graph for the app (AADSTS65001): the tool answered "
                        f"with a consent link, consent_url={profile.get('consent_url')}",
                    )
                )
            else:
                wrong = _compare_profile(profile, target.expected_profile)
                results.append(
                    CheckResult("client.show_user_profile", Outcome.FAIL, "; ".join(wrong))
                    if wrong
                    else CheckResult(
                        "client.show_user_profile",
                        Outcome.PASS,
                        f"{profile.get('displayName')} <{profile.get('mail') or profile.get('userPrincipalName')}>",
                    )
                )
            return results, token
    except Exception as exc:  # the SDK raises many kinds; each is a failed check, reported by name
        cause = refusals.cause(target.scope)
        if not results and storage.tokens is not None and cause:
            # signed in: the endpoint refused the token it got (initialize)
            results.append(
                CheckResult(
                    "client.sign_in",
                    Outcome.PASS,
                    _GIVEN if target.token is not None else "token obtained through the MCP OAuth flow",
                )
            )
            name = "client.initialize"
        else:
            name = "client.sign_in" if not results else "client.session"
        results.append(CheckResult(name, Outcome.FAIL, _describe(exc) + (f": {cause}" if cause else "")))
        return results, storage.tokens.access_token if storage.tokens else None
