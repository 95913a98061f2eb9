"""The verification runner's scheduling: which groups run, in which order they are reported, and
that the groups after the sign-in run at the same time.

The checks themselves are replaced by fakes that record what ran and wait on each other's events
(never on the clock): a schedule that ran them one after the other would wait forever, which
``anyio.fail_after`` turns into a failure.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import anyio
import httpx
import pytest

from orchestrator.modes import GATEWAY
from orchestrator.verify import runner
from orchestrator.verify.discovery import Discovered
from orchestrator.verify.forged import Forgery
from orchestrator.verify.model import CheckResult, Outcome, VerifyTarget

pytestmark = pytest.mark.anyio

TARGET = VerifyTarget(
    mcp_url="https://gw.test/mcp",
    app_client_id="app-1",
    tenant_id="tenant-1",
    scope="app-1/user_impersonate",
    client_id="client-1",
    server_url="https://server.test/mcp",
    token_issuer="https://login.test/tenant-1/v2.0",
    backend_keep_alive_s=2.0,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Fakes:
    """Stand-ins for the checks; ``ran`` lists the groups in the order they started."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.forged_sent = anyio.Event()
        self.bypass_sent = anyio.Event()
        self.idle_waiting = anyio.Event()
        self.fail_in: str | None = None
        self.keep_alive: float | None = None

    async def discovery(self, http: Any, target: Any) -> tuple[list[CheckResult], Discovered]:
        self.ran.append("discovery")
        return [CheckResult("discovery.challenge", Outcome.PASS)], Discovered(issuer=TARGET.token_issuer)

    async def entra_metadata(self, http: Any, issuer: str, metadata: Any) -> CheckResult:
        return CheckResult("discovery.entra_metadata", Outcome.PASS)

    async def client(self, target: Any) -> tuple[list[CheckResult], str | None]:
        self.ran.append("client")
        return [CheckResult("client.sign_in", Outcome.PASS)], None

    async def idle(self, http: Any, url: str, token: str | None, **kwargs: Any) -> CheckResult:
        self.ran.append("idle")
        self.keep_alive = kwargs.get("keep_alive_s")
        self.idle_waiting.set()
        # "idles" until both batteries have sent: only possible if they run meanwhile
        await self.forged_sent.wait()
        await self.bypass_sent.wait()
        self.ran.append("idle done")
        return CheckResult("idle.burst", Outcome.PASS)

    async def forgeries(
        self, http: Any, url: str, cases: list[Forgery], *, group: str = "forged", **_: Any
    ) -> list[CheckResult]:
        self.ran.append(group)
        if group == self.fail_in:
            raise httpx.ConnectError(f"{group}: connection refused")
        await self.idle_waiting.wait()  # sends while the idle check waits
        (self.forged_sent if group == "forged" else self.bypass_sent).set()
        return [CheckResult(f"{group}.{case.name}", Outcome.PASS) for case in cases]

    async def jwks(self, http: Any, metadata: Any, issuer: str) -> None:
        return None


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    f = Fakes()
    monkeypatch.setattr(runner, "check_discovery", f.discovery)
    monkeypatch.setattr(runner, "check_entra_metadata", f.entra_metadata)
    monkeypatch.setattr(runner, "check_client_flow", f.client)
    monkeypatch.setattr(runner, "check_idle_burst", f.idle)
    monkeypatch.setattr(runner, "check_forgeries", f.forgeries)
    monkeypatch.setattr(runner, "_jwks", f.jwks)
    return f


async def _run(target: VerifyTarget = TARGET, **kwargs: Any) -> tuple[list[str], list[str]]:
    groups: list[str] = []
    with anyio.fail_after(10):  # a hang guard: the fakes wait on events, never on time
        report = await runner.run_verification(target, on_group=groups.append, **kwargs)
    return groups, [r.name for r in report.results]


def _runs(names: list[str]) -> list[str]:
    """The groups of the reported names, each run of one group shown once."""
    groups = [n.split(".")[0] for n in names]
    return [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]


async def test_the_groups_after_sign_in_run_at_once_and_report_in_the_suites_order(fakes: Fakes) -> None:
    groups, names = await _run()
    assert groups == ["discovery", "client", "idle", "forged", "bypass"]  # the progress lines
    assert fakes.ran[:3] == ["discovery", "client", "idle"]
    assert fakes.ran[-1] == "idle done"  # the batteries sent while it waited
    assert fakes.keep_alive == 2.0  # the target's backend keep-alive, which the idle check waits out
    assert names[:4] == ["discovery.challenge", "discovery.entra_metadata", "client.sign_in", "idle.burst"]
    assert _runs(names) == ["discovery", "client", "idle", "forged", "bypass"]
    forged = [n.removeprefix("forged.") for n in names if n.startswith("forged.")]
    assert forged[:3] == ["none", "garbage", "expired"]  # the battery's own order
    assert forged == [n.removeprefix("bypass.") for n in names if n.startswith("bypass.")]


async def test_a_group_not_selected_does_not_run(fakes: Fakes) -> None:
    fakes.forged_sent.set()  # with idle selected alone, nothing else sends while it waits
    fakes.bypass_sent.set()
    _, names = await _run(_select("client", "idle"))
    assert "forged" not in fakes.ran
    assert "bypass" not in fakes.ran
    assert names == ["client.sign_in", "idle.burst"]
    fakes.ran.clear()
    fakes.idle_waiting.set()  # no idle check: the batteries need not wait for one
    _, names = await _run(_select("forged.expired"))
    assert fakes.ran == ["discovery", "client", "forged"]  # the sign-in gives the battery its token
    assert names == ["forged.expired"]


async def test_a_failing_group_leaves_the_others_to_finish_then_raises_its_own_error(fakes: Fakes) -> None:
    fakes.fail_in = "bypass"
    fakes.bypass_sent.set()  # the failing battery never sends; idle must still be able to end
    with pytest.raises(httpx.ConnectError, match="bypass: connection refused"):
        await _run()
    assert sorted(fakes.ran) == ["bypass", "client", "discovery", "forged", "idle", "idle done"]
    assert fakes.forged_sent.is_set()  # the forged battery ran to its end


async def test_gateway_mode_runs_its_checks_and_the_bypass_battery_at_once(fakes: Fakes) -> None:
    gateway_waiting = anyio.Event()

    async def gateway_checks() -> list[CheckResult]:
        fakes.ran.append("gateway")
        gateway_waiting.set()
        await fakes.bypass_sent.wait()  # only ends if bypass runs meanwhile
        return [CheckResult("gateway.metadata", Outcome.PASS)]

    fakes.idle_waiting = gateway_waiting  # bypass sends once the gateway checks are under way
    groups, names = await _run(mode=GATEWAY, gateway_checks=gateway_checks)
    assert groups == ["discovery", "gateway", "bypass"]
    assert "client" not in fakes.ran
    assert "idle" not in fakes.ran
    assert _runs(names) == ["discovery", "gateway", "bypass"]


async def test_subscriptions_run_alone_once_the_concurrent_groups_ended(fakes: Fakes) -> None:
    """Its requests are admitted through the gateway to the backend: never during the idle."""

    async def subscription_checks() -> list[CheckResult]:
        fakes.ran.append("subscriptions")
        return [CheckResult("subscriptions.no_key", Outcome.PASS)]

    groups, names = await _run(subscription_checks=subscription_checks)
    assert groups[-1] == "subscriptions"
    assert fakes.ran[-1] == "subscriptions"
    assert set(fakes.ran[:-1]) == {"discovery", "client", "idle", "idle done", "forged", "bypass"}
    assert names[-1] == "subscriptions.no_key"


def _select(*checks: str) -> VerifyTarget:
    return replace(TARGET, checks=frozenset(checks))


async def test_the_steps_before_the_checks_run_at_once_and_fail_as_themselves() -> None:
    """Test users are written while the servers start (``after_reconcile._all_of``); a failure is
    raised as itself (a ``TargetError`` stays one sentence), once every step ended."""
    from orchestrator.errors import TargetError
    from orchestrator.verify.after_reconcile import _all_of

    users_started = anyio.Event()
    ended: list[str] = []

    async def users() -> None:
        users_started.set()
        ended.append("users")
        raise TargetError("test user adele@prmlab.local: could not be created")

    async def server() -> None:
        await users_started.wait()  # only ends if the users step runs meanwhile
        ended.append("server")

    with anyio.fail_after(10), pytest.raises(TargetError, match="could not be created"):
        await _all_of([server, users])
    assert sorted(ended) == ["server", "users"]
