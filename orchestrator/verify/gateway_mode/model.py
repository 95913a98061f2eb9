"""What the gateway-mode checks know about a deployed lab (``GatewayTarget``) and the pure
OAuth helpers they share (PKCE, URL parts). No I/O."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

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
    backend_keep_alive_s: float | None = None  # the MCP server's idle keep-alive; None: its default


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def same_endpoint(url: str, target: str) -> bool:
    a, b = urlsplit(url), urlsplit(target)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def with_params(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)
