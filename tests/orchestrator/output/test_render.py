"""Plan text, summary and progress lines: snapshot tests (``PRMLAB_UPDATE_SNAPSHOTS=1`` rewrites)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from orchestrator.apply import ApplyResult, EventKind, Outcome, ProgressEvent, Status
from orchestrator.output.plan_text import render_plan
from orchestrator.output.progress import PlainProgress, event_line
from orchestrator.output.summary import render_summary
from orchestrator.plan import NodeInput, Plan, build_destroy_plan, build_plan
from orchestrator.resource import Action, Actual, Secret
from tests.orchestrator.fakes import LAB, FakeCloud, FakeRef, providers, spec

SNAPSHOTS = Path(__file__).parent / "snapshots"

OLD_POLICY = """<policies>
  <inbound>
    <base />
    <validate-azure-ad-token tenant-id="{{McpTenantId}}">
      <audiences><audience>{{McpClientId}}</audience></audiences>
    </validate-azure-ad-token>
  </inbound>
</policies>"""
NEW_POLICY = OLD_POLICY.replace("<base />", "<base />\n    <cors />")


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("PRMLAB_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(text)
    assert text == path.read_text()


def sample_plan() -> Plan:
    nodes = [
        NodeInput("app.mcp", "app", (), spec("mcp-app", display="MCP")),
        NodeInput("nv.client", "nv", ("app.mcp",), spec("McpClientId", value=FakeRef("app.mcp.client_id"))),
        NodeInput("nv.key", "nv", (), spec("Key", value=Secret("hunter2-new"))),
        NodeInput("api.mcp", "api", (), spec("mcp", path="mcp", policy=NEW_POLICY, type="mcp")),
        NodeInput("api.same", "api", (), spec("same", path="same")),
    ]
    actuals = {
        "nv.key": Actual("nv.key", "nv", "Key", {"value": Secret("hunter2-old")}),
        "api.mcp": Actual("api.mcp", "api", "mcp", {"path": "mcp", "policy": OLD_POLICY, "type": "http"}),
        "api.same": Actual("api.same", "api", "same", {"path": "same"}),
        "api.old": Actual("api.old", "api", "old", {"path": "old"}),
    }
    provs = providers(FakeCloud(), ["api", "app", "nv"], {"api": frozenset({"type"})})
    return build_plan(LAB, nodes, provs, actuals)


def test_plan_text_snapshot() -> None:
    text = render_plan(sample_plan(), target="local")
    assert "hunter2" not in text
    check_snapshot("plan.txt", text)


def test_plan_text_markers_and_diff() -> None:
    text = render_plan(sample_plan(), target="local")
    assert "  + app.mcp" in text
    assert "(known after apply)" in text
    assert "~ value: (sensitive) -> (sensitive)" in text
    assert "  -/+ api.mcp" in text
    assert "+        <cors/>" in text  # the unified diff line of the policy (laid out by xmltext)
    assert "  - api.old" in text
    assert text.rstrip().endswith("Plan: 2 to create, 1 to update, 1 to replace, 1 to delete, 1 unchanged.")


def test_no_changes_text() -> None:
    plan = Plan(lab=LAB, destroy=False, steps=())
    assert render_plan(
        plan
    ) == f"No changes for lab {LAB!r}: the target matches lab.yaml (0 resources).\n" + (
        "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.\n"
    )


def test_destroy_text_snapshot() -> None:
    nodes = [
        NodeInput("app.mcp", "app", (), spec("mcp-app")),
        NodeInput("nv.client", "nv", ("app.mcp",), spec("McpClientId")),
    ]
    actuals = {
        "app.mcp": Actual("app.mcp", "app", "mcp-app", {}),
        "nv.client": Actual("nv.client", "nv", "McpClientId", {}),
    }
    check_snapshot("destroy.txt", render_plan(build_destroy_plan(LAB, nodes, actuals), target="azure"))


def result() -> ApplyResult:
    return ApplyResult(
        (
            Outcome("app.mcp", "app", Action.CREATE, Status.CREATED, seconds=1.25, attempts=1),
            Outcome("nv.key", "nv", Action.UPDATE, Status.FAILED, "403 Forbidden: no access", attempts=1),
            Outcome("api.mcp", "api", Action.CREATE, Status.SKIPPED, "because nv.key failed"),
            Outcome("api.same", "api", Action.NOOP, Status.UNCHANGED),
        ),
        wall_seconds=2.5,
    )


def test_summary_snapshot() -> None:
    check_snapshot("summary_failed.txt", render_summary(result()))


def test_summary_ok_and_cancelled() -> None:
    ok = ApplyResult((Outcome("a", "k", Action.CREATE, Status.CREATED),), wall_seconds=0.25)
    assert (
        render_summary(ok)
        == "Apply complete in 0.2s: 1 created, 0 updated, 0 deleted, 0 unchanged, 0 failed, 0 skipped.\n"
    )
    cancelled = ApplyResult(
        (Outcome("a", "k", Action.CREATE, Status.CANCELLED, "interrupted"),), 1.0, cancelled=True
    )
    text = render_summary(cancelled)
    assert text.startswith("Interrupted after 1.0s:")
    assert "1 cancelled" in text
    assert "run `prmlab reconcile` again" in text


def test_progress_lines() -> None:
    stream = io.StringIO()
    progress = PlainProgress(stream)
    with progress:
        progress.on_event(ProgressEvent(EventKind.STARTED, "nv.a", Action.CREATE))
        progress.on_event(
            ProgressEvent(EventKind.RETRYING, "nv.a", Action.CREATE, attempt=1, wait=2.0, message="429")
        )
        for outcome in result().outcomes:
            progress.on_event(
                ProgressEvent(EventKind.FINISHED, outcome.address, outcome.action, outcome=outcome)
            )
    check_snapshot("progress.txt", stream.getvalue())
    # unchanged resources are not listed
    assert (
        event_line(ProgressEvent(EventKind.FINISHED, "x", Action.NOOP, outcome=result().outcomes[3])) is None
    )


def test_rich_progress_prints_finished_resources() -> None:
    from orchestrator.output.progress import RichProgress

    stream = io.StringIO()
    with RichProgress(stream, total=3) as progress:
        progress.on_event(ProgressEvent(EventKind.STARTED, "app.mcp", Action.CREATE))
        for outcome in result().outcomes:
            progress.on_event(
                ProgressEvent(EventKind.FINISHED, outcome.address, outcome.action, outcome=outcome)
            )
    text = stream.getvalue()
    assert "+ app.mcp: created" in text
    assert "! nv.key: failed: 403 Forbidden" in text
    assert "api.same" not in text


def test_a_first_plan_shows_no_phantom_late_update() -> None:
    """Issue 19: an empty target planned "26 to create, 1 to update" - the late step of a created
    app was listed and counted as an update of its own. It is folded into the create, whose
    late-bound value shows (known after apply); the executor still runs it."""
    from tests.orchestrator.test_apply import plan_of

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
    plan, _ = plan_of(FakeCloud(), nodes, ["app", "srv"])
    assert plan.step("app.mcp#late").late_of == "app.mcp"  # still planned, for the executor
    text = render_plan(plan)
    assert "#late" not in text
    assert "+ redirect: (known after apply)" in text
    assert text.rstrip().endswith("Plan: 2 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged.")


def test_a_no_op_step_prints_no_start_line() -> None:
    """Ten "updating…" lines for one real update: no-op steps (written only if their references
    changed) announced a start each. Only their end says something, and only for a real write."""
    start = ProgressEvent(EventKind.STARTED, "nv.plain", Action.NOOP)
    assert event_line(start) is None
    assert event_line(ProgressEvent(EventKind.STARTED, "nv.plain", Action.UPDATE)) == "  nv.plain: updating…"


def test_a_wait_for_an_effect_says_what_it_waits_for_without_a_line_per_probe() -> None:
    lines = [
        event_line(
            ProgressEvent(
                EventKind.WAITING,
                "container_app.server",
                Action.CREATE,
                attempt=n,
                wait=0.25,
                message="the registry identity's AcrPull to take effect",
            )
        )
        for n in range(1, 10)
    ]
    shown = [line for line in lines if line is not None]
    assert len(shown) == 4  # probes 1, 2, 4, 8
    assert shown[0] == (
        "  container_app.server: waiting for the registry identity's AcrPull to take effect; "
        "probing again in 0.2s"
    )
