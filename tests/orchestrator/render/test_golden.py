"""Every template rendered with fixed variables matches its reviewed golden file.

Regenerate after a reviewed template change with ``PRMLAB_UPDATE_GOLDEN=1 pytest tests/orchestrator/render``
(then read the diff of ``golden/`` before committing it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.render import render_policy, template_names
from tests.orchestrator.render.cases import GOLDEN

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.mark.parametrize("golden", sorted(GOLDEN))
def test_render_matches_golden(golden: str) -> None:
    template, variables = GOLDEN[golden]
    xml = render_policy(template, variables)
    path = GOLDEN_DIR / golden
    if os.environ.get("PRMLAB_UPDATE_GOLDEN") == "1":
        path.write_text(xml, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with PRMLAB_UPDATE_GOLDEN=1 and review it"
    assert xml == path.read_text(encoding="utf-8")


def test_every_template_has_a_golden_file() -> None:
    covered = {template for template, _ in GOLDEN.values()}
    assert covered == set(template_names())


def test_no_stale_golden_files() -> None:
    assert {p.name for p in GOLDEN_DIR.glob("*.xml")} == set(GOLDEN)
