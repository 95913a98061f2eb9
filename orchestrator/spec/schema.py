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


def _enum_values(node: Mapping[str, Any]) -> list[Any] | None:
    """The allowed values of a property: its enum, its interpolable enum, its items' enum."""
    for candidate in (node, *node.get("anyOf", ()), node.get("items") or {}):
        if isinstance(candidate, Mapping):
            if "enum" in candidate:
                return list(candidate["enum"])
            inner = candidate.get("items")
            if isinstance(inner, Mapping) and "enum" in inner:
                return list(inner["enum"])
            for option in candidate.get("anyOf", ()):
                if isinstance(option, Mapping) and "enum" in option:
                    return list(option["enum"])
    return None


def _documented(model: str, properties: dict[str, Any]) -> None:
    """Descriptions (``descriptions.DESCRIPTIONS`` where the model gave none), the allowed
    values appended to an enum's, ``descriptions.EXAMPLES`` — the editor's hover docs."""
    from orchestrator.spec.descriptions import DESCRIPTIONS, EXAMPLES

    for name, prop in properties.items():
        text = prop.get("description") or DESCRIPTIONS.get(model, {}).get(name)
        values = _enum_values(prop)
        if values is not None and len(values) > 1:
            listed = ", ".join(str(v) for v in values)
            text = f"{text} (one of: {listed})" if text else f"One of: {listed}"
        if text:
            prop["description"] = text
        if name in EXAMPLES.get(model, {}):
            prop["examples"] = EXAMPLES[model][name]


@cache
def lab_schema() -> Mapping[str, Any]:
    """The JSON Schema of lab.yaml as written (before interpolation), documented."""
    schema = _allow_interpolation(model_schema())
    _documented("Lab", schema["properties"])
    for name, definition in schema.get("$defs", {}).items():
        if "properties" in definition:
            _documented(name, definition["properties"])
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "prmlab lab.yaml"}
