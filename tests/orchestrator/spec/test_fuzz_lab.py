"""Fuzz: 1,200 seeded mutants of the real labs through the loader, and a sample through the CLI.

Every mutant must either load (with the template-variable lookup, then build its graph: what
``prmlab validate`` does through ``labfile.load``) or raise a ``SpecError`` whose every issue is
located inside the file (1 <= line <= lines, column >= 1) with a printable message. Any other exception is a defect. Fixed seed and count: the same
mutants on every machine (``mutants.py``); the hang guard is pytest-timeout, the cost bounds
are the loader's caps (``test_hostile_input.py``, ``benchmarks/validate_limits.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.graph import build_graph
from orchestrator.render.environment import variables_of
from orchestrator.spec import parse_lab
from tests.orchestrator.spec.mutants import ENV, REPO, SEEDS, mutants

SEED = 20260517
COUNT = 1200
CLI_SAMPLE = 16  # every (COUNT // CLI_SAMPLE)-th mutant again through `prmlab validate`


def _lines(text: str) -> int:
    # splitlines() breaks on every character YAML treats as a line break (and a few more).
    return len(text.splitlines()) + 1


def _check(index: int, text: str, folder: Path) -> tuple[bool, str | None]:
    """(whether the mutant is invalid, what went wrong or None)."""
    try:
        lab, _ = parse_lab(
            text, file="lab.yaml", env=ENV, base_dir=REPO / folder, template_variables=variables_of
        )
        build_graph(lab)
    except SpecError as exc:
        if not exc.issues:
            return True, f"mutant {index}: SpecError without issues"
        for issue in exc.issues:
            if not (1 <= issue.line <= _lines(text) and issue.column >= 1):
                return True, f"mutant {index}: issue outside the file: {issue}"
            if not issue.message or not str(issue).isprintable():
                return True, f"mutant {index}: unprintable or empty message: {issue!r}"
        return True, None
    except Exception:
        return False, f"mutant {index}: {traceback.format_exc(limit=-3)}"
    return False, None


@pytest.mark.timeout(600)
def test_1200_mutants_load_or_fail_with_located_issues() -> None:
    failures: list[str] = []
    invalid = 0
    for index, text, folder in mutants(SEED, COUNT):
        bad, problem = _check(index, text, folder)
        invalid += bad
        if problem is not None:
            failures.append(problem)
    assert failures == []
    # The mutations must bite, but not always: both outcomes are exercised (about 4% load).
    assert COUNT // 2 < invalid < COUNT - 10


def test_the_unmutated_labs_load() -> None:
    for path in SEEDS:
        lab, _ = parse_lab(path.read_text(encoding="utf-8"), file="lab.yaml", env=ENV, base_dir=path.parent)
        assert len(build_graph(lab)) > 10


_LOCATED = re.compile(r"^lab\.yaml:(\d+):(\d+): \S")


@pytest.mark.timeout(600)
def test_a_sample_of_mutants_through_the_command_line(tmp_path: Path) -> None:
    step = COUNT // CLI_SAMPLE
    sample = [(i, text, folder) for i, text, folder in mutants(SEED, COUNT) if i % step == 0]
    assert len(sample) == CLI_SAMPLE
    # server.source is ./mcp_server (lab.yaml) or ../mcp_server (labs/gateway.yaml)
    (tmp_path / "mcp_server").symlink_to(REPO / "mcp_server")
    codes: list[int] = []
    for index, text, folder in sample:
        (tmp_path / folder).mkdir(exist_ok=True)
        lab = tmp_path / folder / "lab.yaml"
        lab.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = subprocess.run(
            [sys.executable, "-m", "orchestrator", "validate", "-f", "lab.yaml"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=120,  # a hang guard, not a speed requirement
            cwd=lab.parent,
            env={**os.environ, **ENV},
            check=False,
        )
        codes.append(result.returncode)
        assert "Traceback" not in result.stderr, (index, result.stderr)
        assert result.returncode in (0, 2), (index, result.stderr)
        if result.returncode == 2:
            lines = result.stderr.splitlines()
            assert lines, index
            for line in lines:
                match = _LOCATED.match(line)
                assert match is not None, (index, line)
                assert int(match.group(1)) >= 1
                assert int(match.group(2)) >= 1
    assert 2 in codes
