"""Discovery checks: the 401 challenge, the PRM document at both URLs, the AS metadata.

Pure HTTP through httpx; each function returns ``CheckResult``s and the facts later steps need.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from orchestrator.verify.http import ATTEMPTS, as_metadata_urls, parse_bearer_challenge, path_inserted_prm_url
from orchestrator.verify.model import CheckResult, Outcome, VerifyTarget

_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "prmlab-verify", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class Discovered:
    prm: dict[str, Any] | None = None
    issuer: str | None = None
    as_metadata: dict[str, Any] | None = None


def _ok(name: str, detail: str = "") -> CheckResult:
    return CheckResult(name, Outcome.PASS, detail)


def _fail(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Outcome.FAIL, detail)


async def post_mcp(http: httpx.AsyncClient, url: str, token: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await http.post(url, headers=headers, content=json.dumps(_INITIALIZE))


async def _get_json(http: httpx.AsyncClient, url: str) -> tuple[httpx.Response, dict[str, Any] | None]:
    resp = await http.get(url, headers={"Accept": "application/json"})
    if resp.status_code != 200:
        return resp, None
    try:
        body = resp.json()
    except ValueError:
        return resp, None
    return resp, body if isinstance(body, dict) else None


async def check_discovery(
    http: httpx.AsyncClient, target: VerifyTarget
) -> tuple[list[CheckResult], Discovered]:
    """The challenge, the PRM at both URLs and its fields, then the AS metadata, in that order;
    later steps are skipped when what they need was not found."""
    resp = await post_mcp(http, target.mcp_url, None)
    challenge, header_prm_url = _check_challenge(resp, target.mcp_url)
    results = [challenge]
    fetched, prm = await _fetch_prm(http, target.mcp_url, header_prm_url)
    results += fetched
    if prm is None:
        return results, Discovered()
    results += _check_prm(prm, target)
    servers = prm.get("authorization_servers")
    if not isinstance(servers, list) or not servers:
        return results, Discovered(prm=prm)
    issuer = str(servers[0])
    as_check, metadata = await _check_as_metadata(http, issuer)
    results.append(as_check)
    return results, Discovered(prm=prm, issuer=issuer, as_metadata=metadata)


def _check_challenge(resp: httpx.Response, mcp_url: str) -> tuple[CheckResult, str | None]:
    """``discovery.challenge``: 401 with a Bearer challenge naming an absolute PRM URL and a scope."""
    name = "discovery.challenge"
    challenge = parse_bearer_challenge(resp.headers.get("www-authenticate"))
    if resp.status_code != 401:
        return _fail(name, f"POST {mcp_url} without a token answered {resp.status_code}, not 401"), None
    if challenge is None:
        return _fail(name, "401 without a 'WWW-Authenticate: Bearer' challenge"), None
    header_prm_url = challenge.get("resource_metadata")
    problems = []
    if not header_prm_url or not httpx.URL(header_prm_url).is_absolute_url:
        problems.append(f"resource_metadata is not an absolute URL: {header_prm_url!r}")
    if not challenge.get("scope"):
        problems.append("no scope= in the challenge")
    if "error" in challenge:
        # RFC 6750 §3.1: a request with no credentials should get no error code.
        problems.append(f"error={challenge['error']!r} on a request that carried no token")
    if problems:
        return _fail(name, "; ".join(problems)), header_prm_url
    return _ok(name, f"resource_metadata={header_prm_url}"), header_prm_url


async def _fetch_prm(
    http: httpx.AsyncClient, mcp_url: str, header_prm_url: str | None
) -> tuple[list[CheckResult], dict[str, Any] | None]:
    """The PRM document at the challenge's URL and at the path-inserted one (the first found)."""
    results: list[CheckResult] = []
    prm: dict[str, Any] | None = None
    urls = [
        ("discovery.prm_header_url", header_prm_url),
        ("discovery.prm_path_inserted", path_inserted_prm_url(mcp_url)),
    ]
    for check, url in urls:
        if url is None:
            results.append(_fail(check, "no URL to fetch (the challenge named none)"))
            continue
        got, body = await _get_json(http, url)
        ctype = got.headers.get("content-type", "")
        if body is None:
            results.append(_fail(check, f"GET {url} -> {got.status_code}, not a JSON object"))
        elif not ctype.startswith("application/json"):
            results.append(_fail(check, f"GET {url} -> Content-Type {ctype!r}, not application/json"))
        else:
            results.append(_ok(check, url))
            prm = prm or body
    return results, prm


def _check_prm(prm: Mapping[str, Any], target: VerifyTarget) -> list[CheckResult]:
    """``discovery.prm_resource`` (byte-identical to the MCP URL) and ``discovery.prm_fields``."""
    resource = prm.get("resource")
    results = [
        _ok("discovery.prm_resource", f"resource == {target.mcp_url}")
        if resource == target.mcp_url
        else _fail(
            "discovery.prm_resource",
            f"resource {resource!r} is not byte-identical to the MCP URL {target.mcp_url!r}",
        )
    ]
    problems = []
    servers = prm.get("authorization_servers")
    if not isinstance(servers, list) or not servers:
        problems.append("authorization_servers missing or empty")
    scopes = prm.get("scopes_supported")
    if not isinstance(scopes, list) or target.scope not in scopes:
        problems.append(f"scopes_supported {scopes!r} lacks the app's scope {target.scope!r}")
    elif "offline_access" in scopes:
        problems.append("scopes_supported advertises offline_access")
    if prm.get("bearer_methods_supported") != ["header"]:
        problems.append(
            f"bearer_methods_supported is {prm.get('bearer_methods_supported')!r}, not ['header']"
        )
    results.append(
        _fail("discovery.prm_fields", "; ".join(problems))
        if problems
        else _ok("discovery.prm_fields", "scopes consistent")
    )
    return results


async def _check_as_metadata(
    http: httpx.AsyncClient, issuer: str
) -> tuple[CheckResult, dict[str, Any] | None]:
    """``discovery.as_metadata``: found in the MCP spec's order, same issuer, S256, endpoints."""
    metadata: dict[str, Any] | None = None
    tried: list[str] = []
    for url in as_metadata_urls(issuer):
        got, body = await _get_json(http, url)
        attempts = int(got.extensions.get(ATTEMPTS, 1))
        tried.append(f"{url} -> {got.status_code}" + (f" ({attempts} attempts)" if attempts > 1 else ""))
        if body is not None:
            metadata = body
            break
    if metadata is None:
        return _fail(
            "discovery.as_metadata", "no authorization-server metadata at: " + ", ".join(tried)
        ), None
    problems = []
    if metadata.get("issuer") != issuer:
        problems.append(
            f"issuer {metadata.get('issuer')!r} differs from the PRM's authorization server {issuer!r}"
        )
    if "S256" not in (metadata.get("code_challenge_methods_supported") or []):
        problems.append("code_challenge_methods_supported lacks S256")
    for key in ("authorization_endpoint", "token_endpoint"):
        if not metadata.get(key):
            problems.append(f"no {key}")
    if problems:
        return _fail("discovery.as_metadata", "; ".join(problems)), metadata
    return _ok("discovery.as_metadata", f"found at {tried[-1]}"), metadata


# What an authorization server's metadata must agree on with Entra's own when it stands for Entra.
_ENTRA_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


async def check_entra_metadata(
    http: httpx.AsyncClient, entra_issuer: str, as_metadata: Mapping[str, Any] | None
) -> CheckResult:
    """``discovery.entra_metadata``: Entra (the token issuer) discovered the way an MCP client can —
    the MCP spec's URLs in order: Entra answers only the appended OpenID configuration URL — with
    its own issuer; and the metadata the PRM names (the gateway's, for spec-strict clients), when
    it is not Entra's, sends clients to Entra's own endpoints."""
    name = "discovery.entra_metadata"
    tried: list[str] = []
    entra: dict[str, Any] | None = None
    for url in as_metadata_urls(entra_issuer):
        try:
            got, body = await _get_json(http, url)
        except httpx.HTTPError as exc:  # no answer at all: a failed check, never a traceback
            tried.append(f"{url} -> no answer ({type(exc).__name__}: {exc})")
            return _fail(name, "Entra's metadata not found: " + ", ".join(tried))
        tried.append(f"{url} -> {got.status_code}")
        if body is not None:
            entra = body
            break
    if entra is None:
        return _fail(name, "Entra's metadata not found: " + ", ".join(tried))
    if entra.get("issuer") != entra_issuer:
        return _fail(name, f"Entra's document names issuer {entra.get('issuer')!r}, not {entra_issuer!r}")
    pkce = "S256" in (entra.get("code_challenge_methods_supported") or [])
    facts = f"Entra found after {len(tried) - 1} refusal(s) ({'; '.join(tried)})"
    facts += (
        "; it advertises PKCE S256" if pkce else "; it does not advertise PKCE (strict clients refuse it)"
    )
    if as_metadata is None or as_metadata.get("issuer") == entra_issuer:
        return _ok(name, facts)
    drift = [
        f"{key} {as_metadata.get(key)!r} is not Entra's {entra.get(key)!r}"
        for key in _ENTRA_ENDPOINTS
        if as_metadata.get(key) != entra.get(key)
    ]
    if drift:
        return _fail(
            name, f"the metadata of {as_metadata.get('issuer')} stands for Entra but " + "; ".join(drift)
        )
    return _ok(name, f"{facts}; {as_metadata.get('issuer')} sends clients to Entra's own endpoints")
