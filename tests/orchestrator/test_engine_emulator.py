"""The engine against the emulator, through the real providers and Azure SDKs (issue 6 "Done when").

Each test uses its own lab name (its own resource group and APIM service) on the shared session
emulator; write calls are counted from the emulator's request log.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from orchestrator.errors import OwnershipError
from orchestrator.resource import Action
from tests.orchestrator.emulator_lab import lab_text, reads, reconcile_on, write_lab, writes
from tests.support.emulator import RunningEmulator

REPO = Path(__file__).resolve().parents[2]


def owned_addresses(emu: RunningEmulator, lab_file: Path) -> set[str]:
    """What the lab owns on the target now, by address (a dry run reads it)."""
    report, _, _ = reconcile_on(emu, lab_file, dry_run=True)
    return {s.address for s in report.plan.steps if s.actual is not None and s.actual.owned}


def app_unique_names(emu: RunningEmulator) -> list[str]:
    """Every app registration's uniqueName on the emulator (duplicates kept)."""

    async def main() -> list[str]:
        names: list[str] = []
        async with emu.graph_client() as graph:
            page = await graph.applications.get()
            while page is not None:
                names += [str(app.unique_name) for app in page.value or []]
                if not page.odata_next_link:
                    break
                page = await graph.applications.with_url(page.odata_next_link).get()
        return names

    return anyio.run(main)


def test_second_reconcile_plans_nothing_and_writes_nothing(emulator: RunningEmulator, tmp_path: Path) -> None:
    lab = write_lab(tmp_path, lab_text("noop-lab"))
    first, requests, _ = reconcile_on(emulator, lab)
    assert first.exit_code == 0
    assert first.result is not None
    assert first.result.ok
    assert writes(requests)
    second, requests, out = reconcile_on(emulator, lab, detailed_exitcode=True)
    assert second.exit_code == 0
    assert not second.plan.has_changes
    assert writes(requests) == []
    assert "No changes" in out
    # reads: list calls (one per kind, whatever the lab's size) plus at most ~1.2 per resource;
    # the benchmark measures the per-resource figure on a large lab
    owned = len(second.plan.steps)
    per_kind_lists = 20
    assert len(reads(requests)) <= 1.2 * owned + per_kind_lists, (
        f"{len(reads(requests))} reads for {owned} resources"
    )


def test_editing_one_named_value_or_one_template_variable_plans_exactly_that_update(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    lab = write_lab(tmp_path, lab_text("edit-lab"))
    assert reconcile_on(emulator, lab)[0].exit_code == 0

    write_lab(tmp_path, lab_text("edit-lab", plain="two"))
    report, requests, out = reconcile_on(emulator, lab)
    assert [(s.address, s.action) for s in report.plan.changes] == [("named_value.Plain", Action.UPDATE)]
    assert '"one" -> "two"' in out
    assert [(w["method"], w["resource"]) for w in writes(requests)] == [
        ("PUT", "microsoft.apimanagement/service/namedvalues")
    ]

    write_lab(tmp_path, lab_text("edit-lab", plain="two", resource_name="renamed server"))
    report, requests, out = reconcile_on(emulator, lab)
    assert [(s.address, s.action) for s in report.plan.changes] == [
        ("operation_policy.mcp.prm", Action.UPDATE)
    ]
    assert "renamed server" in out  # in the unified diff of the policy XML
    assert len(writes(requests)) == 1
    assert not reconcile_on(emulator, lab)[0].plan.has_changes


def test_removing_an_api_prunes_it_and_nothing_else(emulator: RunningEmulator, tmp_path: Path) -> None:
    lab = write_lab(tmp_path, lab_text("prune-lab"))
    assert reconcile_on(emulator, lab)[0].exit_code == 0
    before = owned_addresses(emulator, lab)
    assert {"api.extra", "operation.extra.get"} <= before

    write_lab(tmp_path, lab_text("prune-lab", extra_api=False))
    report, requests, _ = reconcile_on(emulator, lab)
    deleted = {s.address for s in report.plan.changes}
    assert {s.action for s in report.plan.changes} == {Action.DELETE}
    assert deleted <= {"api.extra", "operation.extra.get"}
    assert "api.extra" in deleted
    assert all(w["method"] == "DELETE" for w in writes(requests))
    assert owned_addresses(emulator, lab) == before - {"api.extra", "operation.extra.get"}


def test_removing_a_policy_from_lab_yaml_prunes_it_and_nothing_else(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    lab = write_lab(tmp_path, lab_text("prune-policy"))
    assert reconcile_on(emulator, lab)[0].exit_code == 0
    before = owned_addresses(emulator, lab)
    assert "operation_policy.mcp.prm" in before

    write_lab(tmp_path, lab_text("prune-policy", prm_policy=False))
    report, requests, _ = reconcile_on(emulator, lab)
    assert report.exit_code == 0
    assert [(s.address, s.action) for s in report.plan.changes] == [
        ("operation_policy.mcp.prm", Action.DELETE)
    ]
    assert [(w["method"], w["resource"]) for w in writes(requests)] == [
        ("DELETE", "microsoft.apimanagement/service/apis/operations/policies")
    ]
    assert owned_addresses(emulator, lab) == before - {"operation_policy.mcp.prm"}
    again, _, _ = reconcile_on(emulator, lab)
    assert not again.plan.has_changes


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (("user_impersonate",), ("mcp.access",)),  # rename
        (("user_impersonate", "read"), ("read",)),  # remove one
    ],
    ids=["rename", "remove"],
)
def test_a_scope_change_converges_in_one_reconcile(
    emulator: RunningEmulator, tmp_path: Path, before: tuple[str, ...], after: tuple[str, ...]
) -> None:
    """Graph refuses removing or changing an enabled scope (CannotDeleteOrUpdateEnabledEntitlement):
    the engine disables it first, in the same reconcile; the kept scope keeps its id."""
    name = f"scope-{after[0].replace('.', '-')}"
    lab = write_lab(tmp_path, lab_text(name, apps=1, scopes=before))
    assert reconcile_on(emulator, lab)[0].exit_code == 0
    write_lab(tmp_path, lab_text(name, apps=1, scopes=after))
    report, requests, _ = reconcile_on(emulator, lab)
    assert report.exit_code == 0, report
    app_writes = [w for w in writes(requests) if w["api"] == "graph" and w["method"] == "PATCH"]
    assert len(app_writes) == 2  # disable, then the change
    again, _, _ = reconcile_on(emulator, lab, dry_run=True)
    assert not again.plan.has_changes
    step = again.plan.step("entra_app.app0")
    assert step.actual is not None
    scopes = step.actual.properties["api.oauth2PermissionScopes"]
    assert [s["value"] for s in scopes] == list(after)
    assert all(s["isEnabled"] for s in scopes)


def test_a_same_named_unowned_resource_is_refused(emulator: RunningEmulator, tmp_path: Path) -> None:
    lab = write_lab(tmp_path, lab_text("owner-lab"))
    assert reconcile_on(emulator, lab)[0].exit_code == 0

    async def create_unowned() -> None:
        async with emulator.apim_client() as apim:
            await apim.named_value.begin_create_or_update(
                "rg-owner-lab",
                "apim-owner-lab",
                "Theirs",
                {"properties": {"displayName": "Theirs", "value": "x"}},
            )

    anyio.run(create_unowned)
    write_lab(tmp_path, lab_text("owner-lab", extra_named_values=("Theirs",)))
    with pytest.raises(OwnershipError, match="Theirs"):
        reconcile_on(emulator, lab)


def test_destroy_removes_everything_owned_and_leaves_unowned_alone(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    lab = write_lab(tmp_path, lab_text("destroy-lab", apps=1))
    assert reconcile_on(emulator, lab)[0].exit_code == 0
    assert "destroy-lab-app0" in app_unique_names(emulator)

    async def unowned_app() -> None:  # a pre-existing app registration without the lab's mark
        from msgraph.generated.models.application import Application

        async with emulator.graph_client() as graph:
            await graph.applications.post(
                Application(display_name="Theirs", unique_name="destroy-lab-theirs")
            )

    anyio.run(unowned_app)

    async def unowned_api() -> None:  # an API the lab does not own, in a service it does not own
        async with emulator.resource_client() as rc:
            await rc.resource_groups.create_or_update("rg-theirs", {"location": "ukwest"})
        async with emulator.apim_client() as apim:
            poller = await apim.api_management_service.begin_create_or_update(
                "rg-theirs",
                "apim-theirs",
                {
                    "location": "ukwest",
                    "sku": {"name": "BasicV2", "capacity": 1},
                    "publisherEmail": "a@example.com",
                    "publisherName": "them",
                },
            )
            await poller.result()
            poller = await apim.api.begin_create_or_update(
                "rg-theirs",
                "apim-theirs",
                "theirs",
                {"properties": {"displayName": "Theirs", "path": "theirs", "protocols": ["https"]}},
            )
            await poller.result()

    anyio.run(unowned_api)
    report, _, _ = reconcile_on(emulator, lab, destroy=True)
    assert report.exit_code == 0
    assert report.plan.has_changes
    assert owned_addresses(emulator, lab) == set()
    again, requests, _ = reconcile_on(emulator, lab, destroy=True, detailed_exitcode=True)
    assert again.exit_code == 0
    assert writes(requests) == []

    async def still_there() -> str:
        async with emulator.apim_client() as apim:
            api = await apim.api.get("rg-theirs", "apim-theirs", "theirs")
            return str(api.name)

    assert anyio.run(still_there) == "theirs"
    names = app_unique_names(emulator)
    assert "destroy-lab-theirs" in names
    assert "destroy-lab-app0" not in names


def test_converges_with_throttling_server_errors_and_replication_delay(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    lab = write_lab(tmp_path, lab_text("faults-lab", apps=2))
    emulator.set_faults(throttle_rate=0.2, error_rate=0.05, replication_delay_s=5, seed=7)
    report, requests, _ = reconcile_on(emulator, lab)
    faulted = [r for r in requests if r.get("status") in (429, 500, 503)]
    assert faulted, "no faults were injected"
    assert report.exit_code == 0, report.result
    emulator.reset_faults()
    names = app_unique_names(emulator)
    assert sorted(n for n in names if n.startswith("faults-lab-")) == ["faults-lab-app0", "faults-lab-app1"]
    again, requests, _ = reconcile_on(emulator, lab)
    assert not again.plan.has_changes
    assert writes(requests) == []


_DRIVER = """
import sys, pathlib
sys.path.insert(0, sys.argv[1])
from tests.support.emulator import RunningEmulator
from tests.orchestrator.emulator_lab import reconcile_on
import json
info = json.loads(pathlib.Path(sys.argv[2]).read_text())
emu = RunningEmulator(state_dir=pathlib.Path(sys.argv[2]).parent, process=None, base_url=info["base_url"],
    port=info["port"], ca_file=pathlib.Path(info["ca_file"]), tenant_id=info["tenant_id"],
    subscription_id=info["subscription_id"])
print("start", flush=True)
reconcile_on(emu, pathlib.Path(sys.argv[3]), parallelism=4)
"""


@pytest.mark.slow
def test_killed_at_random_points_then_reconciled_again_converges(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    rng = random.Random(6)
    trials = int(os.environ.get("PRMLAB_KILL_TRIALS", "10"))
    lab = write_lab(tmp_path, lab_text("kill-lab"))
    killed = 0
    for trial in range(trials):
        # every trial changes the lab first, so the run that gets killed has work in flight
        write_lab(tmp_path, lab_text("kill-lab", extra_api=trial % 2 == 1, plain=f"v{trial}"))
        proc = subprocess.Popen(
            [sys.executable, "-c", _DRIVER, str(REPO), str(emulator.state_dir / "emulator.json"), str(lab)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"start"  # imports done: the run begins now
        try:
            proc.wait(timeout=rng.uniform(0.0, 0.6))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=15)
            killed += 1
        proc.stdout.close()
        report, _, _ = reconcile_on(emulator, lab)
        assert report.exit_code == 0, (trial, report.result)
        again, _, _ = reconcile_on(emulator, lab, dry_run=True)
        assert not again.plan.has_changes, (trial, [s.address for s in again.plan.changes])
        # no orphans: everything the lab owns is in lab.yaml (a prune would show as a change)
        assert all(s.action is not Action.DELETE for s in again.plan.steps)
    assert killed >= trials // 2, f"only {killed} of {trials} runs were killed mid-flight"
    report, _, _ = reconcile_on(emulator, lab, destroy=True)
    assert report.exit_code == 0
