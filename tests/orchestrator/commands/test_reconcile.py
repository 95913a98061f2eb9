"""``prmlab reconcile`` as a user runs it: local target started on demand, flags, exit codes, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from orchestrator.output.json_doc import JSON_SCHEMA
from tests.orchestrator.emulator_lab import lab_text, write_lab

REPO = Path(__file__).resolve().parents[3]


def prmlab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,  # no terminal: nothing may wait for an answer
        timeout=120,
    )


@pytest.fixture
def lab_dir(tmp_path: Path) -> Iterator[Path]:
    write_lab(tmp_path, lab_text("cli-lab"))
    yield tmp_path
    from orchestrator.local import stop

    stop(tmp_path / ".prmlab")  # the emulator `reconcile` started for this lab


def test_reconcile_cli_flow(lab_dir: Path) -> None:
    # dry run, JSON, detailed exit code: changes pending -> 2; the emulator is started on demand
    dry = prmlab("reconcile", "--dry-run", "--output", "json", "--detailed-exitcode", cwd=lab_dir)
    assert dry.returncode == 2, dry.stderr
    doc = json.loads(dry.stdout)
    jsonschema.validate(doc, JSON_SCHEMA)
    assert doc["dry_run"] is True
    assert doc["plan"]["counts"]["create"] > 0
    assert (lab_dir / ".prmlab" / "emulator.json").exists()

    # changes without a terminal and without --yes: refused, nothing written
    refused = prmlab("reconcile", "--no-verify", cwd=lab_dir)
    assert refused.returncode == 1
    assert "--yes" in refused.stderr

    applied = prmlab("reconcile", "--yes", "--no-verify", "--parallelism", "4", cwd=lab_dir)
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete" in applied.stdout

    # prmlab state: what the lab now owns, with ids, read back from the target
    state = prmlab("state", "--json", cwd=lab_dir)
    assert state.returncode == 0, state.stderr
    listed = json.loads(state.stdout)
    jsonschema.validate(listed, documented("state"))
    by_address = {r["address"]: r for r in listed["resources"]}
    assert by_address["apim_service.main"]["id"].startswith("/subscriptions/")
    assert all(r["in_lab"] for r in listed["resources"])
    text = prmlab("state", cwd=lab_dir)
    assert f"{len(by_address)} resources owned by lab 'cli-lab'" in text.stdout
    # prmlab output: the gateway is deployed (this lab has no API of type mcp)
    outputs = prmlab("output", "gateway_url", cwd=lab_dir)
    assert outputs.returncode == 0, outputs.stderr
    assert outputs.stdout.startswith("https://127.0.0.1:")

    again = prmlab("reconcile", "--yes", "--no-verify", "--detailed-exitcode", cwd=lab_dir)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout

    destroyed = prmlab("reconcile", "--destroy", "--yes", "--detailed-exitcode", cwd=lab_dir)
    assert destroyed.returncode == 2, destroyed.stderr
    assert "deleted" in destroyed.stdout


def documented(name: str) -> dict[str, object]:
    from orchestrator.output.schemas import SCHEMA_DIR

    loaded: dict[str, object] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return loaded


def test_parallelism_must_be_positive(tmp_path: Path) -> None:
    result = prmlab("reconcile", "--parallelism", "0", "-f", str(tmp_path / "lab.yaml"), cwd=REPO)
    assert result.returncode == 2
    assert "--parallelism" in result.stderr
