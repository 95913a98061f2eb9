"""The verification step of ``prmlab reconcile`` and the body of ``prmlab verify``.

``verify(lab, outputs, settings, out) -> Report`` is the hook the engine calls after an apply that
succeeded (``outputs`` = node address -> ``Actual.outputs``); ``settings`` is the target's
``TargetSettings``. Every MCP API of the lab is verified in turn (``targeting.mcp_api_keys``);
in a lab with several, each result names its API (``CheckResult.api``) and the table groups them.
On the local target it first makes sure the test users exist, and gives the
verifier a minter (the emulator's ``/_emulator/identity/mint``) for the forged-token battery.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import httpx

from orchestrator.modes import mode_of
from orchestrator.verify.model import CheckResult, Report, TokenMinter

if TYPE_CHECKING:
    from orchestrator.spec.models import Lab
    from orchestrator.target import TargetSettings


def local_minter(settings: TargetSettings) -> TokenMinter:
    """Forged tokens signed with the local issuer's real key (``/_emulator/identity/mint``, which
    only the local operator may call: its ARM token goes along)."""
    from orchestrator.local_credential import LocalCredential
    from orchestrator.verify.http import ssl_context

    assert settings.base_url is not None
    assert settings.ca_file is not None
    operator = LocalCredential(settings.base_url, settings.tenant_id, settings.ca_file)

    async def mint(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
        token = await operator.get_token("https://management.azure.com/.default")
        async with httpx.AsyncClient(verify=ssl_context(settings.ca_file), timeout=10) as http:
            resp = await http.post(
                f"{settings.base_url}/_emulator/identity/mint",
                json={"claims": dict(claims)},
                headers={"Authorization": f"Bearer {token.token}"},
            )
            resp.raise_for_status()
            return str(resp.json()["token"])

    return mint


async def wait_for_server(server_url: str, ca_file: Any, limit_s: float = 60.0) -> None:
    """Wait (bounded) until the MCP server answers ``/health``: a container app (or the local
    runner's process) starts a moment after its resource reports success."""
    from orchestrator.errors import VerificationError
    from orchestrator.verify.http import client

    health = server_url.rstrip("/") + "/health"
    delay = 0.05
    async with client(ca_file, timeout=5.0) as http:
        try:
            with anyio.fail_after(limit_s):
                while True:
                    try:
                        if (await http.get(health)).status_code == 200:
                            return
                    except httpx.TransportError:
                        pass
                    await anyio.sleep(delay)
                    delay = min(delay * 2, 1.0)
        except TimeoutError:
            raise VerificationError(
                f"the MCP server at {health} did not become healthy within {limit_s:.0f} s"
            ) from None


async def _all_of(jobs: list[Callable[[], Awaitable[None]]]) -> None:
    """Run ``jobs`` at once; the first failure (in the order of ``jobs``) is raised as itself,
    once all have ended (a ``TargetError`` stays one sentence, not an exception group)."""
    failures: list[Exception | None] = [None] * len(jobs)

    async def one(i: int) -> None:
        try:
            await jobs[i]()
        except Exception as exc:  # raised below, unwrapped
            failures[i] = exc

    async with anyio.create_task_group() as tg:
        for i in range(len(jobs)):
            tg.start_soon(one, i)
    for failure in failures:
        if failure is not None:
            raise failure


async def run_for_lab(
    lab: Lab,
    outputs: Mapping[str, Mapping[str, Any]],
    settings: TargetSettings,
    *,
    tokens: Mapping[str, str] | None = None,
    checks: frozenset[str] | None = None,
    progress: TextIO | None = None,
) -> Report:
    """Verify ``lab``; with ``progress``, a line there as each check group starts. ``tokens``:
    MCP API key -> the access token its client uses instead of signing in
    (``targeting.tokens_per_api``)."""
    from orchestrator.verify.runner import run_verification
    from orchestrator.verify.targeting import build_target, mcp_api_keys

    local = settings.kind == "local"
    ready: list[Callable[[], Awaitable[None]]] = []  # what must be true before the checks
    if local and lab.verification.test_users:
        from orchestrator.target import open_clients, state_dir
        from orchestrator.verify.users import PASSWORDS_FILE, ensure_test_users

        passwords = state_dir(lab) / PASSWORDS_FILE if lab.source is not None else None

        async def users() -> None:
            async with open_clients(settings) as clients:
                await ensure_test_users(clients.graph, lab, passwords_file=passwords)

        ready.append(users)
    targets = settings.outputs()
    keys = mcp_api_keys(lab)
    verify_targets = [
        build_target(
            lab,
            outputs,
            targets,
            local=local,
            ca_file=settings.ca_file if local else None,
            minter=local_minter(settings) if local else None,
            token=(tokens or {}).get(key),
            checks=checks,
            api=key,
            backend_keep_alive_s=settings.backend_keep_alive_s,
        )
        for key in keys
    ]
    for server_url in dict.fromkeys(t.server_url for t in verify_targets if t.server_url):
        ready.append(
            functools.partial(wait_for_server, server_url.removesuffix("/mcp"), verify_targets[0].ca_file)
        )
    # the test users are written while the servers start (both wait on other processes)
    await _all_of(ready)
    mode = mode_of(lab)
    gateway_checks = None
    if mode.runs("gateway"):
        from orchestrator.verify.gateway_mode import verify_gateway

        def say(line: str) -> None:
            if progress is not None:
                print(line, file=progress, flush=True)

        async def gateway_checks() -> list[Any]:
            ca_file = settings.ca_file if local else None
            return list(
                await verify_gateway(
                    lab,
                    outputs,
                    targets,
                    ca_file,
                    progress=say,
                    backend_keep_alive_s=settings.backend_keep_alive_s,
                )
            )

    subscription_checks = None
    if lab.apim.subscriptions:
        from orchestrator.target import open_clients
        from orchestrator.verify.http import client
        from orchestrator.verify.subscriptions import check_subscriptions

        @asynccontextmanager
        async def open_apim() -> AsyncIterator[Any]:
            async with open_clients(settings) as clients:
                yield clients.apim

        async def subscription_checks() -> list[Any]:
            async with client(verify_targets[0].ca_file) as http:
                return list(await check_subscriptions(lab, outputs, open_apim, http))

    several = len(keys) > 1

    def on_group(group: str) -> None:
        if progress is not None:
            print(f"  verifying {group}{f' of {api}' if several else ''}…", file=progress, flush=True)

    if progress is not None:
        print(f"Verifying the lab ({', '.join(mode.checks)})…", file=progress, flush=True)
    results: list[CheckResult] = []
    for api, target in zip(keys, verify_targets, strict=True):
        # The lab-wide groups (gateway mode's gateway group: the authorization server, its
        # clients and the idle burst; the APIM subscriptions) run once, with the first MCP API;
        # every API gets the rest.
        first = api == keys[0]
        api_mode = mode if first else replace(mode, checks=tuple(c for c in mode.checks if c != "gateway"))
        report = await run_verification(
            target,
            api_mode,
            gateway_checks=gateway_checks if first else None,
            on_group=on_group,
            subscription_checks=subscription_checks if first else None,
        )
        results += [replace(r, api=api) if several else r for r in report.results]
    return Report(tuple(results))


def write_report(report: Report, out: TextIO, output: str = "text") -> None:
    if output == "json":
        out.write(json.dumps(report.as_json(), indent=2) + "\n")
    else:
        from orchestrator.verify.report import write_text

        write_text(report, out)


async def verify(
    lab: Lab, outputs: Mapping[str, Mapping[str, Any]], settings: TargetSettings, out: TextIO
) -> Report:
    from orchestrator.spec.refs import resolve
    from orchestrator.spec.values import Ref
    from orchestrator.verify.connect import connection_help
    from orchestrator.verify.targeting import mcp_api_keys, resource_app_key

    report = await run_for_lab(lab, outputs, settings, progress=out)
    write_report(report, out)
    targets = settings.outputs()
    keys = mcp_api_keys(lab)
    urls = {key: str(resolve(Ref(ref=f"apim.apis.{key}.url"), lab, outputs, targets)) for key in keys}
    client_ids = None
    if mode_of(lab).runs("client"):  # a pre-registered client signs in: show its id, per API
        client_ids = {
            key: str(
                resolve(Ref(ref=f"entra.apps.{resource_app_key(lab, key)}.client_id"), lab, outputs, targets)
            )
            for key in keys
        }
    out.write(
        connection_help(lab.name, urls, settings.ca_file if settings.kind == "local" else None, client_ids)
    )
    return report
