"""Microsoft Graph v1.0 request bodies checked against the vendored entity schemas.

Where it sits: under ``emulator.contracts`` (ground floor: imports nothing else of the emulator
or the orchestrator). ``emulator.graph`` validates every POST/PATCH body of the entities it
serves with it; the contract tests validate every Graph body the engine sends with it.

The schemas are ``specs/msgraph/v1.0.json`` (see ``specs/README.md``: extracted from Graph's
v1.0 metadata as the pinned msgraph-sdk carries it; ``refresh.py`` re-derives and checks it).
A body is checked like Graph checks it:

* every property is a declared structural property of the type (or its bases), an OData
  annotation (``@odata.type`` must name the type), ``<navigation>@odata.bind``, or a directory
  extension ``extension_<appId>_<name>`` on a directory object;
* a navigation property (its type is an entity) is never written inline;
* JSON types follow the Edm types (strings for ``Edm.String``/``Guid``/``DateTimeOffset``...,
  booleans, integers, numbers), collections are arrays, complex values are objects checked
  recursively, enum values are members of the enum (a flags enum: comma-separated members);
  ``null`` clears a value and is not checked;
* on create, the properties Graph requires are present and not ``null``;
* ``strict`` (the contract tests): also no read-only property is sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

GRAPH_FILE = Path(__file__).resolve().parent / "specs" / "msgraph" / "v1.0.json"
_EXTENSION = re.compile(r"^extension_[0-9a-fA-F]{32}_\w+$")
_STRINGS = {
    "Edm.String",
    "Edm.Guid",
    "Edm.DateTimeOffset",
    "Edm.Date",
    "Edm.TimeOfDay",
    "Edm.Duration",
    "Edm.Binary",
}


@dataclass(frozen=True, slots=True)
class GraphProblem:
    path: str  # dotted property path; list items as name[0]
    kind: str  # unknown | navigation | read-only | type | enum | missing | odata-type
    message: str
    type_name: str  # the Graph type that declares (or lacks) the property

    def __str__(self) -> str:
        return f"{self.path or '(body)'}: {self.message} [{GRAPH_FILE.name}#{self.type_name}]"


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GRAPH_FILE.read_text(encoding="utf-8"))
    return data


def _chain(type_name: str) -> list[dict[str, Any]]:
    types = schema()["types"]
    out = []
    while type_name in types:
        out.append(types[type_name])
        type_name = types[type_name].get("base", "")
    return out


def _is_directory_object(type_name: str) -> bool:
    name = type_name
    types = schema()["types"]
    while name in types:
        if name == "microsoft.graph.directoryObject":
            return True
        name = types[name].get("base", "")
    return False


# ----------------------------------------------------------------------------- URL -> entity
# (collection segment, child segment) -> the entity type a POST/PATCH body is
_COLLECTIONS = {
    "applications": "microsoft.graph.application",
    "servicePrincipals": "microsoft.graph.servicePrincipal",
    "users": "microsoft.graph.user",
    "oauth2PermissionGrants": "microsoft.graph.oAuth2PermissionGrant",
}
_CHILDREN = {"federatedIdentityCredentials": "microsoft.graph.federatedIdentityCredential"}


def entity_of(method: str, path: str) -> tuple[str, bool] | None:
    """``(entity type, is a create)`` of a Graph v1.0 write, ``None`` when its body is not an
    entity of the vendored set (actions such as ``addPassword``). A PATCH is an update; the
    caller knows when a PATCH upserts (``Prefer: create-if-missing``)."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if not parts or parts[0] != "v1.0" or len(parts) < 2:
        return None
    head = parts[1].split("(", 1)[0]
    keyed = "(" in parts[1]
    rest = parts[2:] if keyed else parts[3:]
    entity = _COLLECTIONS.get(head)
    if entity is None:
        return None
    method = method.upper()
    if not rest:
        if method == "POST" and not keyed and len(parts) == 2:
            return entity, True
        if method == "PATCH" and (keyed or len(parts) == 3):
            return entity, False
        return None
    child = _CHILDREN.get(rest[0]) if head == "applications" else None
    if child is None:
        return None
    if method == "POST" and len(rest) == 1:
        return child, True
    if method == "PATCH" and len(rest) == 2:
        return child, False
    return None


# ----------------------------------------------------------------------------- validation
def validate(type_name: str, body: Any, *, create: bool, strict: bool = False) -> list[GraphProblem]:
    """Every problem of ``body`` as a ``type_name`` entity write."""
    problems: list[GraphProblem] = []
    if not isinstance(body, dict):
        return [GraphProblem("", "type", "the request body must be a JSON object", type_name)]
    declared = body.get("@odata.type")
    if declared is not None and str(declared).lstrip("#") != type_name:
        problems.append(
            GraphProblem("@odata.type", "odata-type", f"'{declared}' is not '#{type_name}'", type_name)
        )
    _object(type_name, body, "", strict, problems, top=True)
    if create:
        for name in schema().get("required", {}).get(type_name, []):
            if body.get(name) is None:
                problems.append(GraphProblem(name, "missing", "is required to create", type_name))
    return problems


def _object(
    type_name: str,
    body: dict[str, Any],
    path: str,
    strict: bool,
    problems: list[GraphProblem],
    top: bool = False,
) -> None:
    chain = _chain(type_name)
    props: dict[str, Any] = {}
    navigation: set[str] = set()
    for node in chain:
        props = {**node.get("properties", {}), **props}
        navigation |= set(node.get("navigation", []))
    for name, value in body.items():
        where = f"{path}.{name}" if path else name
        if name.startswith("@odata."):
            continue
        if name.endswith("@odata.bind"):
            if name.split("@", 1)[0] not in navigation:
                problems.append(GraphProblem(where, "unknown", "binds no navigation property", type_name))
            continue
        prop = props.get(name)
        if prop is None:
            if name in navigation:
                problems.append(
                    GraphProblem(
                        where, "navigation", "is a navigation property: not writable inline", type_name
                    )
                )
            elif not (top and _is_directory_object(type_name) and _EXTENSION.match(name)):
                problems.append(GraphProblem(where, "unknown", "is not a property of the type", type_name))
            continue
        if strict and prop.get("readOnly"):
            problems.append(GraphProblem(where, "read-only", "is read-only", type_name))
            continue
        _value(prop, value, where, type_name, strict, problems)


def _value(
    prop: dict[str, Any], value: Any, path: str, owner: str, strict: bool, problems: list[GraphProblem]
) -> None:
    if value is None:
        return
    if prop.get("collection"):
        if not isinstance(value, list):
            problems.append(GraphProblem(path, "type", "must be an array", owner))
            return
        single = {k: v for k, v in prop.items() if k != "collection"}
        for i, item in enumerate(value):
            _value(single, item, f"{path}[{i}]", owner, strict, problems)
        return
    kind = prop["type"]
    if "enum" in prop:
        members = [str(m) for m in prop["enum"]]
        names = {m.lower() for m in members}
        given = (
            [v.strip().lower() for v in value.split(",")]
            if isinstance(value, str) and prop.get("flags")
            else [value]
        )
        if not all(isinstance(v, str) and v.lower() in names for v in given):
            problems.append(
                GraphProblem(path, "enum", f"'{value}' is not one of {', '.join(members)}", owner)
            )
        return
    if kind in _STRINGS:
        ok = isinstance(value, str)
    elif kind == "Edm.Boolean":
        ok = isinstance(value, bool)
    elif kind in ("Edm.Int32", "Edm.Int64"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "Edm.Double":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:  # a complex type
        if not isinstance(value, dict):
            problems.append(GraphProblem(path, "type", f"must be an object ({kind})", owner))
            return
        _object(kind, value, path, strict, problems)
        return
    if not ok:
        problems.append(GraphProblem(path, "type", f"must be {kind}, not {type(value).__name__}", owner))
