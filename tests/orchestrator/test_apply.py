"""Executor: dependency order, parallelism bound, failure isolation, retries, cancellation."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from orchestrator.apply import (
    EventKind,
    ProgressEvent,
    Recorder,
    Status,
    apply_plan,
    result_from,
)
from orchestrator.errors import NotInEffectError, PermanentError, TemporaryError
from orchestrator.plan import NodeInput, Plan, build_destroy_plan, build_plan
from orchestrator.resource import Actual
from orchestrator.retry import RetryPolicy
from tests.orchestrator.fakes import LAB, FakeCloud, FakeRef, providers, spec


def plan_of(cloud: FakeCloud, nodes: list[NodeInput], kinds: list[str]) -> tuple[Plan, dict[str, Any]]:
    provs = providers(cloud, kinds)

    async def read() -> dict[str, Actual]:
        found: dict[str, Actual] = {}
        for kind in kinds:
            descs = {n.address: provs[kind].desired(n.address, n.spec, {}) for n in nodes if n.kind == kind}
            found.update(await provs[kind].read(LAB, descs))
        return found

    actuals = anyio.run(read)
    return build_plan(LAB, nodes, provs, actuals), provs


def chain_lab() -> list[NodeInput]:
    """app -> nv.client (refs app id) -> api (refs nv) ; plus an independent nv.other."""
    return [
        NodeInput("app.mcp", "app", (), spec("mcp-app", display="MCP")),
        NodeInput("nv.client", "nv", ("app.mcp",), spec("ClientId", value=FakeRef("app.mcp.serial", "-x"))),
        NodeInput("api.mcp", "api", ("nv.client",), spec("mcp", nv=FakeRef("nv.client.id"))),
        NodeInput("nv.other", "nv", (), spec("Other", value="1")),
    ]


KINDS = ["api", "app", "nv"]


async def run(plan: Plan, provs: dict[str, Any], **kwargs: Any) -> Any:
    with anyio.fail_after(10):
        return await apply_plan(plan, provs, **kwargs)


def test_creates_in_dependency_order_and_resolves_references_from_outputs() -> None:
    cloud = FakeCloud()
    plan, provs = plan_of(cloud, chain_lab(), KINDS)
    result = anyio.run(lambda: run(plan, provs))
    assert result.ok
    assert {o.status for o in result.outcomes} == {Status.CREATED}
    creates = [name for verb, _, name in cloud.calls if verb == "create"]
    assert creates.index("mcp-app") < creates.index("ClientId") < creates.index("mcp")
    app_serial = cloud.records[("app", "mcp-app")].outputs["serial"]
    assert cloud.records[("nv", "ClientId")].properties["value"] == f"{app_serial}-x"
    assert cloud.records[("api", "mcp")].properties["nv"] == "nv/ClientId"

    # a second run over the result plans nothing and writes nothing
    cloud.calls.clear()
    plan2, provs2 = plan_of(cloud, chain_lab(), KINDS)
    assert not plan2.has_changes
    result2 = anyio.run(lambda: run(plan2, provs2))
    assert cloud.writes() == []
    assert {o.status for o in result2.outcomes} == {Status.UNCHANGED}


@pytest.mark.parametrize("parallelism", [1, 3, 8])
def test_parallelism_bound_is_honoured_and_reached(parallelism: int) -> None:
    cloud = FakeCloud()
    nodes = [NodeInput(f"nv.n{i}", "nv", (), spec(f"N{i}", value=str(i))) for i in range(24)]
    plan, provs = plan_of(cloud, nodes, ["nv"])
    result = anyio.run(lambda: run(plan, provs, parallelism=parallelism))
    assert result.ok
    assert cloud.max_in_flight == parallelism
    assert len(cloud.writes()) == 24


def test_a_failure_skips_dependants_while_independent_branches_finish() -> None:
    cloud = FakeCloud()
    cloud.faults[("create", "app.mcp")] = [PermanentError("app.mcp", "403 forbidden")]
    plan, provs = plan_of(cloud, chain_lab(), KINDS)
    result = anyio.run(lambda: run(plan, provs))
    by = {o.address: o for o in result.outcomes}
    assert by["app.mcp"].status is Status.FAILED
    assert "403 forbidden" in by["app.mcp"].message
    assert by["nv.client"].status is Status.SKIPPED
    assert "app.mcp failed" in by["nv.client"].message
    assert by["api.mcp"].status is Status.SKIPPED  # transitively
    assert by["nv.other"].status is Status.CREATED
    assert not result.ok
    assert ("create", "nv", "ClientId") not in cloud.calls


def test_an_unexpected_provider_exception_becomes_a_failed_outcome() -> None:
    cloud = FakeCloud()
    cloud.faults[("create", "nv.other")] = [KeyError("boom")]
    plan, provs = plan_of(cloud, chain_lab(), KINDS)
    result = anyio.run(lambda: run(plan, provs))
    by = {o.address: o for o in result.outcomes}
    assert by["nv.other"].status is Status.FAILED
    assert "KeyError" in by["nv.other"].message
    assert by["api.mcp"].status is Status.CREATED


def test_retries_honour_the_server_delay_without_real_sleeping() -> None:
    cloud = FakeCloud()
    cloud.faults[("create", "nv.other")] = [
        TemporaryError("nv.other", "429 throttled", delay=12.0),
        TemporaryError("nv.other", "503"),
    ]
    slept: list[float] = []
    events: list[ProgressEvent] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    plan, provs = plan_of(cloud, chain_lab(), KINDS)
    result = anyio.run(
        lambda: run(
            plan,
            provs,
            sleep=fake_sleep,
            policy=RetryPolicy(hint_jitter=0.0, jitter=0.0),
            on_event=events.append,
        )
    )
    by = {o.address: o for o in result.outcomes}
    assert by["nv.other"].status is Status.CREATED
    assert by["nv.other"].attempts == 3
    assert slept == [12.0, 1.0]
    retries = [e for e in events if e.kind is EventKind.RETRYING]
    assert [(e.address, e.attempt, e.wait) for e in retries] == [("nv.other", 1, 12.0), ("nv.other", 2, 1.0)]
    assert "429 throttled" in retries[0].message


def test_a_write_waiting_for_an_effect_reports_what_it_waits_for_while_others_go_on() -> None:
    cloud = FakeCloud()
    cloud.faults[("create", "nv.other")] = [
        NotInEffectError("nv.other", "400 pull refused", "AcrPull to take effect", 600.0) for _ in range(3)
    ]
    slept: list[float] = []
    events: list[ProgressEvent] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    plan, provs = plan_of(cloud, chain_lab(), KINDS)
    result = anyio.run(
        lambda: run(plan, provs, sleep=fake_sleep, policy=RetryPolicy(max_attempts=2), on_event=events.append)
    )
    by = {o.address: o for o in result.outcomes}
    assert by["nv.other"].status is Status.CREATED  # 3 probes refused, beyond max_attempts=2
    assert by["nv.other"].attempts == 4
    waits = [e for e in events if e.kind is EventKind.WAITING]
    assert [(e.address, e.message) for e in waits] == [("nv.other", "AcrPull to take effect")] * 3
    assert not [e for e in events if e.kind is EventKind.RETRYING]
    assert all(o.status.ok for o in result.outcomes)


def test_retries_exhausted_fail_the_node() -> None:
    cloud = FakeCloud()
    cloud.faults[("create", "app.mcp")] = [TemporaryError("app.mcp", "503") for _ in range(5)]

    async def fake_sleep(seconds: float) -> None:
        return None

    plan, provs = plan_of(cloud, chain_lab(), KINDS)
    result = anyio.run(lambda: run(plan, provs, sleep=fake_sleep, policy=RetryPolicy(max_attempts=3)))
    by = {o.address: o for o in result.outcomes}
    assert by["app.mcp"].status is Status.FAILED
    assert "3 attempts" in by["app.mcp"].message
    assert by["nv.client"].status is Status.SKIPPED


def test_events_start_and_finish_every_change() -> None:
    cloud = FakeCloud()
    events: list[ProgressEvent] = []
    plan, provs = plan_of(cloud, chain_lab(), KINDS)
    anyio.run(lambda: run(plan, provs, on_event=events.append))
    started = [e.address for e in events if e.kind is EventKind.STARTED]
    finished = [e.address for e in events if e.kind is EventKind.FINISHED]
    assert sorted(started) == sorted(finished) == sorted(n.address for n in chain_lab())


def test_cancellation_records_partial_outcomes_and_the_next_run_converges() -> None:
    cloud = FakeCloud()
    nodes = chain_lab()
    plan, provs = plan_of(cloud, nodes, KINDS)
    gate = anyio.Event()
    entered = anyio.Event()
    cloud.gates[("create", "nv.client")] = gate  # never opened: the run is stuck here
    cloud.entered[("create", "nv.client")] = entered
    recorder = Recorder()

    async def main() -> None:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(lambda: apply_plan(plan, provs, recorder=recorder))
                await entered.wait()
                group.cancel_scope.cancel()  # what Ctrl-C does to the main task

    anyio.run(main)
    partial = result_from(plan, recorder, cancelled=True)
    by = {o.address: o for o in partial.outcomes}
    assert by["app.mcp"].status is Status.CREATED
    assert by["nv.other"].status is Status.CREATED
    assert by["nv.client"].status is Status.CANCELLED
    assert by["api.mcp"].status is Status.CANCELLED
    assert not partial.ok

    cloud.gates.clear()
    plan2, provs2 = plan_of(cloud, nodes, KINDS)
    assert [s.address for s in plan2.changes] == ["nv.client", "api.mcp"]
    assert anyio.run(lambda: run(plan2, provs2)).ok
    plan3, _ = plan_of(cloud, nodes, KINDS)
    assert not plan3.has_changes


def test_update_after_a_dependency_changes_rederives_the_value() -> None:
    cloud = FakeCloud()
    nodes = chain_lab()
    plan, provs = plan_of(cloud, nodes, KINDS)
    anyio.run(lambda: run(plan, provs))
    # the app changes (new serial on update): the planned no-op on nv.client must pick up the new value
    nodes[0] = NodeInput("app.mcp", "app", (), spec("mcp-app", display="MCP v2"))
    plan2, provs2 = plan_of(cloud, nodes, KINDS)
    assert [s.address for s in plan2.changes] == ["app.mcp"]
    result = anyio.run(lambda: run(plan2, provs2))
    by = {o.address: o for o in result.outcomes}
    assert by["app.mcp"].status is Status.UPDATED
    assert by["nv.client"].status is Status.UPDATED
    serial = cloud.records[("app", "mcp-app")].outputs["serial"]
    assert cloud.records[("nv", "ClientId")].properties["value"] == f"{serial}-x"


def test_prune_deletes_only_the_removed_resource() -> None:
    cloud = FakeCloud()
    nodes = chain_lab()
    plan, provs = plan_of(cloud, nodes, KINDS)
    anyio.run(lambda: run(plan, provs))
    cloud.add("api", "theirs", {}, owner=None)
    cloud.calls.clear()
    plan2, provs2 = plan_of(cloud, [n for n in nodes if n.address != "nv.other"], KINDS)
    assert [(s.address, s.action.value) for s in plan2.changes] == [("nv.Other", "delete")]
    anyio.run(lambda: run(plan2, provs2))
    assert cloud.writes() == [("delete", "nv", "Other")]
    assert ("api", "theirs") in cloud.records


def test_destroy_deletes_dependants_first_and_leaves_unowned_alone() -> None:
    cloud = FakeCloud()
    nodes = chain_lab()
    plan, provs = plan_of(cloud, nodes, KINDS)
    anyio.run(lambda: run(plan, provs))
    cloud.add("api", "theirs", {}, owner=None)
    cloud.calls.clear()

    async def read() -> dict[str, Actual]:
        found: dict[str, Actual] = {}
        for kind in KINDS:
            descs = {n.address: provs[kind].desired(n.address, n.spec, {}) for n in nodes if n.kind == kind}
            found.update(await provs[kind].read(LAB, descs))
        return found

    destroy = build_destroy_plan(LAB, nodes, anyio.run(read))
    result = anyio.run(lambda: run(destroy, provs))
    assert result.ok
    deletes = [name for verb, _, name in cloud.writes() if verb == "delete"]
    assert deletes.index("mcp") < deletes.index("ClientId") < deletes.index("mcp-app")
    assert set(cloud.records) == {("api", "theirs")}
    # a second destroy is a no-op
    again = build_destroy_plan(LAB, nodes, anyio.run(read))
    assert not again.has_changes


def test_parallelism_must_be_positive() -> None:
    cloud = FakeCloud()
    plan, provs = plan_of(cloud, chain_lab(), KINDS)
    with pytest.raises(ValueError, match="at least 1"):
        anyio.run(lambda: apply_plan(plan, provs, parallelism=0))


def test_late_bound_reference_is_set_by_a_late_update_and_then_stable() -> None:
    cloud = FakeCloud()
    nodes = [
        NodeInput(
            "app.mcp",
            "app",
            (),
            spec("mcp-app", redirect=FakeRef("srv.main.id", "/cb")),
            deferred=("srv.main",),
        ),
        NodeInput("srv.main", "srv", ("app.mcp",), spec("server", client=FakeRef("app.mcp.id"))),
    ]
    plan, provs = plan_of(cloud, nodes, ["app", "srv"])
    assert [(s.address, s.action.value) for s in plan.changes] == [
        ("app.mcp", "create"),
        ("srv.main", "create"),
        ("app.mcp#late", "update"),
    ]
    late = plan.step("app.mcp#late")
    assert late.depends_on == ("app.mcp", "srv.main")
    assert [c.path for c in late.changes] == ["redirect"]
    result = anyio.run(lambda: run(plan, provs))
    assert result.ok, result
    assert [(v, n) for v, _, n in cloud.writes()] == [
        ("create", "mcp-app"),
        ("create", "server"),
        ("update", "mcp-app"),
    ]
    assert cloud.records[("app", "mcp-app")].properties["redirect"] == "srv/server/cb"
    again, _ = plan_of(cloud, nodes, ["app", "srv"])
    assert not again.has_changes
