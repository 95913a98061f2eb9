"""Runs the verification flow in order and gathers one ``Report``.

The suite is the authorization mode's (``orchestrator.modes``). Entra mode: discovery, the real
client (pre-registered, signs in at Entra), a burst after the backend's keep-alive expired
(``idle.py``, with the client's token), the forged-token battery at the gateway, and the same
battery against the server reached directly. Gateway mode (APIM is the authorization server,
``gateway_mode``): discovery, the caller's gateway-mode checks (DCR/CIMD clients, the negative
suite, the idle burst with a token the gateway issued), and the bypass battery — the
pre-registered Entra client and the Entra-token battery do not apply at a gateway that issues
its own tokens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from orchestrator.modes import ENTRA, AuthorizationMode
from orchestrator.verify.client_flow import check_client_flow
from orchestrator.verify.discovery import check_discovery, check_entra_metadata
from orchestrator.verify.forged import check_forgeries, forgeries
from orchestrator.verify.http import client, identity_origins, path_inserted_prm_url
from orchestrator.verify.idle import NAME as IDLE_BURST
from orchestrator.verify.idle import check_idle_burst
from orchestrator.verify.model import CheckResult, Outcome, Report, VerifyTarget

ExtraChecks = Callable[[], Awaitable[list[CheckResult]]]


def _matches(name: str, selector: str) -> bool:
    """``forged`` selects ``forged.expired``; ``client.sign_in`` selects itself (not ``client.sign_in_x``)."""
    return name == selector or name.startswith(f"{selector}.")


def _wanted(target: VerifyTarget, name: str) -> bool:
    """Whether a check that costs time (``idle.burst`` idles) is selected at all."""
    return target.checks is None or any(_matches(name, s) for s in target.checks)


def _selected(target: VerifyTarget, results: list[CheckResult]) -> list[CheckResult]:
    """The results ``--check`` / ``verification.checks`` selected; a selector that matches no
    check of this run is a failure of its own (else a typo would verify nothing and pass)."""
    if target.checks is None:
        return results
    selected = [r for r in results if any(_matches(r.name, s) for s in target.checks)]
    for selector in sorted(target.checks):
        if not any(_matches(r.name, selector) for r in results):
            groups = sorted({r.name.split(".")[0] for r in results})
            selected.append(
                CheckResult(
                    f"{selector}",
                    Outcome.FAIL,
                    f"no check of this run is called '{selector}' (groups that ran: {', '.join(groups) or 'none'})",
                )
            )
    return selected


async def _jwks(
    http: httpx.AsyncClient, metadata: dict[str, Any] | None, issuer: str
) -> dict[str, Any] | None:
    """The token issuer's signing keys: from the discovered metadata, else its OIDC document."""
    jwks_uri = (metadata or {}).get("jwks_uri")
    if not jwks_uri:
        resp = await http.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
        jwks_uri = resp.json().get("jwks_uri") if resp.status_code == 200 else None
    if not jwks_uri:
        return None
    resp = await http.get(str(jwks_uri))
    return resp.json() if resp.status_code == 200 else None


async def run_verification(
    target: VerifyTarget,
    mode: AuthorizationMode = ENTRA,
    *,
    gateway_checks: ExtraChecks | None = None,
    on_group: Callable[[str], None] | None = None,
    subscription_checks: ExtraChecks | None = None,
) -> Report:
    """Every check of ``mode``'s suite; ``gateway_checks`` runs the ``gateway`` group,
    ``subscription_checks`` the ``subscriptions`` group (``subscriptions``: the lab's subscription
    keys at the gateway), last; ``on_group(name)`` is called as each group starts (the live
    progress lines)."""

    def starting(group: str) -> None:
        if on_group is not None:
            on_group(group)

    results: list[CheckResult] = []
    async with client(target.ca_file, retry_origins=identity_origins(target)) as http:
        starting("discovery")
        discovered_results, discovered = await check_discovery(http, target)
        results += discovered_results
        if mode.clients_sign_in_at_entra and target.token_issuer:
            results.append(await check_entra_metadata(http, target.token_issuer, discovered.as_metadata))
        token: str | None = None
        if mode.runs("client"):
            starting("client")
            flow_results, token = await check_client_flow(target)
            results += flow_results
            if mode.runs("idle") and _wanted(target, IDLE_BURST):
                starting("idle")
                results.append(await check_idle_burst(http, target.mcp_url, token))
        if mode.runs("gateway"):
            if gateway_checks is None:
                raise ValueError(f"authorization mode {mode.name} needs its gateway checks")
            starting("gateway")
            results += await gateway_checks()
        issuer = target.token_issuer or discovered.issuer or ""
        if not issuer:
            results.append(
                CheckResult("forged", Outcome.FAIL, "no issuer discovered: cannot build the battery")
            )
            return Report(tuple(_selected(target, results)))
        jwks = await _jwks(http, discovered.as_metadata if mode.runs("client") else None, issuer)
        cases = forgeries(target, issuer, token, jwks)
        if mode.runs("forged"):
            starting("forged")
            results += await check_forgeries(
                http, target.mcp_url, cases, resource_metadata=path_inserted_prm_url(target.mcp_url)
            )
        if target.server_url and mode.runs("bypass"):
            # Around the gateway: the server must refuse every token the gateway refuses, with
            # the same answer (401 invalid_token, 403 insufficient_scope): same claims rules.
            starting("bypass")
            results += await check_forgeries(http, target.server_url, cases, group="bypass")
        if subscription_checks is not None and _wanted(target, "subscriptions"):
            starting("subscriptions")
            results += await subscription_checks()
    return Report(tuple(_selected(target, results)))
