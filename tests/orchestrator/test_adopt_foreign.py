"""Adopting never takes a resource from another prmlab lab, through the engine and the real
providers (azure-mgmt-resource, msgraph) against the emulator: lab ``theirs`` is reconciled for
real; lab ``mine`` names the same resource group (``target.adopt_resource_group: true``) and the
same app registration (``adopt: true``). The plan is refused before anything is written, naming
each resource and the lab that owns it; ``theirs`` keeps its marks and its next plan is empty.
(Before: the plan showed both as adopts and the apply overwrote the group's ``prmlab-lab`` tag,
so ``theirs`` lost its group.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from orchestrator.errors import OwnershipError
from tests.orchestrator.emulator_lab import lab_text, reconcile_on, write_lab, writes
from tests.support.emulator import RunningEmulator


def _marks(emu: RunningEmulator, group: str, app: str) -> tuple[dict[str, str], list[str]]:
    """The group's tags and the app's tags, as the SDKs read them."""

    async def main() -> tuple[dict[str, str], list[str]]:
        async with emu.resource_client() as rc:
            tags = dict((await rc.resource_groups.get(group)).tags or {})
        async with emu.graph_client() as graph:
            found = await graph.applications_with_unique_name(app).get()
        return tags, list(found.tags or [])

    return anyio.run(main)


def _mine(text: str) -> str:
    """Lab ``mine``, pointed at ``theirs``' group and app, adopting both."""
    text = text.replace("resource_group: rg-mine", "resource_group: rg-theirs")
    text = text.replace(
        "      unique_name: mine-app0\n", "      unique_name: theirs-app0\n      adopt: true\n"
    )
    assert "rg-theirs" in text
    assert "adopt: true" in text
    return text


def test_another_labs_group_and_app_are_never_adopted(emulator: RunningEmulator, tmp_path: Path) -> None:
    theirs = write_lab(tmp_path / "theirs", lab_text("theirs", extra_api=False, apps=1))
    created, _, out = reconcile_on(emulator, theirs)
    assert created.exit_code == 0, out[-3000:]
    before = _marks(emulator, "rg-theirs", "theirs-app0")
    assert before[0].get("prmlab-lab") == "theirs"
    assert "prmlab-lab:theirs" in before[1]

    mine = write_lab(
        tmp_path / "mine",
        _mine(lab_text("mine", extra_api=False, apps=1, adopt_resource_group=True)),
    )
    for dry_run in (True, False):
        start = len(emulator.requests())
        with pytest.raises(OwnershipError) as refused:
            reconcile_on(emulator, mine, dry_run=dry_run)
        message: Any = refused.value.message
        assert (
            "resource_group.main: the resource_group 'rg-theirs' is owned by lab 'theirs' (its ownership "
            "mark), not by lab 'mine'; it cannot be adopted (`target.adopt_resource_group: true` takes "
            "over only resources no lab owns)" in message
        ), message
        assert "entra_app.app0: the entra_app 'theirs-app0' is owned by lab 'theirs'" in message, message
        assert "(`adopt: true` takes over only resources no lab owns)" in message
        assert "remove it from lab 'theirs' first" in message
        assert writes(emulator.requests()[start:]) == []

    assert _marks(emulator, "rg-theirs", "theirs-app0") == before
    again, _, _ = reconcile_on(emulator, theirs, detailed_exitcode=True)
    assert again.exit_code == 0
    assert not again.plan.has_changes  # theirs still owns all of it
    destroyed, _, _ = reconcile_on(emulator, theirs, destroy=True)
    assert destroyed.exit_code == 0
