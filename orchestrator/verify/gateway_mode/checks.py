"""The gateway-mode checks: metadata, the SDK clients (DCR, CIMD), refresh rotation, the
negative suite and ``idle.burst`` with a token the gateway issued (a burst after the backend's
keep-alive expired is answered like the warm-up, ``verify/idle.py``); ``check_gateway_mode``
runs them in order and one failure never stops the others."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from orchestrator.verify.gateway_mode.browser import ConsentBrowser, SignInStoppedError
from orchestrator.verify.gateway_mode.cimd import serve_client_metadata
from orchestrator.verify.gateway_mode.client import GatewayClient, oauth_error
from orchestrator.verify.gateway_mode.model import GatewayTarget, pkce_pair, query_of
from orchestrator.verify.gateway_mode.sdk_flow import sdk_client_flow
from orchestrator.verify.gateway_mode.store_wait import Progress, register_when_stored
from orchestrator.verify.http import as_metadata_urls, client, path_inserted_prm_url
from orchestrator.verify.idle import NAME as IDLE_BURST
from orchestrator.verify.idle import check_idle_burst
from orchestrator.verify.model import CheckResult, Outcome

Check = Callable[[GatewayClient], Awaitable[CheckResult]]


async def check_metadata(target: GatewayTarget, http: httpx.AsyncClient) -> CheckResult:
    name = "gateway.metadata"
    prm = await http.get(path_inserted_prm_url(target.mcp_url))
    servers = prm.json().get("authorization_servers") if prm.status_code == 200 else None
    if servers != [target.issuer]:
        return CheckResult(
            name, Outcome.FAIL, f"PRM authorization_servers {servers!r}, expected [{target.issuer!r}]"
        )
    url = as_metadata_urls(target.issuer)[0]  # RFC 8414 path-inserted
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
        return CheckResult(name, Outcome.FAIL, f"refresh answered {first.status_code} {oauth_error(first)}")
    body = first.json()
    if not body.get("refresh_token") or body.get("refresh_token") == grant.refresh_token:
        return CheckResult(name, Outcome.FAIL, "the refresh token was not rotated")
    if await c.mcp_status(str(body["access_token"])) != 200:
        return CheckResult(name, Outcome.FAIL, "the refreshed access token is refused by the MCP API")
    if await c.mcp_status(grant.access_token) != 401:
        return CheckResult(name, Outcome.FAIL, "the access token replaced by the refresh still works")
    again = await c.token(grant_type="refresh_token", refresh_token=grant.refresh_token)
    if again.status_code != 400 or oauth_error(again) != "invalid_grant":
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
    if second.status_code != 400 or oauth_error(second) != "invalid_grant":
        return CheckResult(name, Outcome.FAIL, f"the replayed code answered {second.status_code}")
    if await c.mcp_status(str(first.json()["access_token"])) != 401:
        return CheckResult(name, Outcome.FAIL, "the replay did not revoke the tokens issued for the code")
    return CheckResult(name, Outcome.PASS, "invalid_grant; the tokens issued for it are revoked")


async def reject_state_tampering(c: GatewayClient) -> CheckResult:
    def tamper(url: str) -> str:
        state = query_of(url).get("state", "")
        flipped = ("0" if state[:1] != "0" else "1") + state[1:]
        return url.replace(f"state={state}", f"state={flipped}")

    return await _sign_in_stops(
        c,
        "gateway.reject.state_tampering",
        400,
        (
            "the callback refused the altered state (400)",
            "the callback answered",
            "the sign-in completed with",
        ),
        callback_tamper=tamper,
    )


async def reject_consent_denied(c: GatewayClient) -> CheckResult:
    _, challenge = pkce_pair()
    params = await c.code(challenge, decision="deny")
    if params.get("error") == "access_denied" and "code" not in params:
        return CheckResult("gateway.reject.consent_denied", Outcome.PASS, "error=access_denied, no code")
    return CheckResult("gateway.reject.consent_denied", Outcome.FAIL, f"redirect carried {sorted(params)}")


async def reject_missing_csrf(c: GatewayClient) -> CheckResult:
    return await _sign_in_stops(
        c,
        "gateway.reject.missing_csrf",
        403,
        ("403 without the CSRF token", "answered", "consent accepted without a CSRF token:"),
        form_tamper=lambda f: {k: v for k, v in f.items() if k != "csrf"},
    )


async def _sign_in_stops(
    c: GatewayClient, name: str, status: int, say: tuple[str, str, str], **tamper: Any
) -> CheckResult:
    """The tampered sign-in must stop at HTTP ``status``. ``say``: the detail when it does, the
    prefix of the status it stopped at otherwise, the prefix of what came back if it went through."""
    _, challenge = pkce_pair()
    try:
        params = await c.code(challenge, **tamper)
    except SignInStoppedError as stop:
        if stop.status == status:
            return CheckResult(name, Outcome.PASS, say[0])
        return CheckResult(name, Outcome.FAIL, f"{say[1]} {stop.status}")
    return CheckResult(name, Outcome.FAIL, f"{say[2]} {sorted(params)}")


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
    if resp.status_code != 400 or oauth_error(resp) != "invalid_grant":
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
    if resp.status_code == 400 and oauth_error(resp) == "invalid_grant":
        return CheckResult(name, Outcome.PASS, "invalid_grant")
    return CheckResult(name, Outcome.FAIL, f"answered {resp.status_code} {oauth_error(resp)}".strip())


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


async def check_gateway_mode(target: GatewayTarget, progress: Progress | None = None) -> list[CheckResult]:
    """Every gateway-mode check, in order; one failure never stops the others. The negative
    suite's client registers first, waiting (bounded, reported on ``progress``) until APIM's
    role on the client store is in effect (``store_wait``), so that no check registering a client
    meets Azure's RBAC propagation."""
    results: list[CheckResult] = []
    async with client(target.ca_file, timeout=30.0) as http:
        if _wanted(target, "gateway.metadata"):
            results.append(await _guard("gateway.metadata", check_metadata(target, http)))
        c = GatewayClient(target, http)
        registered = await _guard("gateway.reject", register_when_stored(c, progress))
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
        if isinstance(registered, CheckResult):
            return [*results, registered]
        for name, check in NEGATIVE_CHECKS:
            if _wanted(target, name):
                results.append(await _guard(name, check(c)))
        if _wanted(target, IDLE_BURST):
            results.append(await _guard(IDLE_BURST, _idle_burst(c, http)))
    return results


async def _idle_burst(c: GatewayClient, http: httpx.AsyncClient) -> CheckResult:
    grant = await c.grant()
    return await check_idle_burst(
        http, c.target.mcp_url, grant.access_token, keep_alive_s=c.target.backend_keep_alive_s
    )


async def _guard(name: str, step: Awaitable[Any]) -> Any:
    """Run one check; an unexpected exception is that check failing (never the whole run)."""
    try:
        return await step
    except (httpx.HTTPError, RuntimeError, ValueError, KeyError, SignInStoppedError) as exc:
        return CheckResult(name, Outcome.FAIL, f"{type(exc).__name__}: {exc}"[:300])
