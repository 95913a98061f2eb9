"""The final summary of an apply: counts per outcome, wall time, and every failure with its cause.

Flow: printed by ``engine`` after ``apply.apply_plan`` returns (or is interrupted). Pure.
"""

from __future__ import annotations

from orchestrator.apply import ApplyResult, Status

ORDER = (
    Status.CREATED,
    Status.UPDATED,
    Status.REPLACED,
    Status.DELETED,
    Status.UNCHANGED,
    Status.FAILED,
    Status.SKIPPED,
    Status.CANCELLED,
)


def counts_text(result: ApplyResult) -> str:
    counts = result.counts()
    shown = [s for s in ORDER if counts[s] or s not in (Status.REPLACED, Status.CANCELLED)]
    return ", ".join(f"{counts[s]} {s.value}" for s in shown)


def render_summary(result: ApplyResult) -> str:
    if result.cancelled:
        head = (
            f"Interrupted after {result.wall_seconds:.1f}s: {counts_text(result)}.\n"
            "Every write is idempotent: run `prmlab reconcile` again to converge."
        )
    elif result.ok:
        head = f"Apply complete in {result.wall_seconds:.1f}s: {counts_text(result)}."
    else:
        head = f"Apply finished with failures in {result.wall_seconds:.1f}s: {counts_text(result)}."
    lines = [head]
    failed = [o for o in result.outcomes if o.status is Status.FAILED]
    skipped = [o for o in result.outcomes if o.status is Status.SKIPPED]
    if failed:
        lines.append("Failed:")
        lines.extend(f"  ! {o.address}: {o.message}" for o in failed)
    if skipped:
        lines.append("Skipped (a dependency did not succeed):")
        lines.extend(f"  - {o.address}: {o.message}" for o in skipped)
    return "\n".join(lines) + "\n"
