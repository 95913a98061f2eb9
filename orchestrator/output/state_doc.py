"""What ``prmlab state`` prints: the resources the lab owns on its target (pure).

Flow: ``engine.read_state`` -> ``entries`` (sorted, with ids) -> ``state_text`` or
``state_document`` (``STATE_SCHEMA``, docs/json-output.md). A resource no longer in lab.yaml (a
leftover the next reconcile deletes) is marked ``in_lab: false``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.output.format import FORMAT_VERSION
from orchestrator.resource import Actual


@dataclass(frozen=True, slots=True)
class Entry:
    address: str
    kind: str
    name: str
    id: str | None  # ARM id / Graph object id; None when the provider keeps none
    in_lab: bool  # still declared in lab.yaml
    note: str = ""


def entries(actuals: Mapping[str, Actual], declared: frozenset[str]) -> list[Entry]:
    found = []
    for address, actual in sorted(actuals.items()):
        handle = actual.handle or actual.properties.get("@id")
        found.append(
            Entry(
                address,
                actual.kind,
                actual.name,
                str(handle) if handle else None,
                address in declared,
                actual.note,
            )
        )
    return found


def state_text(found: list[Entry], lab: str, target: str) -> str:
    if not found:
        return f"lab {lab!r} owns nothing on its {target} target.\n"
    width = max(len(e.address) for e in found)
    name_width = max(len(e.name) for e in found)
    lines = []
    for e in found:
        extra = "" if e.in_lab else "  (not in lab.yaml: the next reconcile deletes it)"
        if e.note:
            extra += f"  ({e.note})"
        lines.append(f"{e.address.ljust(width)}  {e.name.ljust(name_width)}  {e.id or '-'}{extra}")
    lines.append(f"{len(found)} resources owned by lab {lab!r} on the {target} target.")
    return "\n".join(lines) + "\n"


def state_document(lab: str, target: str, found: list[Entry]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "command": "state",
        "lab": lab,
        "target": target,
        "resources": [
            {
                "address": e.address,
                "kind": e.kind,
                "name": e.name,
                "id": e.id,
                "in_lab": e.in_lab,
                "note": e.note,
            }
            for e in found
        ],
    }


STATE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "prmlab state --output json",
    "type": "object",
    "required": ["format_version", "command", "lab", "target", "resources"],
    "additionalProperties": False,
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "command": {"const": "state"},
        "lab": {"type": "string"},
        "target": {"type": "string"},
        "resources": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["address", "kind", "name", "id", "in_lab", "note"],
                "additionalProperties": False,
                "properties": {
                    "address": {"type": "string", "description": "graph address, e.g. api.mcp"},
                    "kind": {"type": "string"},
                    "name": {"type": "string", "description": "the name on the target"},
                    "id": {"type": ["string", "null"], "description": "ARM id or Graph object id"},
                    "in_lab": {
                        "type": "boolean",
                        "description": "false: a leftover the next reconcile deletes",
                    },
                    "note": {"type": "string"},
                },
            },
        },
    },
}
