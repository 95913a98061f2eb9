"""HTTP helpers of the verifier: a client that trusts the lab's CA and parsers for challenges."""

from __future__ import annotations

import re
import ssl
from pathlib import Path

import httpx

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """System trust plus the lab's CA (local target) — never trust-everything."""
    ctx = ssl.create_default_context()
    if ca_file is not None:
        ctx.load_verify_locations(cafile=str(ca_file))
    return ctx


def client(ca_file: Path | None, timeout: float = 15.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=ssl_context(ca_file), timeout=timeout, follow_redirects=False)


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
