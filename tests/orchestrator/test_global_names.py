"""Global names before the first write (``orchestrator.global_names``), against the emulator: a
name held by another resource group is a plan error at its lab.yaml line and column (or, when
derived, says where to write one), in a dry run too, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from orchestrator.errors import GlobalNameError
from orchestrator.spec.defaults import derived_names
from orchestrator.spec.loader import load_lab
from tests.orchestrator.emulator_lab import lab_text, reconcile_on, write_lab, writes
from tests.support.azure import make_group, make_service
from tests.support.emulator import RunningEmulator


def _hold_service(emu: RunningEmulator, name: str) -> None:
    """Someone else's APIM service called ``name``, in another resource group."""

    async def main() -> None:
        group = await make_group(emu)
        async with emu.apim_client() as client:
            await make_service(client, group, name)

    anyio.run(main)


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_taken_name_written_in_lab_yaml_is_a_plan_error_at_its_line(
    emulator: RunningEmulator, tmp_path: Path, dry_run: bool
) -> None:
    lab_name = f"gn-written-{'dry' if dry_run else 'apply'}"
    taken = f"apim-{lab_name}"  # lab_text writes apim.service.name: apim-<lab>
    _hold_service(emulator, taken)
    lab_file = write_lab(tmp_path, lab_text(lab_name))
    line = next(i for i, text in enumerate(lab_file.read_text().splitlines(), 1) if f"name: {taken}" in text)
    before = len(emulator.requests())
    with pytest.raises(GlobalNameError) as caught:
        reconcile_on(emulator, lab_file, dry_run=dry_run)
    message = str(caught.value)
    assert f"{lab_file}:{line}:11: apim.service.name:" in message, message
    assert f"'{taken}' is not available (AlreadyExists" in message
    assert "choose another name there" in message
    assert writes(emulator.requests()[before:]) == []


def test_a_taken_derived_name_says_where_to_write_one(emulator: RunningEmulator, tmp_path: Path) -> None:
    text = lab_text("gn-derived").replace("    name: apim-gn-derived\n", "")
    lab_file = write_lab(tmp_path, text)
    derived = derived_names(load_lab(lab_file), emulator.subscription_id)["apim.service.name"]
    _hold_service(emulator, derived)
    before = len(emulator.requests())
    with pytest.raises(GlobalNameError) as caught:
        reconcile_on(emulator, lab_file)
    message = str(caught.value)
    assert f"'{derived}' is not available" in message, message
    assert "write apim.service.name in lab.yaml" in message
    assert writes(emulator.requests()[before:]) == []


def test_a_free_name_is_created_and_then_never_checked_again(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    lab_file = write_lab(tmp_path, lab_text("gn-free", extra_api=False))
    first, requests, _ = reconcile_on(emulator, lab_file)
    assert first.exit_code == 0
    checks = [r for r in requests if str(r.get("path", "")).lower().endswith("/checknameavailability")]
    assert len(checks) == 1  # the APIM service, the only global name the lab creates
    _, requests, _ = reconcile_on(emulator, lab_file)
    assert not [r for r in requests if str(r.get("path", "")).lower().endswith("/checknameavailability")]
