"""The ``idle.burst`` check: requests through the gateway after the backend closed its idle
keep-alive connections.

A gateway pools its connections to the backend; the backend (the MCP server: uvicorn,
``mcp_server.config.KEEP_ALIVE_S`` by default; on the local target the shorter keep-alive the
emulator's runner gives its apps, ``VerifyTarget.backend_keep_alive_s``) closes one after that
many idle seconds. A gateway that hands
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
PAST_KEEP_ALIVE_S = 1.0  # bounded: one second past the backend's keep-alive
IDLE_S = KEEP_ALIVE_S + PAST_KEEP_ALIVE_S  # behind the MCP server's default keep-alive


def idle_seconds(keep_alive_s: float | None) -> float:
    """How long the check idles behind a backend keeping idle connections ``keep_alive_s``."""
    return (KEEP_ALIVE_S if keep_alive_s is None else keep_alive_s) + PAST_KEEP_ALIVE_S


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


async def check_idle_burst(
    http: httpx.AsyncClient,
    mcp_url: str,
    token: str | None,
    *,
    keep_alive_s: float | None = None,
    wait_idle: Callable[[], Awaitable[None]] | None = None,
) -> CheckResult:
    """Warm-up, idle past the backend's keep-alive (``keep_alive_s``, None: the MCP server's
    default; ``wait_idle`` instead of the clock: tests pass an event), burst."""
    keep_alive = KEEP_ALIVE_S if keep_alive_s is None else keep_alive_s
    idle_s = idle_seconds(keep_alive_s)
    if not token:
        return CheckResult(NAME, Outcome.SKIP, "no access token to call the MCP endpoint with")
    warm = await _statuses(http, mcp_url, token, WARM)
    expected = {s for s in warm if isinstance(s, int) and s < 500}
    if len(expected) != 1 or len(set(warm)) != 1:
        return CheckResult(NAME, Outcome.FAIL, f"warm-up answers differ or failed: {sorted(map(str, warm))}")
    await (wait_idle() if wait_idle is not None else anyio.sleep(idle_s))
    burst = await _statuses(http, mcp_url, token, BURST)
    bad = [s for s in burst if s not in expected]
    if bad:
        return CheckResult(
            NAME,
            Outcome.FAIL,
            f"after {idle_s:g} s idle (backend keep-alive {keep_alive:g} s), {len(bad)} of {BURST} "
            f"concurrent requests answered {bad} instead of {warm[0]}: pooled backend connections "
            "the backend had closed were reused",
        )
    return CheckResult(
        NAME,
        Outcome.PASS,
        f"{BURST} concurrent requests after {idle_s:g} s idle (backend keep-alive {keep_alive:g} s): all {warm[0]}",
    )
