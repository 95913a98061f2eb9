"""Runs the verification flow in order and gathers one ``Report``."""

from __future__ import annotations

from typing import Any

from orchestrator.verify.client_flow import check_client_flow
from orchestrator.verify.discovery import check_discovery
from orchestrator.verify.forged import check_forgeries, forgeries
from orchestrator.verify.http import client
from orchestrator.verify.model import CheckResult, Outcome, Report, VerifyTarget


def _selected(target: VerifyTarget, results: list[CheckResult]) -> list[CheckResult]:
    if target.checks is None:
        return results
    return [r for r in results if any(r.name.startswith(prefix) for prefix in target.checks)]


async def run_verification(target: VerifyTarget) -> Report:
    results: list[CheckResult] = []
    async with client(target.ca_file) as http:
        discovered_results, discovered = await check_discovery(http, target)
        results += discovered_results
        flow_results, token = await check_client_flow(target)
        results += flow_results
        issuer = discovered.issuer or ""
        jwks: dict[str, Any] | None = None
        jwks_uri = (discovered.as_metadata or {}).get("jwks_uri")
        if jwks_uri:
            resp = await http.get(str(jwks_uri))
            if resp.status_code == 200:
                jwks = resp.json()
        if not issuer:
            results.append(
                CheckResult("forged", Outcome.FAIL, "no issuer discovered: cannot build the battery")
            )
        else:
            cases = forgeries(target, issuer, token, jwks)
            results += await check_forgeries(http, target.mcp_url, cases)
            if target.server_url:
                # Around the gateway: the server must refuse every invalid token itself (always 401:
                # the server does not distinguish scope failures from the gateway's 403).
                direct = [c for c in cases if c.expect == 401]
                results += await check_forgeries(
                    http, target.server_url, direct, group="bypass", expect_override=401
                )
    return Report(tuple(_selected(target, results)))
