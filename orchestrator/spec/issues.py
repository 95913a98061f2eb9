"""Pydantic validation errors -> ``SpecIssue``s located in lab.yaml (pure).

Step 2 of loading. A pydantic location mixes YAML keys with union tags (``<ref>``, ``local``);
this module follows the location through the raw data, keeping only the parts that are real
keys or indices, so the reported path is the YAML path and the mark is where that value (or,
for an unknown key, that key) is written. Messages never include the input value, so secret
values cannot leak through an error.
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from orchestrator.errors import SpecIssue
from orchestrator.spec.values import PATTERN_HELP
from orchestrator.spec.yamlsource import Mark, PathT, Positions, format_path


def _child(value: Any, part: int | str) -> tuple[bool, Any]:
    if isinstance(value, dict) and isinstance(part, str) and part in value:
        return True, value[part]
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return True, value[part]
    return False, None


def _yaml_path(data: Any, loc: tuple[int | str, ...]) -> tuple[PathT, bool]:
    """Follow ``loc`` through ``data``: (the YAML path, whether the last element was a dict key)."""
    path: list[str | int] = []
    current = data
    key_error = False
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]":
            key_error = True
            continue
        found, child = _child(current, part)
        if found:
            path.append(part)
            current = child
        elif last and isinstance(current, dict) and isinstance(part, str) and not part.startswith("<"):
            path.append(part)  # a missing key
            current = None
    return tuple(path), key_error


def _schema_at(schema: Mapping[str, Any], data: Any, path: PathT) -> set[str]:
    """The keys the JSON Schema allows in the mapping at ``path`` (for 'did you mean')."""
    defs: Mapping[str, Any] = schema.get("$defs", {})

    def deref(node: Mapping[str, Any], value: Any) -> list[Mapping[str, Any]]:
        if "$ref" in node:
            return deref(defs[node["$ref"].rsplit("/", 1)[1]], value)
        for combo in ("oneOf", "anyOf", "allOf"):
            if combo in node:
                out: list[Mapping[str, Any]] = []
                for option in node[combo]:
                    out += deref(option, value)
                objects = [o for o in out if "properties" in o]
                kind = value.get("kind") if isinstance(value, dict) else None
                matching = [o for o in objects if o["properties"].get("kind", {}).get("const") == kind]
                return matching or out
        return [node]

    nodes = deref(schema, data)
    current = data
    for part in path:
        nxt: list[Mapping[str, Any]] = []
        child = current.get(part) if isinstance(current, dict) and isinstance(part, str) else None
        if isinstance(part, int) and isinstance(current, list) and 0 <= part < len(current):
            child = current[part]
        for node in nodes:
            if isinstance(part, int) and "items" in node:
                nxt += deref(node["items"], child)
            elif isinstance(part, str) and part in node.get("properties", {}):
                nxt += deref(node["properties"][part], child)
            elif isinstance(part, str) and isinstance(node.get("additionalProperties"), dict):
                nxt += deref(node["additionalProperties"], child)
            elif isinstance(part, str) and "patternProperties" in node:
                for sub in node["patternProperties"].values():
                    nxt += deref(sub, child)
        nodes, current = nxt, child
    keys: set[str] = set()
    for node in nodes:
        keys |= set(node.get("properties", {}))
    return keys


_TYPE_ERRORS = frozenset({"int_type", "float_type", "bool_type", "string_type"})


def _what(value: Any) -> str:
    """The YAML type of a value, in words (never the value itself: it may be a secret)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "empty (null)" if value is None else ""


def _quoted_scalar(kind: str, value: Any) -> bool:
    """``port: "8000"``: text that would have had the wanted type without its quotes."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if kind == "bool_type":
        return text in ("true", "false")
    if kind == "int_type":
        return re.fullmatch(r"[-+]?[0-9]+", text) is not None
    return (
        kind == "float_type"
        and re.fullmatch(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", text) is not None
    )


def _message(error: ErrorDetails, path: PathT, allowed: set[str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        close = difflib.get_close_matches(key, sorted(allowed), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        valid = f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
        return f"unknown key '{key}'{hint}{valid}"
    if kind == "missing":
        return f"required key '{path[-1] if path else '?'}' is missing"
    if kind == "union_tag_not_found":
        return f"required key '{path[-1] if path else '?'}' is missing"
    if kind == "string_pattern_mismatch":
        words = PATTERN_HELP.get(str((error.get("ctx") or {}).get("pattern", "")))
        if words:
            return f"must be {words}"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx") or {}
        return f"'{ctx.get('tag')}' is not supported: must be one of {ctx.get('expected_tags')}"
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        got = error.get("input")
        shown = (
            f"'{got}' is not supported: " if isinstance(got, str | int) and not isinstance(got, bool) else ""
        )
        return f"{shown}must be one of {expected}"
    message = error["msg"]
    if kind in _TYPE_ERRORS:
        given = error.get("input")
        got = _what(given)
        hint = " (quoted: write it without quotes)" if _quoted_scalar(kind, given) else ""
        return f"{message}, not {got}{hint}" if got else message
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def issues_from(
    exc: ValidationError, data: Any, positions: Positions, schema: Mapping[str, Any], *, detailed: int = 100
) -> list[SpecIssue]:
    """One ``SpecIssue`` per pydantic error, deduplicated.

    Only the first ``detailed`` errors by position get the full message ("did you mean",
    allowed keys: a schema walk and a fuzzy match each); the others keep pydantic's short one.
    They cannot be among the first ``detailed`` issues the loader prints, and 20,000 unknown
    keys would otherwise cost seconds.
    """
    located: list[tuple[Mark, PathT, ErrorDetails]] = []
    for error in exc.errors(include_url=False, include_input=True):
        path, key_error = _yaml_path(data, error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # A discriminated union (target.kind): point at the discriminator key itself.
            field = str((error.get("ctx") or {}).get("discriminator", "")).strip("'")
            if field.isidentifier():
                path = (*path, field)
        if error["type"] == "extra_forbidden" or key_error:
            mark = positions.key(path)
        elif error["type"] in ("missing", "union_tag_not_found"):
            mark = positions.key(path[:-1]) if path[:-1] else positions.value(())
        else:
            mark = positions.value(path)
        located.append((mark, path, error))
    located.sort(key=lambda item: (item[0].line, item[0].column))
    out: dict[tuple[int, int, str, str], SpecIssue] = {}
    for rank, (mark, path, error) in enumerate(located):
        if rank < detailed:
            allowed = _schema_at(schema, data, path[:-1]) if error["type"] == "extra_forbidden" else set()
            message = _message(error, path, allowed)
        else:
            message = error["msg"]
        issue = SpecIssue(positions.file, mark.line, mark.column, format_path(path), message)
        out.setdefault((issue.line, issue.column, issue.path, issue.message), issue)
    return list(out.values())
