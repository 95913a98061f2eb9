"""The machine-readable reconcile document printed by ``--output json`` (one JSON object).

Shape (``format_version`` 1; ``JSON_SCHEMA`` below is the contract, tested)::

    {"format_version": 1, "lab": str, "target": str, "operation": "reconcile" | "destroy",
     "dry_run": bool,
     "plan": {"has_changes": bool, "counts": {action: int},
              "resources": [{"address", "kind", "name", "action", "reason", "refused", "depends_on",
                             "changes": [{"path", "old", "new", "forces_replacement"}]}]},
     "result": null | {"ok": bool, "cancelled": bool, "wall_seconds": float,
                       "counts": {status: int},
                       "resources": [{"address", "kind", "action", "status", "message",
                                      "attempts", "seconds"}]},
     "exit_code": int}

Values: ``{"unknown": true}`` for a value known only after apply, ``{"sensitive": true}`` for a
secret (its value never appears). Pure.
"""

from __future__ import annotations

from typing import Any

from orchestrator.apply import ApplyResult
from orchestrator.output.values import to_json
from orchestrator.plan import Plan
from orchestrator.resource import Action

FORMAT_VERSION = 1


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "has_changes": plan.has_changes,
        "counts": {a.value: n for a, n in plan.counts().items()},
        "resources": [
            {
                "address": s.address,
                "kind": s.kind,
                "name": s.name,
                "action": s.action.value,
                "reason": s.reason,
                "refused": s.refused or None,
                "depends_on": list(s.depends_on),
                "changes": [
                    {
                        "path": c.path,
                        "old": to_json(c.old),
                        "new": to_json(c.new),
                        "forces_replacement": c.forces_replacement,
                    }
                    for c in s.changes
                ]
                if s.action is not Action.CREATE or s.desired is None
                else [
                    {"path": k, "old": None, "new": to_json(v), "forces_replacement": False}
                    for k, v in sorted(s.desired.properties.items())
                    if not k.startswith("@")
                ],
            }
            for s in plan.steps
        ],
    }


def result_json(result: ApplyResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "cancelled": result.cancelled,
        "wall_seconds": round(result.wall_seconds, 3),
        "counts": {s.value: n for s, n in result.counts().items()},
        "resources": [
            {
                "address": o.address,
                "kind": o.kind,
                "action": o.action.value,
                "status": o.status.value,
                "message": o.message,
                "attempts": o.attempts,
                "seconds": round(o.seconds, 3),
            }
            for o in result.outcomes
        ],
    }


def document(
    plan: Plan, result: ApplyResult | None, *, target: str, dry_run: bool, exit_code: int
) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "lab": plan.lab,
        "target": target,
        "operation": "destroy" if plan.destroy else "reconcile",
        "dry_run": dry_run,
        "plan": plan_json(plan),
        "result": None if result is None else result_json(result),
        "exit_code": exit_code,
    }


_VALUE: dict[str, Any] = {}  # any JSON value (markers are objects)
_CHANGE = {
    "type": "object",
    "required": ["path", "old", "new", "forces_replacement"],
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string"},
        "old": _VALUE,
        "new": _VALUE,
        "forces_replacement": {"type": "boolean"},
    },
}
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "prmlab reconcile --output json",
    "type": "object",
    "required": ["format_version", "lab", "target", "operation", "dry_run", "plan", "result", "exit_code"],
    "additionalProperties": False,
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "lab": {"type": "string"},
        "target": {"type": "string"},
        "operation": {"enum": ["reconcile", "destroy"]},
        "dry_run": {"type": "boolean"},
        "exit_code": {"type": "integer"},
        "plan": {
            "type": "object",
            "required": ["has_changes", "counts", "resources"],
            "additionalProperties": False,
            "properties": {
                "has_changes": {"type": "boolean"},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "resources": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["address", "kind", "name", "action", "reason", "depends_on", "changes"],
                        "additionalProperties": False,
                        "properties": {
                            "address": {"type": "string"},
                            "kind": {"type": "string"},
                            "name": {"type": "string"},
                            "action": {"enum": [a.value for a in Action]},
                            "reason": {"type": "string"},
                            "refused": {"type": ["string", "null"]},
                            "depends_on": {"type": "array", "items": {"type": "string"}},
                            "changes": {"type": "array", "items": _CHANGE},
                        },
                    },
                },
            },
        },
        "result": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["ok", "cancelled", "wall_seconds", "counts", "resources"],
                    "additionalProperties": False,
                    "properties": {
                        "ok": {"type": "boolean"},
                        "cancelled": {"type": "boolean"},
                        "wall_seconds": {"type": "number"},
                        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "resources": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": [
                                    "address",
                                    "kind",
                                    "action",
                                    "status",
                                    "message",
                                    "attempts",
                                    "seconds",
                                ],
                                "additionalProperties": False,
                                "properties": {
                                    "address": {"type": "string"},
                                    "kind": {"type": "string"},
                                    "action": {"type": "string"},
                                    "status": {"type": "string"},
                                    "message": {"type": "string"},
                                    "attempts": {"type": "integer"},
                                    "seconds": {"type": "number"},
                                },
                            },
                        },
                    },
                },
            ]
        },
    },
}
