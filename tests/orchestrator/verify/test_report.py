"""A verification run that checked nothing never passes (issue 17 item 16)."""

from __future__ import annotations

import io

from orchestrator.verify.model import CheckResult, Outcome, Report, VerifyTarget
from orchestrator.verify.report import write_text
from orchestrator.verify.runner import _selected

RESULTS = [
    CheckResult("discovery.prm", Outcome.PASS),
    CheckResult("client.sign_in", Outcome.PASS),
    CheckResult("client.sign_in_again", Outcome.PASS),
    CheckResult("forged.expired", Outcome.SKIP),
]


def _target(checks: frozenset[str] | None) -> VerifyTarget:
    return VerifyTarget("https://g/mcp", "app", "tenant", "scope", "client", checks=checks)


def test_an_empty_report_is_not_verified() -> None:
    report = Report(())
    assert not report.ok
    out = io.StringIO()
    write_text(report, out)
    assert out.getvalue().endswith("NOT verified (no check ran): 0 passed, 0 failed, 0 skipped\n")


def test_a_report_of_skips_only_is_not_verified() -> None:
    assert not Report((CheckResult("forged.expired", Outcome.SKIP),)).ok


def test_passes_and_skips_verify() -> None:
    assert Report(tuple(RESULTS)).ok


def test_a_selector_matching_nothing_fails_the_run() -> None:
    selected = _selected(_target(frozenset({"discovery", "client.nope"})), RESULTS)
    assert [(r.name, r.outcome) for r in selected] == [
        ("discovery.prm", Outcome.PASS),
        ("client.nope", Outcome.FAIL),
    ]
    assert "groups that ran: client, discovery, forged" in selected[-1].detail
    assert not Report(tuple(selected)).ok


def test_a_check_name_selects_itself_not_its_longer_namesakes() -> None:
    selected = _selected(_target(frozenset({"client.sign_in"})), RESULTS)
    assert [r.name for r in selected] == ["client.sign_in"]
