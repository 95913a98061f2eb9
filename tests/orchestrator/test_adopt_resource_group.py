"""Adopting a pre-existing resource group (``target.adopt_resource_group``), through the engine
and the real providers against the emulator's ARM: refused without the flag (naming it), planned
as an adopt (not a create), applied by adding the lab's tags (others' tags, the group's location
and its foreign resources untouched), never deleted by ``--destroy`` (the lab's resources in it
are); a group the lab created with the flag set is still the lab's to delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from orchestrator.errors import OwnershipError
from orchestrator.resource import Action
from tests.orchestrator.emulator_lab import lab_text, reconcile_on, write_lab, writes
from tests.support.emulator import RunningEmulator

IDENTITY_API = "2023-01-31"


def _group(emu: RunningEmulator, name: str) -> Any:
    async def main() -> Any:
        async with emu.resource_client() as rc:
            if not await rc.resource_groups.check_existence(name):
                return None
            return await rc.resource_groups.get(name)

    return anyio.run(main)


def _theirs(emu: RunningEmulator, group: str) -> str:
    """A group someone else made (in another region, with their tag) holding their identity."""
    rid = (
        f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}"
        "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-theirs"
    )

    async def main() -> None:
        async with emu.resource_client() as rc:
            await rc.resource_groups.create_or_update(
                group, {"location": "westeurope", "tags": {"team": "platform"}}
            )
            poller = await rc.resources.begin_create_or_update_by_id(
                rid, {"location": "westeurope", "tags": {"team": "platform"}}, api_version=IDENTITY_API
            )
            await poller.result()

    anyio.run(main)
    return rid


def _identity(emu: RunningEmulator, rid: str) -> Any:
    async def main() -> Any:
        async with emu.resource_client() as rc:
            res = await rc.resources.get_by_id(rid, api_version=IDENTITY_API)
            return res.as_dict()

    return anyio.run(main)


def test_an_existing_group_is_refused_unless_adopted(emulator: RunningEmulator, tmp_path: Path) -> None:
    _theirs(emulator, "rg-refuse-lab")
    lab = write_lab(tmp_path, lab_text("refuse-lab", extra_api=False))
    with pytest.raises(OwnershipError) as refused:
        reconcile_on(emulator, lab, dry_run=True)
    assert (
        "resource_group.main: a resource_group named 'rg-refuse-lab' already exists" in refused.value.message
    )
    assert "(to adopt it: `target.adopt_resource_group: true`)" in refused.value.message
    group = _group(emulator, "rg-refuse-lab")
    assert group.tags == {"team": "platform"}


def test_an_adopted_group_is_owned_from_then_on_and_never_deleted(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    foreign = _theirs(emulator, "rg-adopt-lab")
    foreign_before = _identity(emulator, foreign)
    lab = write_lab(tmp_path, lab_text("adopt-lab", extra_api=False, adopt_resource_group=True))

    plan, requests, out = reconcile_on(emulator, lab, dry_run=True)
    step = plan.plan.step("resource_group.main")
    assert step.action is Action.UPDATE  # adopt, not create
    assert step.reason == "adopt: it exists and this lab did not create it"
    assert "~ resource_group.main  (resource_group 'rg-adopt-lab')  # adopt: it exists" in out
    assert [c.path for c in step.changes] == ["(ownership mark)", "tags"]  # location: left alone
    assert writes(requests) == []

    applied, _, _ = reconcile_on(emulator, lab)
    assert applied.exit_code == 0
    group = _group(emulator, "rg-adopt-lab")
    assert group.tags == {"team": "platform", "prmlab-lab": "adopt-lab", "prmlab-adopted": "adopt-lab"}
    assert group.location == "westeurope"
    again, requests, _ = reconcile_on(emulator, lab, detailed_exitcode=True)
    assert again.exit_code == 0
    assert not again.plan.has_changes
    assert writes(requests) == []

    destroyed, _, out = reconcile_on(emulator, lab, destroy=True)
    assert destroyed.exit_code == 0
    kept = destroyed.plan.step("resource_group.main")
    assert kept.action is Action.NOOP
    assert "never deleted" in kept.reason
    assert "Left in place: resource_group.main (resource_group 'rg-adopt-lab'): adopted by this lab" in out
    assert destroyed.plan.step("apim_service.main").action is Action.DELETE
    group = _group(emulator, "rg-adopt-lab")
    assert group is not None
    assert group.tags == {"team": "platform", "prmlab-lab": "adopt-lab", "prmlab-adopted": "adopt-lab"}
    assert _identity(emulator, foreign) == foreign_before
    remaining, requests, _ = reconcile_on(emulator, lab, destroy=True, detailed_exitcode=True)
    assert remaining.exit_code == 0
    assert [s.address for s in remaining.plan.steps if s.actual is not None] == ["resource_group.main"]
    assert writes(requests) == []


def test_a_group_the_lab_created_is_its_to_delete_whatever_the_flag(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    lab = write_lab(tmp_path, lab_text("made-lab", extra_api=False, adopt_resource_group=True))
    created, _, _ = reconcile_on(emulator, lab)
    assert created.exit_code == 0
    assert created.plan.step("resource_group.main").action is Action.CREATE
    assert _group(emulator, "rg-made-lab").tags == {"prmlab-lab": "made-lab"}
    destroyed, _, _ = reconcile_on(emulator, lab, destroy=True)
    assert destroyed.exit_code == 0
    assert destroyed.plan.step("resource_group.main").action is Action.DELETE
    assert _group(emulator, "rg-made-lab") is None
