"""Validate a JSON body against a vendored schema (Swagger 2.0 + Azure's ``x-ms-*`` extensions).

Where it sits: under ``emulator.contracts``; ``emulator.arm`` validates request bodies with
``Rules.AZURE`` (what Azure refuses), the contract tests with ``Rules.STRICT`` (what the engine
must never send).

* ``AZURE``: required properties present, enum values in range (an ``x-ms-enum`` with
  ``modelAsString: true`` is extensible and restricts nothing), JSON types right. Read-only
  properties are not errors: ARM ignores them on a write (``strip_read_only`` removes them).
* ``STRICT``: the above, plus no property the schema lacks (where the schema closes the object:
  ``properties`` without ``additionalProperties``) and no read-only property sent.

Schema features followed: ``$ref`` (across files), ``allOf`` (properties and ``required`` merged),
``properties``, ``additionalProperties`` (schema or ``true``), ``items``, ``enum``, ``type``,
``discriminator`` + ``x-ms-discriminator-value`` (the subtype is picked by the discriminator
value), ``readOnly``, ``x-ms-mutability`` (``["read"]`` only = read-only). Problems carry the
property path (``properties.scope``) and the spec file + definition it comes from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from emulator.contracts.loader import ContractError, Node, Ref, document, resolve


class Rules(enum.Enum):
    AZURE = "azure"
    STRICT = "strict"


@dataclass(frozen=True, slots=True)
class Problem:
    path: str  # dotted property path ("" = the body itself); list items as name[0]
    kind: str  # missing | unknown | read-only | enum | type
    message: str
    file: str  # the spec file that defines the property's schema
    definition: str  # the definition name ("" for inline schemas)
    value: Any = None  # the offending value (enum, type), None for missing/unknown properties
    expected: str = ""  # the schema's type (type problems) or allowed values (enum problems)

    def __str__(self) -> str:
        where = f"{self.file}#/definitions/{self.definition}" if self.definition else self.file
        return f"{self.path or '(body)'}: {self.message} [{where}]"


@dataclass(frozen=True, slots=True)
class _Merged:
    """An object schema with its ``allOf`` chain flattened."""

    properties: dict[str, Ref]  # name -> (file, property schema)
    required: tuple[str, ...]
    additional: Ref | bool | None  # None: closed (no additionalProperties)
    discriminator: str | None
    file: str
    definition: str
    typed_object: bool


def _merge(ref: Ref, seen: frozenset[str] = frozenset()) -> _Merged:
    node, file = ref.node, ref.file
    props: dict[str, Ref] = {}
    required: list[str] = []
    additional: Ref | bool | None = None
    discriminator = node.get("discriminator")
    typed = node.get("type") == "object" or "properties" in node
    key = f"{file}#{ref.pointer}"
    for parent in node.get("allOf") or []:
        pref = resolve(file, parent)
        pkey = f"{pref.file}#{pref.pointer}"
        if pkey in seen:
            continue
        merged = _merge(pref, seen | {key})
        props.update(merged.properties)
        required += merged.required
        if merged.additional is not None:
            additional = merged.additional
        discriminator = discriminator or merged.discriminator
        typed = typed or merged.typed_object
    for name, sub in (node.get("properties") or {}).items():
        props[name] = Ref(file, sub)
    required += list(node.get("required") or [])
    extra = node.get("additionalProperties")
    if extra is True or (isinstance(extra, dict) and not extra):
        additional = True
    elif isinstance(extra, dict):
        additional = Ref(file, extra)
    return _Merged(props, tuple(dict.fromkeys(required)), additional, discriminator, file, ref.name, typed)


def _subtype(ref: Ref, merged: _Merged, body: dict[str, Any]) -> Ref:
    """The ``x-ms-discriminator-value`` subtype of ``ref`` the body names (same file)."""
    if merged.discriminator is None:
        return ref
    value = body.get(merged.discriminator)
    if not isinstance(value, str) or not ref.name:
        return ref
    for name, definition in (document(ref.file).get("definitions") or {}).items():
        if definition.get("x-ms-discriminator-value") == value or (
            name == value and "x-ms-discriminator-value" not in definition
        ):
            for parent in definition.get("allOf") or []:
                if resolve(ref.file, parent).pointer == ref.pointer:
                    return Ref(ref.file, definition, f"/definitions/{name}")
    return ref


def _read_only(node: Node) -> bool:
    mutability = node.get("x-ms-mutability")
    return bool(node.get("readOnly")) or (isinstance(mutability, list) and mutability == ["read"])


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(expected: str, value: Any) -> bool:
    actual = _json_type(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    if expected == "file":
        return True
    return actual == expected


@dataclass(frozen=True, slots=True)
class Result:
    problems: tuple[Problem, ...]
    unchecked: tuple[str, ...]  # "path: why" for subtrees whose schema is not vendored

    @property
    def ok(self) -> bool:
        return not self.problems


class _Walker:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.problems: list[Problem] = []
        self.unchecked: list[str] = []

    def add(
        self,
        path: str,
        kind: str,
        message: str,
        ref: Ref,
        definition: str = "",
        value: Any = None,
        expected: str = "",
    ) -> None:
        self.problems.append(Problem(path, kind, message, ref.file, definition or ref.name, value, expected))

    def value(self, ref: Ref, value: Any, path: str, depth: int = 0) -> None:
        if depth > 40:
            return
        try:
            ref = resolve(ref.file, ref.node) if "$ref" in ref.node else ref
        except ContractError as exc:
            self.unchecked.append(f"{path or '(body)'}: {exc}")
            return
        node = ref.node
        if value is None:
            return  # null = "not set" for ARM's JSON (PATCH merge semantics); never a type error here
        expected = node.get("type")
        if expected is None and ("properties" in node or "allOf" in node):
            expected = "object"
        if isinstance(expected, str) and not _type_ok(expected, value):
            self.add(
                path,
                "type",
                f"must be of type {expected}, not {_json_type(value)}",
                ref,
                value=value,
                expected=expected,
            )
            return
        if "enum" in node and not self._extensible(node):
            allowed = [str(v) for v in node["enum"]]
            if str(value).lower() not in {a.lower() for a in allowed}:
                self.add(
                    path,
                    "enum",
                    f"value '{value}' is not one of the allowed values {', '.join(allowed)}",
                    ref,
                    value=value,
                    expected=", ".join(allowed),
                )
        if isinstance(value, list) and isinstance(node.get("items"), dict):
            for i, item in enumerate(value):
                self.value(Ref(ref.file, node["items"]), item, f"{path}[{i}]", depth + 1)
        elif isinstance(value, dict) and expected in (None, "object"):
            self.object(ref, value, path, depth)

    @staticmethod
    def _extensible(node: Node) -> bool:
        ms = node.get("x-ms-enum")
        return isinstance(ms, dict) and bool(ms.get("modelAsString"))

    def object(self, ref: Ref, body: dict[str, Any], path: str, depth: int) -> None:
        try:
            merged = _merge(ref)
            sub = _subtype(ref, merged, body)
            if sub is not ref:
                ref, merged = sub, _merge(sub)
        except ContractError as exc:
            self.unchecked.append(f"{path or '(body)'}: {exc}")
            return
        if not merged.typed_object and merged.additional is None:
            return  # a schema that says nothing about the object (``type: object`` only)
        for name in merged.required:
            if name not in body or body[name] is None:
                self.add(_join(path, name), "missing", "is required", ref, merged.definition)
        for name, value in body.items():
            where = _join(path, name)
            prop = merged.properties.get(name)
            if prop is None:
                if isinstance(merged.additional, Ref):
                    self.value(merged.additional, value, where, depth + 1)
                elif merged.additional is None and self.rules is Rules.STRICT and merged.properties:
                    self.add(where, "unknown", "is not a property of the schema", ref, merged.definition)
                continue
            target = _safe_resolve(prop)
            if self.rules is Rules.STRICT and (_read_only(prop.node) or _read_only(target.node)):
                self.add(
                    where, "read-only", "is read-only: Azure ignores it on a write", ref, merged.definition
                )
                continue
            self.value(prop, value, where, depth + 1)


def _safe_resolve(ref: Ref) -> Ref:
    try:
        return resolve(ref.file, ref.node) if "$ref" in ref.node else ref
    except ContractError:
        return ref


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate(schema: Ref, body: Any, rules: Rules) -> Result:
    """Every problem of ``body`` against ``schema``, and what could not be checked."""
    walker = _Walker(rules)
    walker.value(schema, body, "")
    return Result(tuple(walker.problems), tuple(walker.unchecked))


def strip_read_only(schema: Ref, body: Any, depth: int = 0) -> Any:
    """``body`` without the properties the schema marks read-only (what ARM does on a write)."""
    if depth > 40 or not isinstance(body, dict):
        return body
    try:
        ref = resolve(schema.file, schema.node) if "$ref" in schema.node else schema
        merged = _merge(ref)
        sub = _subtype(ref, merged, body)
        if sub is not ref:
            merged = _merge(sub)
    except ContractError:
        return body
    out: dict[str, Any] = {}
    for name, value in body.items():
        prop = merged.properties.get(name)
        if prop is None:
            out[name] = value
            continue
        target = _safe_resolve(prop)
        if _read_only(prop.node) or _read_only(target.node):
            continue
        if isinstance(value, dict):
            out[name] = strip_read_only(prop, value, depth + 1)
        elif isinstance(value, list) and isinstance(target.node.get("items"), dict):
            item = Ref(target.file, target.node["items"])
            out[name] = [strip_read_only(item, v, depth + 1) for v in value]
        else:
            out[name] = value
    return out
