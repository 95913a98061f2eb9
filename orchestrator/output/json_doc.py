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
     "verification": null | {"ok": bool, "checks": [{"name", "outcome", "detail", "api"?}]},
     "outputs": null | {name: value},   # orchestrator.output.lab_outputs
     "exit_code": int}

``verification`` is null when it did not run (dry run, --no-verify, destroy, a failed apply);
``outputs`` is null for a dry run or a destroy. ``verify_document`` is ``prmlab verify --output
json``. The schemas are documented in docs/json-output.md (``docs/schemas/``).

Values: ``{"unknown": true}`` for a value known only after apply, ``{"sensitive": true}`` for a
secret (its value never appears). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.apply import ApplyResult
from orchestrator.output.format import FORMAT_VERSION
from orchestrator.output.lab_outputs import DESCRIPTIONS
from orchestrator.output.values import to_json
from orchestrator.plan import Plan
from orchestrator.resource import Action

__all__ = [
    "FORMAT_VERSION",
    "JSON_SCHEMA",
    "OUTPUT_SCHEMA",
    "VERIFY_SCHEMA",
    "document",
    "output_document",
    "verify_document",
]


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
    plan: Plan,
    result: ApplyResult | None,
    *,
    target: str,
    dry_run: bool,
    exit_code: int,
    verification: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "lab": plan.lab,
        "target": target,
        "operation": "destroy" if plan.destroy else "reconcile",
        "dry_run": dry_run,
        "plan": plan_json(plan),
        "result": None if result is None else result_json(result),
        "verification": None if verification is None else dict(verification),
        "outputs": None if outputs is None else to_json(dict(outputs)),
        "exit_code": exit_code,
    }


def output_document(lab: str, target: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """``prmlab output --output json``: the outputs (``lab_outputs``), or the one named."""
    return {
        "format_version": FORMAT_VERSION,
        "command": "output",
        "lab": lab,
        "target": target,
        "outputs": to_json(dict(outputs)),
    }


def verify_document(lab: str, target: str, verification: Mapping[str, Any], exit_code: int) -> dict[str, Any]:
    """``prmlab verify --output json``: the verification (``Report.as_json``) as a document."""
    return {
        "format_version": FORMAT_VERSION,
        "command": "verify",
        "lab": lab,
        "target": target,
        **verification,
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
_CHECKS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "outcome", "detail"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "description": "group.check, e.g. forged.wrong_audience"},
            "outcome": {"enum": ["pass", "fail", "skip"]},
            "detail": {"type": "string"},
            "api": {
                "type": "string",
                "description": "the MCP API (lab.yaml key) checked; present when the lab has several",
            },
        },
    },
}
_VERIFICATION = {
    "type": "object",
    "required": ["ok", "checks"],
    "additionalProperties": False,
    "properties": {
        "ok": {"type": "boolean", "description": "no check failed and at least one passed"},
        "checks": _CHECKS,
    },
}
_URL_MAP = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}
_NULLABLE_STRING = {"type": ["string", "null"]}
_SOME_OUTPUTS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        name: {
            **(
                _URL_MAP
                if name in ("mcp_urls", "prm_urls", "client_ids")
                else {"type": ["object", "null"]}
                if name == "vscode_mcp_json"
                else _NULLABLE_STRING
            ),
            "description": text,
        }
        for name, text in DESCRIPTIONS.items()
    },
}
OUTPUTS_SCHEMA: dict[str, Any] = {**_SOME_OUTPUTS, "required": list(DESCRIPTIONS)}
OUTPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "prmlab output --output json",
    "type": "object",
    "required": ["format_version", "command", "lab", "target", "outputs"],
    "additionalProperties": False,
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "command": {"const": "output"},
        "lab": {"type": "string"},
        "target": {"type": "string"},
        "outputs": {**_SOME_OUTPUTS, "minProperties": 1, "description": "every output, or the one named"},
    },
}
VERIFY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "prmlab verify --output json",
    "type": "object",
    "required": ["format_version", "command", "lab", "target", "ok", "checks", "exit_code"],
    "additionalProperties": False,
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "command": {"const": "verify"},
        "lab": {"type": "string"},
        "target": {"type": "string"},
        "ok": {"type": "boolean", "description": "no check failed and at least one passed"},
        "checks": _CHECKS,
        "exit_code": {"type": "integer"},
    },
}
JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "prmlab reconcile --output json",
    "type": "object",
    "required": [
        "format_version",
        "lab",
        "target",
        "operation",
        "dry_run",
        "plan",
        "result",
        "verification",
        "outputs",
        "exit_code",
    ],
    "additionalProperties": False,
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "lab": {"type": "string"},
        "target": {"type": "string"},
        "operation": {"enum": ["reconcile", "destroy"]},
        "dry_run": {"type": "boolean"},
        "exit_code": {"type": "integer"},
        "verification": {"oneOf": [{"type": "null"}, _VERIFICATION]},
        "outputs": {"oneOf": [{"type": "null"}, OUTPUTS_SCHEMA]},
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
