"""The plan as text, Terraform-like: ``+`` create, ``~`` update, ``-`` delete, ``-/+`` replace.

Flow: ``engine`` prints ``render_plan(plan)`` before asking for confirmation (and for
``--dry-run``). Field diffs list only what the spec owns; multi-line values (policy XML) are
shown as a unified diff; unknown and secret values as markers. Pure.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from orchestrator.output.values import is_multiline, show
from orchestrator.plan import Plan, Step
from orchestrator.resource import Action, FieldChange

INDENT = "      "
_VERB = {
    Action.CREATE: "to create",
    Action.UPDATE: "to update",
    Action.REPLACE: "to replace",
    Action.DELETE: "to delete",
    Action.NOOP: "unchanged",
}


def counts_line(plan: Plan) -> str:
    counts = plan.counts()
    order = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE, Action.NOOP)
    return "Plan: " + ", ".join(f"{counts[a]} {_VERB[a]}" for a in order) + "."


def _block(text: str, indent: str) -> list[str]:
    return [f"{indent}{line}" if line else "" for line in text.strip("\n").splitlines()]


def unified(old: Any, new: Any, path: str, indent: str) -> list[str]:
    """A unified diff of two multi-line strings (policy XML), current -> desired."""
    before = old.splitlines() if isinstance(old, str) else [show(old)]
    after = new.splitlines() if isinstance(new, str) else [show(new)]
    diff = difflib.unified_diff(before, after, f"{path} (current)", f"{path} (lab.yaml)", n=3, lineterm="")
    return [f"{indent}{line}" for line in diff]


def _field_change(change: FieldChange) -> list[str]:
    forces = "  # forces replacement" if change.forces_replacement else ""
    if is_multiline(change.old) or is_multiline(change.new):
        return [
            f"{INDENT}~ {change.path}:{forces}",
            *unified(change.old, change.new, change.path, INDENT + "    "),
        ]
    if change.old is None:
        return [f"{INDENT}+ {change.path}: {show(change.new)}{forces}"]
    if change.new is None:
        return [f"{INDENT}- {change.path}: {show(change.old)}{forces}"]
    return [f"{INDENT}~ {change.path}: {show(change.old)} -> {show(change.new)}{forces}"]


def _attributes(properties: Mapping[str, Any], sign: str) -> list[str]:
    lines: list[str] = []
    for key in sorted(properties):
        if key.startswith("@"):  # provider locator keys (parent names, ids), not fields
            continue
        value = properties[key]
        if is_multiline(value):
            lines.append(f"{INDENT}{sign} {key}: <<EOT")
            lines.extend(_block(value, INDENT + "    "))
            lines.append(f"{INDENT}  EOT")
        else:
            lines.append(f"{INDENT}{sign} {key}: {show(value)}")
    return lines


def render_step(step: Step) -> list[str]:
    head = f"  {step.action.symbol} {step.address}  ({step.kind} {step.name!r})"
    if step.action is Action.CREATE:
        assert step.desired is not None
        return [head, *_attributes(step.desired.properties, "+")]
    if step.refused:
        return [f"{head}  # REFUSED, will fail: {step.refused}"]
    if step.action is Action.DELETE:
        return [f"{head}  # {step.reason}"]
    lines = [head + ("  # forces replacement" if step.action is Action.REPLACE else "")]
    for change in step.changes:
        lines.extend(_field_change(change))
    return lines


def render_plan(plan: Plan, *, target: str = "") -> str:
    """The whole plan; ends with the counts line. Secrets never appear."""
    where = f" on target {target}" if target else ""
    operation = "destroy" if plan.destroy else "reconcile"
    if not plan.has_changes:
        kept = sum(1 for s in plan.steps if s.actual is not None)
        detail = (
            "nothing owned by it is left"
            if plan.destroy
            else f"the target matches lab.yaml ({kept} resources)"
        )
        return f"No changes for lab {plan.lab!r}{where}: {detail}.\n{counts_line(plan)}\n"
    lines = [f"Lab {plan.lab!r}{where} — {operation} plan:", ""]
    for step in plan.changes:
        lines.extend(render_step(step))
        lines.append("")
    lines.append(counts_line(plan))
    refused = plan.refused
    if refused:
        names = ", ".join(step.address for step in refused)
        lines.append(
            f"Refused ({len(refused)}): {names} would delete what this lab does not own; "
            "applying fails each refused step and skips what depends on it."
        )
    return "\n".join(lines) + "\n"
