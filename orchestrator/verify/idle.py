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
all of them must succeed as the warm-up did, never with a 5xx. The calls carry a token the
lab issued for the API, so each must succeed (2xx): a warm-up refused (401/403: the server
refuses the lab's tokens) or failing fails the check, since a burst of refusals would show
nothing about the pool. Called by
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


def _succeeded(status: int | str) -> bool:
    return isinstance(status, int) and 200 <= status < 300


async def _statuses(http: httpx.AsyncClient, url: str, token: str, n: int) -> tuple[list[int | str], str]:
    """The ``n`` concurrent answers' statuses (an exception's name when none came), and the
    ``WWW-Authenticate`` challenge of the first refusal ('' when none)."""
    got: list[int | str] = [0] * n
    challenges: list[str] = []

    async def one(i: int) -> None:
        try:
            resp = await post_mcp(http, url, token)
        except httpx.HTTPError as exc:
            got[i] = type(exc).__name__
            return
        got[i] = resp.status_code
        if resp.status_code in (401, 403) and "www-authenticate" in resp.headers:
            challenges.append(resp.headers["www-authenticate"])

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    return got, challenges[0] if challenges else ""


def _counted(statuses: list[int | str]) -> str:
    """``[403, 403, 200]`` -> ``'2×403, 1×200'`` (most frequent first)."""
    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    return ", ".join(f"{n}×{s}" for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


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
    warm, challenge = await _statuses(http, mcp_url, token, WARM)
    if not all(_succeeded(s) for s in warm) or len(set(warm)) != 1:
        refused = f" ({challenge})" if challenge else ""
        return CheckResult(
            NAME,
            Outcome.FAIL,
            f"the warm-up's {WARM} authorized initialize calls must all succeed, they answered "
            f"{_counted(warm)}{refused}: the burst after the idle pause would show nothing",
        )
    await (wait_idle() if wait_idle is not None else anyio.sleep(idle_s))
    burst, challenge = await _statuses(http, mcp_url, token, BURST)
    bad = [s for s in burst if s != warm[0]]
    if bad:
        refused = f" ({challenge})" if challenge else ""
        stale = all(not isinstance(s, int) or s >= 500 for s in bad)
        cause = (
            "pooled backend connections the backend had closed were reused"
            if stale
            else "the same token's calls stopped succeeding after the pause"
        )
        return CheckResult(
            NAME,
            Outcome.FAIL,
            f"after {idle_s:g} s idle (backend keep-alive {keep_alive:g} s), {len(bad)} of {BURST} "
            f"concurrent requests answered {bad}{refused} instead of {warm[0]}: {cause}",
        )
    return CheckResult(
        NAME,
        Outcome.PASS,
        f"{BURST} concurrent requests after {idle_s:g} s idle (backend keep-alive {keep_alive:g} s): all {warm[0]}",
    )
