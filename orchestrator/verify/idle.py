"""The ``idle.burst`` check: requests through the gateway after the backend closed its idle
keep-alive connections.

A gateway pools its connections to the backend; the backend (the MCP server: uvicorn,
``mcp_server.config.KEEP_ALIVE_S``) closes one after that many idle seconds. A gateway that hands
such a connection out answers 500 to the first requests after a pause (issue 17, item 1: MCP
Inspector runs failing after the user read the screen for a few seconds). The check fills the
gateway's pool with a concurrent warm-up, stays idle just longer than the backend's keep-alive,
then sends a smaller concurrent burst, so every burst request would meet a closed connection:
all of them must be answered as the warm-up was, never with a 5xx. Called by
``runner.run_verification`` (entra mode, with the signed-in client's token) and by
``gateway_mode.check_gateway_mode`` (with a token the gateway issued).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import httpx

from mcp_server.config import KEEP_ALIVE_S
from orchestrator.verify.discovery import post_mcp
from orchestrator.verify.model import CheckResult, Outcome

NAME = "idle.burst"
WARM = 12  # more pooled connections than the burst takes, so a stale one is always at hand
BURST = 4
IDLE_S = KEEP_ALIVE_S + 1.0  # bounded: one second past the backend's keep-alive


async def _statuses(http: httpx.AsyncClient, url: str, token: str, n: int) -> list[int | str]:
    got: list[int | str] = [0] * n

    async def one(i: int) -> None:
        try:
            got[i] = (await post_mcp(http, url, token)).status_code
        except httpx.HTTPError as exc:
            got[i] = type(exc).__name__

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    return got


async def _idle() -> None:
    await anyio.sleep(IDLE_S)


async def check_idle_burst(
    http: httpx.AsyncClient,
    mcp_url: str,
    token: str | None,
    *,
    wait_idle: Callable[[], Awaitable[None]] = _idle,
) -> CheckResult:
    """Warm-up, idle past the backend's keep-alive (``wait_idle``; tests pass an event), burst."""
    if not token:
        return CheckResult(NAME, Outcome.SKIP, "no access token to call the MCP endpoint with")
    warm = await _statuses(http, mcp_url, token, WARM)
    expected = {s for s in warm if isinstance(s, int) and s < 500}
    if len(expected) != 1 or len(set(warm)) != 1:
        return CheckResult(NAME, Outcome.FAIL, f"warm-up answers differ or failed: {sorted(map(str, warm))}")
    await wait_idle()
    burst = await _statuses(http, mcp_url, token, BURST)
    bad = [s for s in burst if s not in expected]
    if bad:
        return CheckResult(
            NAME,
            Outcome.FAIL,
            f"after {IDLE_S:.0f} s idle (backend keep-alive {KEEP_ALIVE_S} s), {len(bad)} of {BURST} "
            f"concurrent requests answered {bad} instead of {warm[0]}: pooled backend connections "
            "the backend had closed were reused",
        )
    return CheckResult(
        NAME,
        Outcome.PASS,
        f"{BURST} concurrent requests after {IDLE_S:.0f} s idle (backend keep-alive {KEEP_ALIVE_S} s): all {warm[0]}",
    )
