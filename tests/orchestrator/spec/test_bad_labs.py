"""Table-driven: every bad lab in ``cases/bad_labs.yaml`` yields exactly its expected issues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from orchestrator.errors import SpecError
from orchestrator.labfile import load

CASES_FILE = Path(__file__).parent / "cases" / "bad_labs.yaml"
ENV = {"PRESENT": "from-env", "EMPTY": ""}


def _cases() -> list[Any]:
    cases: list[dict[str, Any]] = YAML(typ="safe", pure=True).load(CASES_FILE.read_text(encoding="utf-8"))
    return [pytest.param(c["lab"], c["expect"], id=c["name"]) for c in cases]


def test_there_are_at_least_25_distinct_cases() -> None:
    cases = _cases()
    assert len(cases) >= 25
    assert len({c.id for c in cases}) == len(cases)
    assert len({c.values[0] for c in cases}) == len(cases)


@pytest.mark.parametrize(("text", "expected"), _cases())
def test_bad_lab(tmp_path: Path, text: str, expected: list[str]) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load(lab, env=ENV)
    got = [
        f"{i.line}:{i.column}: {i.path}: {i.message}" if i.path else f"{i.line}:{i.column}: {i.message}"
        for i in caught.value.issues
    ]
    assert got == expected
    assert all(issue.file == str(lab) for issue in caught.value.issues)
    assert caught.value.exit_code == 2
