"""Runs the verification flow in order and gathers one ``Report``.

The suite is the authorization mode's (``orchestrator.modes``). Entra mode: discovery, the real
client (pre-registered, signs in at Entra), a burst after the backend's keep-alive expired
(``idle.py``, with the client's token), the forged-token battery at the gateway, and the same
battery against the server reached directly. Gateway mode (APIM is the authorization server,
``gateway_mode``): discovery, the caller's gateway-mode checks (DCR/CIMD clients, the negative
suite, the idle burst with a token the gateway issued), and the bypass battery — the
pre-registered Entra client and the Entra-token battery do not apply at a gateway that issues
its own tokens.

Once the token is known, the groups that follow are independent of one another and run at the
same time (one anyio task group): the idle burst spends most of its time waiting for the
backend's keep-alive to expire, while the batteries send requests the gateway refuses itself
(a refused token never reaches the backend, so its pooled connections stay idle) or go to the
server around the gateway. Results are reported in the suite's order whatever finished first.
The ``subscriptions`` group runs after them, alone: its admitted requests reach the backend.
A group not selected (``--check`` / ``verification.checks``) does not run at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
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


def _group_wanted(target: VerifyTarget, group: str) -> bool:
    """Whether any check of ``group`` is selected (``forged.expired`` selects ``forged``)."""
    return target.checks is None or any(s.split(".")[0] == group for s in target.checks)


Job = Callable[[], Awaitable[list[CheckResult]]]


async def _at_once(jobs: list[Job]) -> list[CheckResult]:
    """Run ``jobs`` concurrently; their results in the order of ``jobs``. A job that raises does
    not cancel the others; the first such exception (in that order) is raised once all ended."""
    outcomes: list[list[CheckResult] | Exception] = [[] for _ in jobs]

    async def one(i: int, job: Job) -> None:
        try:
            outcomes[i] = await job()
        except Exception as exc:  # re-raised below, as itself (not wrapped in a group)
            outcomes[i] = exc

    async with anyio.create_task_group() as tg:
        for i, job in enumerate(jobs):
            tg.start_soon(one, i, job)
    results: list[CheckResult] = []
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
        results += outcome
    return results


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
        jobs: list[Job] = []
        if mode.runs("client") and mode.runs("idle") and _wanted(target, IDLE_BURST):
            starting("idle")

            async def idle() -> list[CheckResult]:
                return [
                    await check_idle_burst(
                        http, target.mcp_url, token, keep_alive_s=target.backend_keep_alive_s
                    )
                ]

            jobs.append(idle)
        if mode.runs("gateway"):
            if gateway_checks is None:
                raise ValueError(f"authorization mode {mode.name} needs its gateway checks")
            starting("gateway")
            jobs.append(gateway_checks)
        batteries = [
            group
            for group in ("forged", "bypass")
            if mode.runs(group) and _group_wanted(target, group) and (group == "forged" or target.server_url)
        ]
        if batteries:
            issuer = target.token_issuer or discovered.issuer or ""
            if not issuer:
                results += await _at_once(jobs)
                results.append(
                    CheckResult("forged", Outcome.FAIL, "no issuer discovered: cannot build the battery")
                )
                return Report(tuple(_selected(target, results)))
            jwks = await _jwks(http, discovered.as_metadata if mode.runs("client") else None, issuer)
            cases = forgeries(target, issuer, token, jwks)
            if "forged" in batteries:
                starting("forged")

                async def forged() -> list[CheckResult]:
                    return await check_forgeries(
                        http, target.mcp_url, cases, resource_metadata=path_inserted_prm_url(target.mcp_url)
                    )

                jobs.append(forged)
            if "bypass" in batteries and target.server_url:
                # Around the gateway: the server must refuse every token the gateway refuses,
                # with the same answer (401 invalid_token, 403 insufficient_scope): same rules.
                starting("bypass")
                server_url = target.server_url

                async def bypass() -> list[CheckResult]:
                    return await check_forgeries(http, server_url, cases, group="bypass")

                jobs.append(bypass)
        results += await _at_once(jobs)
        # After the concurrent groups, alone: a request admitted with a subscription key reaches
        # the backend through the gateway's pool, which idle.burst needs left idle.
        if subscription_checks is not None and _wanted(target, "subscriptions"):
            starting("subscriptions")
            results += await subscription_checks()
    return Report(tuple(_selected(target, results)))
