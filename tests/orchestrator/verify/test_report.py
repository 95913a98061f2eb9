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


def test_several_mcp_apis_are_grouped_per_api_in_text_and_named_in_json() -> None:
    report = Report(
        (
            CheckResult("discovery.prm", Outcome.PASS, "a", api="mcp"),
            CheckResult("forged.expired", Outcome.PASS, "b", api="mcp"),
            CheckResult("discovery.prm", Outcome.FAIL, "c", api="mcp2"),
        )
    )
    out = io.StringIO()
    write_text(report, out)
    assert out.getvalue().splitlines()[1:6] == [
        "Verification",
        "  MCP API mcp",
        "    PASS  discovery.prm   a",
        "    PASS  forged.expired  b",
        "  MCP API mcp2",
    ]
    assert "    FAIL  discovery.prm   c" in out.getvalue()
    assert [c.get("api") for c in report.as_json()["checks"]] == ["mcp", "mcp", "mcp2"]
    # one API: names and table as before
    assert "api" not in Report((CheckResult("discovery.prm", Outcome.PASS),)).as_json()["checks"][0]
