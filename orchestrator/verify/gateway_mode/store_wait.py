"""Wait until the gateway can store client registrations: APIM's role on the client store in effect.

Where it sits: ``checks.check_gateway_mode`` calls ``register_when_stored`` for the negative
suite's client before the first check that registers a client (``gateway.dcr_client``). In
gateway mode API Management writes each dynamic client registration into the client store table
with its system-assigned identity, which holds Storage Table Data Contributor there
(``graph._client_store``). Azure applies that role assignment after a delay (up to 10 minutes:
``orchestrator.retry.RBAC_PROPAGATION_LIMIT_S``); until then the Table service answers 403
``AuthorizationPermissionMismatch`` and the gateway's registration endpoint 503
``temporarily_unavailable`` "the client registration could not be stored"
(``policy_templates/gateway-oauth.xml.j2``). The engine cannot ask as APIM's identity, so it
probes the operation that depends on the role: a registration, the one the negative suite uses
anyway. Probes wait ``retry.probe_wait`` (a quarter of the time waited, 0.25-15 s: the
per-address registration budget of the gateway is never spent by them), bounded by the limit,
with a progress line saying what they wait for. No fixed sleep.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import httpx

from orchestrator.retry import RBAC_PROPAGATION_LIMIT_S, probe_wait
from orchestrator.verify.gateway_mode.client import GatewayClient

STORE_WAITS_FOR = (
    "API Management's managed identity to be allowed to write the client store (its Storage Table "
    "Data Contributor role assignment taking effect: Azure RBAC propagation)"
)
Progress = Callable[[str], None]


def not_stored(resp: httpx.Response) -> bool:
    """The gateway's answer when it could not write the registration to the client store."""
    if resp.status_code != 503:
        return False
    try:
        body = resp.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and body.get("error") == "temporarily_unavailable"
        and "could not be stored" in str(body.get("error_description", ""))
    )


async def register_when_stored(
    c: GatewayClient,
    progress: Progress | None = None,
    *,
    limit_s: float = RBAC_PROPAGATION_LIMIT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> None:
    """Register ``c``; while the store refuses the write, probe again (bounded, reported)."""
    started = clock()
    probes = 0
    while True:
        resp = await c.post_registration()
        if not not_stored(resp):
            c.accept_registration(resp)
            if probes and progress is not None:
                progress(f"  client store writable after {clock() - started:.1f}s")
            return
        waited = clock() - started
        wait = probe_wait(waited)
        if waited + wait > limit_s:
            raise RuntimeError(
                f"gave up after {waited:.0f}s (limit {limit_s:.0f}s) waiting for {STORE_WAITS_FOR}: "
                "the registration answered 503 temporarily_unavailable (could not be stored)"
            )
        probes += 1
        if progress is not None and not probes & (probes - 1):  # probes 1, 2, 4, 8...
            progress(f"  waiting for {STORE_WAITS_FOR}; probing the registration again in {wait:.1f}s")
        await sleep(wait)
