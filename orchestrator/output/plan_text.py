"""The plan as text, Terraform-like: ``+`` create, ``~`` update, ``-`` delete, ``-/+`` replace.

Flow: ``engine`` prints ``render_plan(plan)`` before asking for confirmation (and for
``--dry-run``). Field diffs list only what the spec owns; multi-line values (policy XML) are
shown as a unified diff after both sides are laid out the same way (``xmltext``: only real
changes show); lists and mappings element by element (``element_changes``); unknown and secret
values as markers. Pure.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from orchestrator.output.values import is_multiline, show
from orchestrator.output.xmltext import normalised_xml
from orchestrator.plan import ADOPT_REASON, Plan, Step
from orchestrator.resource import UNKNOWN, Action, FieldChange

INDENT = "      "
_WIDTH = 100  # a created list longer than this is shown one element a line
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


def _laid_out(old: Any, new: Any) -> tuple[Any, Any]:
    """Both sides of a policy change re-laid out (``xmltext``) when both are XML, else as they are."""
    if isinstance(old, str) and isinstance(new, str):
        before, after = normalised_xml(old), normalised_xml(new)
        if before is not None and after is not None and before != after:
            return before, after
    return old, new


def unified(old: Any, new: Any, path: str, indent: str) -> list[str]:
    """A unified diff of two multi-line strings (policy XML, normalised first), current -> desired."""
    old, new = _laid_out(old, new)
    before = old.splitlines() if isinstance(old, str) else [show(old)]
    after = new.splitlines() if isinstance(new, str) else [show(new)]
    diff = difflib.unified_diff(before, after, f"{path} (current)", f"{path} (lab.yaml)", n=3, lineterm="")
    return [f"{indent}{line}" for line in diff]


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def element_changes(old: Any, new: Any, path: str) -> list[str]:
    """A list or mapping change element by element: ``+`` added, ``-`` removed, ``~`` changed
    (``path[i]`` / ``path.key``); what is equal is not shown. Pure."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        lines: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            inner = f"{path}.{key}"
            if key not in new:
                lines.append(f"- {inner}: {show(old[key])}")
            elif key not in old:
                lines.append(f"+ {inner}: {show(new[key])}")
            elif old[key] != new[key]:
                lines.extend(element_changes(old[key], new[key], inner))
        return lines
    if _is_list(old) and _is_list(new):
        lines = []
        shown_old, shown_new = [show(v) for v in old], [show(v) for v in new]
        matcher = difflib.SequenceMatcher(a=shown_old, b=shown_new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:  # changed in place: say what changed
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                    lines.extend(element_changes(old[i], new[j], f"{path}[{j}]"))
                continue
            lines.extend(f"- {path}[{i}]: {shown_old[i]}" for i in range(i1, i2))
            lines.extend(f"+ {path}[{j}]: {shown_new[j]}" for j in range(j1, j2))
        return lines
    return [f"~ {path}: {show(old)} -> {show(new)}"]


def _field_change(change: FieldChange) -> list[str]:
    forces = "  # forces replacement" if change.forces_replacement else ""
    if change.why:
        forces += f": {change.why}"
    if change.new is UNKNOWN and is_multiline(change.old):
        # nothing to compare yet: the new text is rendered once what it refers to exists
        lines = len(str(change.old).splitlines())
        return [f"{INDENT}~ {change.path}: ({lines} lines) -> {show(change.new)}{forces}"]
    if is_multiline(change.old) or is_multiline(change.new):
        return [
            f"{INDENT}~ {change.path}:{forces}",
            *unified(change.old, change.new, change.path, INDENT + "    "),
        ]
    structured = (_is_list(change.old) and _is_list(change.new)) or (
        isinstance(change.old, Mapping) and isinstance(change.new, Mapping)
    )
    if structured:
        inner = element_changes(change.old, change.new, change.path)
        return [f"{INDENT}~ {change.path}:{forces}", *(f"{INDENT}    {line}" for line in inner)]
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
        if _is_list(value) and value and len(f"{INDENT}{sign} {key}: {show(value)}") > _WIDTH:
            lines.append(f"{INDENT}{sign} {key}: [")  # a long list: one element a line
            lines.extend(f"{INDENT}      {show(item)}," for item in value)
            lines.append(f"{INDENT}    ]")
        elif is_multiline(value):
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
    if step.replaced_with is not None or step.reason == ADOPT_REASON:
        note = f"  # {step.reason}"  # parent replaced: <container> / adopt: ...
    else:
        note = "  # forces replacement" if step.action is Action.REPLACE else ""
    lines = [head + note]
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
        if plan.folded(step):  # shown as (known after apply) on the create
            continue
        lines.extend(render_step(step))
        lines.append("")
    lines.append(counts_line(plan))
    for step in plan.steps:
        if plan.destroy and step.actual is not None and step.actual.keep:
            lines.append(
                f"Left in place: {step.address} ({step.actual.kind} {step.name!r}): {step.actual.keep}."
            )
    refused = plan.refused
    if refused:
        names = ", ".join(step.address for step in refused)
        lines.append(
            f"Refused ({len(refused)}): {names} would delete what this lab does not own; "
            "applying fails each refused step and skips what depends on it."
        )
    return "\n".join(lines) + "\n"
