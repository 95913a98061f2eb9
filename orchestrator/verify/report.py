"""Printing a verification ``Report`` as a table (text) — JSON is ``Report.as_json``."""

from __future__ import annotations

from typing import TextIO

from orchestrator.verify.model import Outcome, Report

_MARK = {Outcome.PASS: "PASS", Outcome.FAIL: "FAIL", Outcome.SKIP: "skip"}


def write_text(report: Report, out: TextIO) -> None:
    """One line per check; in a lab with several MCP APIs, grouped under a heading per API."""
    width = max((len(r.name) for r in report.results), default=10)
    out.write("\nVerification\n")
    api: str | None = None
    for r in report.results:
        if r.api is not None and r.api != api:
            api = r.api
            out.write(f"  MCP API {api}\n")
        indent = "    " if r.api is not None else "  "
        out.write(f"{indent}{_MARK[r.outcome]}  {r.name.ljust(width)}  {r.detail}\n")
    counts = {o: sum(1 for r in report.results if r.outcome is o) for o in Outcome}
    verdict = "verified" if report.ok else "NOT verified"
    if not counts[Outcome.PASS] and not counts[Outcome.FAIL]:
        verdict += " (no check ran)"
    out.write(
        f"\n{verdict}: {counts[Outcome.PASS]} passed, {counts[Outcome.FAIL]} failed, {counts[Outcome.SKIP]} skipped\n"
    )
