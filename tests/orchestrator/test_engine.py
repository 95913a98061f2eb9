"""The engine's flow with in-memory providers: plan printing, confirmation rules, exit codes, JSON."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest

from orchestrator.engine import ReconcileOptions, RunReport, Terminal, execute, nodes_from_graph, reconcile
from orchestrator.errors import LockError, PermanentError, PrmlabError
from orchestrator.lock import hold_lock
from orchestrator.output.json_doc import JSON_SCHEMA
from orchestrator.plan import NodeInput
from tests.orchestrator.fakes import LAB, FakeCloud, FakeRef, providers, secret, spec
from tests.support.signals import sigint_default

REPO = Path(__file__).resolve().parents[2]
KINDS = ["app", "nv"]


def lab_nodes(value: str = "1") -> list[NodeInput]:
    return [
        NodeInput("app.mcp", "app", (), spec("mcp-app", display="MCP")),
        NodeInput("nv.client", "nv", ("app.mcp",), spec("ClientId", value=FakeRef("app.mcp.id"))),
        NodeInput("nv.plain", "nv", (), spec("Plain", value=value)),
        NodeInput("nv.secret", "nv", (), spec("Secret", value=secret("hunter2"))),
    ]


class Term:
    def __init__(self, *, interactive: bool = False, answer: bool = True) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.questions: list[str] = []
        self.answer = answer
        self.term = Terminal(self.out, self.err, interactive=interactive, rich=False, confirm=self.confirm)

    def confirm(self, question: str) -> bool:
        self.questions.append(question)
        return self.answer


def run(
    cloud: FakeCloud,
    nodes: list[NodeInput],
    term: Term,
    after_apply: Any = None,
    **options: Any,
) -> RunReport:
    async def main() -> RunReport:
        with anyio.fail_after(10):
            return await execute(
                LAB,
                nodes,
                providers(cloud, KINDS),
                ReconcileOptions(**options),
                term.term,
                after_apply=after_apply,
            )

    return anyio.run(main)


def test_dry_run_prints_the_plan_and_changes_nothing() -> None:
    cloud, term = FakeCloud(), Term()
    report = run(cloud, lab_nodes(), term, dry_run=True)
    assert report.exit_code == 0
    assert cloud.writes() == []
    out = term.out.getvalue()
    assert "+ app.mcp" in out
    assert "(known after apply)" in out
    assert "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete, 0 unchanged." in out
    assert "hunter2" not in out + term.err.getvalue()
    assert run(cloud, lab_nodes(), Term(), dry_run=True, detailed_exitcode=True).exit_code == 2


def test_without_a_terminal_and_without_yes_changes_are_refused() -> None:
    cloud = FakeCloud()
    with pytest.raises(PrmlabError, match="--yes"):
        run(cloud, lab_nodes(), Term(interactive=False))
    assert cloud.writes() == []


def test_declined_confirmation_changes_nothing_and_fails() -> None:
    cloud, term = FakeCloud(), Term(interactive=True, answer=False)
    report = run(cloud, lab_nodes(), term)
    assert term.questions
    assert "apply these changes" in term.questions[0]
    assert report.exit_code == 1
    assert cloud.writes() == []
    assert "Apply cancelled" in term.out.getvalue()


def test_apply_then_a_second_run_is_a_no_op_with_zero_writes() -> None:
    cloud, term = FakeCloud(), Term(interactive=True, answer=True)
    report = run(cloud, lab_nodes(), term, detailed_exitcode=True)
    assert report.exit_code == 2  # changes applied
    assert report.result is not None
    assert report.result.ok
    assert "Apply complete" in term.out.getvalue()
    assert "4 created" in term.out.getvalue()
    cloud.calls.clear()
    term2 = Term()
    report2 = run(cloud, lab_nodes(), term2, detailed_exitcode=True)  # no terminal needed: no changes
    assert report2.exit_code == 0
    assert cloud.writes() == []
    assert "No changes" in term2.out.getvalue()
    reads = [c for c in cloud.calls if c[0] == "read"]
    assert len(reads) == len(KINDS)  # one list per kind, not one GET per resource


def test_editing_one_value_plans_and_applies_exactly_one_update() -> None:
    cloud = FakeCloud()
    run(cloud, lab_nodes("1"), Term(), yes=True)
    cloud.calls.clear()
    term = Term()
    report = run(cloud, lab_nodes("2"), term, yes=True)
    assert [(s.address, s.action.value) for s in report.plan.changes] == [("nv.plain", "update")]
    assert cloud.writes() == [("update", "nv", "Plain")]
    assert '~ value: "1" -> "2"' in term.out.getvalue()


def test_a_failure_exits_1_and_names_the_resource() -> None:
    cloud, term = FakeCloud(), Term()
    cloud.faults[("create", "app.mcp")] = [PermanentError("app.mcp", "403 Forbidden")]
    report = run(cloud, lab_nodes(), term, yes=True, detailed_exitcode=True)
    assert report.exit_code == 1
    out = term.out.getvalue()
    assert "! app.mcp: 403 Forbidden" in out
    assert "nv.client: because app.mcp failed" in out


def test_json_output_is_one_valid_document_on_stdout() -> None:
    cloud, term = FakeCloud(), Term()
    report = run(cloud, lab_nodes(), term, yes=True, output="json")
    doc = json.loads(term.out.getvalue())
    jsonschema.validate(doc, JSON_SCHEMA)
    assert doc["exit_code"] == report.exit_code == 0
    assert doc["result"]["counts"]["created"] == 4
    assert "hunter2" not in term.out.getvalue() + term.err.getvalue()
    assert "created" in term.err.getvalue()  # progress and summary go to stderr


def test_verification_hook_runs_after_apply_and_its_failure_exits_1() -> None:
    seen: list[Mapping[str, Any]] = []

    async def failing(outputs: Mapping[str, Mapping[str, Any]]) -> bool:
        seen.append(outputs)
        return False

    cloud = FakeCloud()
    report = run(cloud, lab_nodes(), Term(), after_apply=failing, yes=True)
    assert report.exit_code == 1
    assert seen
    assert seen[0]["app.mcp"]["id"] == "app/mcp-app"
    seen.clear()
    assert run(cloud, lab_nodes(), Term(), after_apply=failing, yes=True, verify=False).exit_code == 0
    assert seen == []


def test_destroy_deletes_everything_owned_and_asks_first() -> None:
    cloud = FakeCloud()
    run(cloud, lab_nodes(), Term(), yes=True)
    cloud.add("nv", "Theirs", {"value": "x"}, owner=None)
    term = Term(interactive=True, answer=True)
    report = run(cloud, lab_nodes(), term, destroy=True, detailed_exitcode=True)
    assert "destroy every resource" in term.questions[0]
    assert report.exit_code == 2
    assert list(cloud.records) == [("nv", "Theirs")]
    again = run(cloud, lab_nodes(), Term(), destroy=True, detailed_exitcode=True)
    assert again.exit_code == 0
    assert not again.plan.has_changes


def test_nodes_from_the_default_lab_graph() -> None:
    from orchestrator.graph import build_graph
    from orchestrator.spec.loader import load_lab

    nodes = nodes_from_graph(build_graph(load_lab(REPO / "lab.yaml")))
    addresses = {n.address for n in nodes}
    assert "apim_service.main" in addresses
    for node in nodes:
        assert set(node.depends_on) <= addresses
        assert node.refs is not None


def test_a_held_lock_fails_fast_before_touching_the_target(tmp_path: Path) -> None:
    shutil.copy(REPO / "lab.yaml", tmp_path / "lab.yaml")
    (tmp_path / "mcp_server").symlink_to(REPO / "mcp_server")
    term = Term()
    with hold_lock(tmp_path / ".prmlab"), pytest.raises(LockError, match="another reconcile"):
        reconcile(ReconcileOptions(lab_file=tmp_path / "lab.yaml", yes=True), term.term)


def test_cli_spec_error_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "lab.yaml"
    bad.write_text("name: x\nunknown_key: 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "reconcile", "-f", str(bad), "--dry-run"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "lab.yaml:" in proc.stderr


_SIGINT_DRIVER = """
import sys
import anyio
from orchestrator.engine import ReconcileOptions, Terminal, execute
from tests.orchestrator.fakes import LAB, FakeCloud, providers
from tests.orchestrator.test_engine import KINDS, lab_nodes

cloud = FakeCloud()

async def main() -> None:
    cloud.gates[("create", "nv.plain")] = anyio.Event()  # never set: the run hangs there
    entered = anyio.Event()
    cloud.entered[("create", "nv.plain")] = entered

    async def announce() -> None:
        await entered.wait()
        print("stuck", flush=True)

    async with anyio.create_task_group() as group:
        group.start_soon(announce)
        term = Terminal(sys.stdout, sys.stderr, interactive=False, rich=False, confirm=lambda q: True)
        await execute(LAB, lab_nodes(), providers(cloud, KINDS), ReconcileOptions(yes=True), term)

try:
    anyio.run(main)
except KeyboardInterrupt:
    print("KeyboardInterrupt", file=sys.stderr)
    sys.exit(130)
"""


def test_ctrl_c_prints_the_partial_summary_and_exits_130() -> None:
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-c", _SIGINT_DRIVER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        preexec_fn=sigint_default,  # Ctrl-C reaches it however the suite was started
    )
    assert proc.stdout is not None
    try:
        for _ in range(200):  # bounded: the plan's lines, then "stuck"
            line = proc.stdout.readline()
            if line.strip() == "stuck" or not line:
                break
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # never left running into the next test
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Interrupted after" in err
    assert "cancelled" in err
    assert "run `prmlab reconcile` again" in err
    assert "KeyboardInterrupt" in err


def test_kinds_the_spec_no_longer_names_are_read_and_pruned() -> None:
    cloud = FakeCloud()
    cloud.add("old", "Leftover", {}, owner=LAB)
    cloud.add("old", "NotOurs", {}, owner="another-lab")

    async def main() -> RunReport:
        provs = providers(cloud, [*KINDS, "old"])
        return await execute(LAB, lab_nodes(), provs, ReconcileOptions(yes=True), Term().term)

    report = anyio.run(main)
    assert report.exit_code == 0
    assert ("delete", "old", "Leftover") in cloud.writes()
    assert ("old", "NotOurs") in cloud.records


def test_read_failures_are_one_clear_error_not_an_exception_group() -> None:
    class Broken:
        kind = "nv"

        async def read(self, lab_name: str, addresses: Mapping[str, Any]) -> Mapping[str, Any]:
            raise PermanentError("named values", "403 Forbidden: no read access")

    cloud = FakeCloud()
    provs: dict[str, Any] = providers(cloud, KINDS)
    broken = Broken()
    provs["nv"] = type("P", (), {"kind": "nv", "read": broken.read, "desired": provs["nv"].desired})()

    async def main() -> RunReport:
        return await execute(LAB, lab_nodes(), provs, ReconcileOptions(yes=True), Term().term)

    with pytest.raises(PermanentError, match="403 Forbidden: no read access"):
        anyio.run(main)


def test_json_document_embeds_the_verification_and_the_outputs() -> None:
    from orchestrator.engine import Verified
    from orchestrator.output.lab_outputs import DESCRIPTIONS
    from orchestrator.output.schemas import SCHEMA_DIR

    documented = json.loads((SCHEMA_DIR / "reconcile.schema.json").read_text(encoding="utf-8"))
    checks = {"ok": False, "checks": [{"name": "forged.none", "outcome": "fail", "detail": "200 OK"}]}

    async def verify(outputs: Mapping[str, Mapping[str, Any]]) -> Verified:
        return Verified(False, checks)

    def describe(outputs: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
        values: dict[str, Any] = dict.fromkeys(DESCRIPTIONS)
        return values | {
            "mcp_urls": {},
            "prm_urls": {},
            "client_ids": {},
            "mcp_url": outputs["app.mcp"]["id"],
        }

    def run_json(cloud: FakeCloud, **options: Any) -> dict[str, Any]:
        term = Term()

        async def main() -> RunReport:
            return await execute(
                LAB,
                lab_nodes(),
                providers(cloud, KINDS),
                ReconcileOptions(output="json", yes=True, **options),
                term.term,
                after_apply=verify,
                describe=describe,
            )

        report = anyio.run(main)
        doc: dict[str, Any] = json.loads(term.out.getvalue())
        jsonschema.validate(doc, documented)
        assert doc["exit_code"] == report.exit_code
        return doc

    cloud = FakeCloud()
    dry = run_json(cloud, dry_run=True)
    assert dry["verification"] is None
    assert dry["outputs"] is None
    applied = run_json(cloud)
    assert applied["verification"] == checks
    assert applied["exit_code"] == 1  # the verification failed
    assert applied["outputs"]["mcp_url"] == "app/mcp-app"
    unchanged = run_json(cloud, verify=False)  # no changes: outputs still described, no verification
    assert unchanged["verification"] is None
    assert unchanged["outputs"]["mcp_url"] == "app/mcp-app"
    assert unchanged["exit_code"] == 0
    destroyed = run_json(cloud, destroy=True)
    assert destroyed["outputs"] is None
    assert destroyed["verification"] is None
