"""The JSON Schema of lab.yaml (``prmlab schema`` writes it to ``lab.schema.json``).

Generated from the models, then adjusted for what the loader does before validation: any
constrained scalar (a pattern, an enum, a UUID, a number, a boolean) may instead be written as
a string holding ``${VAR}`` — it is interpolated first and checked when the lab is loaded — so
an editor does not flag ``name: ${APIM_NAME:-apim-lab}`` as wrong; unions are ``anyOf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from orchestrator.spec.models import Lab

INTERPOLATED: Mapping[str, Any] = {
    "type": "string",
    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
    "description": "${VAR} or ${VAR:-default}: taken from the environment, checked after interpolation",
}
_META = ("title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly")
_SCALAR_TYPES = frozenset({"integer", "number", "boolean"})


def _constrained(node: Mapping[str, Any]) -> bool:
    if "$ref" in node or "properties" in node:
        return False
    return (
        "pattern" in node
        or "enum" in node
        or "const" in node
        or node.get("format") == "uuid"
        or node.get("type") in _SCALAR_TYPES
    )


def _allow_interpolation(node: Any) -> Any:
    if isinstance(node, list):
        return [_allow_interpolation(item) for item in node]
    if not isinstance(node, dict):
        return node
    if not _constrained(node):
        out: dict[str, Any] = {}
        for key, value in node.items():
            # Pydantic writes unions as oneOf; a plain string matches both `str` and `SecretStr`
            # branches of a named value, so oneOf would refuse it. The models decide the branch.
            key = "anyOf" if key == "oneOf" else key
            # Names under "properties"/"$defs"/"patternProperties" are keys, not schemas.
            out[key] = (
                {k: _allow_interpolation(v) for k, v in value.items()}
                if key in ("properties", "$defs", "patternProperties") and isinstance(value, dict)
                else _allow_interpolation(value)
            )
        return out
    meta = {k: v for k, v in node.items() if k in _META}
    core = {k: v for k, v in node.items() if k not in _META}
    return {**meta, "anyOf": [core, dict(INTERPOLATED)]}


@cache
def model_schema() -> Mapping[str, Any]:
    """The models' own schema (what is checked after interpolation)."""
    return Lab.model_json_schema()


@cache
def lab_schema() -> Mapping[str, Any]:
    """The JSON Schema of lab.yaml as written (before interpolation)."""
    schema = _allow_interpolation(model_schema())
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "prmlab lab.yaml"}
