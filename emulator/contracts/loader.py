"""The vendored spec files: loading, ``$ref`` resolution and operation lookup (pure, no I/O but reads).

Where it sits: under ``emulator.contracts``; used by ``emulator.contracts.schema`` (to follow
``$ref``s), by ``emulator.arm`` (which operation a request is) and by the tests.

``specs/MANIFEST.json`` lists every vendored file. A spec file (Swagger 2.0, an extract of the
upstream file: see ``specs/README.md``) is named by its path in Azure/azure-rest-api-specs
(``specification/apimanagement/.../2024-05-01/apimapis.json``); ``$ref``s are resolved relative
to it exactly as upstream (``../../../../../common-types/...``). ``operation(method, path,
api_version)`` finds the operation whose path template matches an ARM request path (literal
segments case-insensitive, ``{param}`` matches one segment) in the files vendored for that
api-version; ``examples()`` lists the vendored ``x-ms-examples`` files of the vendored operations.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

SPECS_DIR = Path(__file__).resolve().parent / "specs"
MANIFEST = SPECS_DIR / "MANIFEST.json"
SPEC_ROOT = "azure-rest-api-specs"  # folder under SPECS_DIR that mirrors the upstream repository
_METHODS = ("get", "put", "patch", "delete", "post", "head")

Node = dict[str, Any]


class ContractError(Exception):
    """A vendored file is missing or a ``$ref`` does not resolve (a defect of the vendored set)."""


@dataclass(frozen=True, slots=True)
class Ref:
    """A schema node and the spec file it lives in (``$ref``s inside it resolve from that file)."""

    file: str  # upstream path, e.g. specification/apimanagement/.../definitions.json
    node: Node
    pointer: str = ""  # JSON pointer of the node in ``file`` ("" for inline nodes)

    @property
    def name(self) -> str:
        return self.pointer.rsplit("/", 1)[-1] if self.pointer else ""


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of a vendored spec file."""

    file: str
    template: str  # the path template as in the spec
    method: str  # lower-case
    api_version: str
    node: Node = field(repr=False)

    @property
    def operation_id(self) -> str:
        return str(self.node.get("operationId", ""))

    @property
    def statuses(self) -> tuple[int, ...]:
        """The documented success status codes (``default`` is the error schema)."""
        return tuple(sorted(int(code) for code in self.node.get("responses", {}) if code.isdigit()))

    @property
    def long_running(self) -> bool:
        return bool(self.node.get("x-ms-long-running-operation"))

    def response_schema(self, status: int) -> Ref | None:
        """The schema of the ``status`` response (``$ref`` followed), ``None`` when that status is
        not documented or carries no body."""
        schema = (self.node.get("responses", {}).get(str(status)) or {}).get("schema")
        if not schema:
            return None
        if "$ref" not in schema:
            return Ref(self.file, schema)
        try:
            return resolve(self.file, schema)
        except ContractError:  # not vendored: the validator reports it unchecked
            return Ref(self.file, schema, str(schema["$ref"]).partition("#")[2])

    def body_schema(self) -> Ref | None:
        """The schema of the request body (the ``in: body`` parameter), ``$ref`` followed."""
        for param in self.node.get("parameters", []):
            ref = resolve(self.file, param) if "$ref" in param else Ref(self.file, param)
            if ref.node.get("in") == "body":
                schema = ref.node.get("schema") or {}
                if "$ref" not in schema:
                    return Ref(ref.file, schema)
                try:
                    return resolve(ref.file, schema)
                except ContractError:  # not vendored: the validator reports it unchecked
                    return Ref(ref.file, schema, str(schema["$ref"]).partition("#")[2])
        return None

    def body_required(self) -> bool:
        for param in self.node.get("parameters", []):
            ref = resolve(self.file, param) if "$ref" in param else Ref(self.file, param)
            if ref.node.get("in") == "body":
                return bool(ref.node.get("required"))
        return False

    def examples(self) -> dict[str, str]:
        """``x-ms-examples``: example name -> upstream path of the example file."""
        out: dict[str, str] = {}
        folder = posixpath.dirname(self.file)
        for name, ref in (self.node.get("x-ms-examples") or {}).items():
            out[name] = posixpath.normpath(posixpath.join(folder, str(ref["$ref"])))
        return out


@cache
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return data


def local_path(upstream: str) -> Path:
    """Where a vendored upstream file lives in this repository."""
    return SPECS_DIR / SPEC_ROOT / PurePosixPath(upstream)


@cache
def document(upstream: str) -> Node:
    """A vendored file, parsed (cached: the files never change at run time)."""
    path = local_path(upstream)
    if not path.is_file():
        raise ContractError(f"the spec file {upstream} is not vendored (see emulator/contracts/specs)")
    data: Node = json.loads(path.read_text(encoding="utf-8"))
    return data


def _pointer(doc: Node, pointer: str, where: str) -> Node:
    node: Any = doc
    for part in [p for p in pointer.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise ContractError(f"{where}: '{pointer}' does not resolve")
        node = node[part]
    if not isinstance(node, dict):
        raise ContractError(f"{where}: '{pointer}' is not an object")
    return node


def resolve(file: str, node: Node) -> Ref:
    """Follow ``node``'s ``$ref`` (repeatedly) from ``file``; a node without one is returned as is."""
    seen = 0
    pointer = ""
    while "$ref" in node:
        ref = str(node["$ref"])
        target, _, pointer = ref.partition("#")
        if target:
            file = posixpath.normpath(posixpath.join(posixpath.dirname(file), target))
        node = _pointer(document(file), pointer, f"{file} ({ref})")
        seen += 1
        if seen > 32:
            raise ContractError(f"{file}: $ref loop at {ref}")
    return Ref(file, node, pointer)


def definition(file: str, name: str) -> Ref:
    return resolve(file, {"$ref": f"#/definitions/{name}"})


# ----------------------------------------------------------------------------- operations
# Path parameters that span several segments (``x-ms-skip-url-encoding`` in the specs): an ARM
# scope (``/subscriptions/.../resourceGroups/...``) or a whole resource id.
_MULTI_SEGMENT = {"scope", "resourceid", "parentresourcepath", "resourcetype", "roleassignmentid"}
_PARAM = re.compile(r"\{([^}]+)\}")


def _template_regex(template: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _PARAM.finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        out.append(".+" if m.group(1).lower() in _MULTI_SEGMENT else "[^/]+")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out).rstrip("/") + "/?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Indexed:
    pattern: re.Pattern[str]
    operation: Operation
    literals: int  # length of the literal text (more literal = more specific)
    resource_types: frozenset[str]  # lower-cased types the file serves (MANIFEST ``resource_types``)


def resource_type_of(path: str) -> str:
    """``Namespace/type[/child...]`` of an ARM path (after the last ``/providers/``), or ``""``;
    a subscription's resource provider (``/subscriptions/{s}/providers/{namespace}``) is
    ``Microsoft.Resources/providers``; a provider action at subscription scope
    (``.../providers/Microsoft.Storage/checkNameAvailability``) is ``<namespace>/<action>``.

    A resource group (``/subscriptions/{s}/resourcegroups/{rg}``, no ``/providers/``) is
    ``Microsoft.Resources/resourceGroups``, as ARM names its type; so are the group list and
    what is under a group without ``/providers/`` (``{rg}/resources``, ``{rg}/exportTemplate``)."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    lower = [p.lower() for p in parts]
    if "providers" not in lower:
        if len(lower) >= 3 and lower[0] == "subscriptions" and lower[2] == "resourcegroups":
            return "Microsoft.Resources/resourceGroups"
        return ""
    i = len(lower) - 1 - lower[::-1].index("providers")
    rest = parts[i + 1 :]
    if len(rest) == 1 and i == 2 and lower[0] == "subscriptions":
        return "Microsoft.Resources/providers"  # /subscriptions/{s}/providers/{namespace} (Providers_Get)
    if len(rest) < 2:
        return ""
    return "/".join([rest[0], *rest[1::2]])


@cache
def _index() -> dict[str, list[_Indexed]]:
    """api-version -> every operation of the vendored spec files of that version."""
    out: dict[str, list[_Indexed]] = {}
    for entry in manifest()["files"]:
        if entry.get("kind") != "spec" or not entry.get("api_version"):
            continue
        upstream = entry["path"]
        doc = document(upstream)
        for template, item in (doc.get("paths") or {}).items():
            for method in _METHODS:
                if method not in item:
                    continue
                op = Operation(upstream, template, method, entry["api_version"], item[method])
                literals = len(_PARAM.sub("", template))
                types = frozenset(t.lower() for t in entry.get("resource_types", []))
                out.setdefault(entry["api_version"], []).append(
                    _Indexed(_template_regex(template), op, literals, types)
                )
    for ops in out.values():
        ops.sort(key=lambda i: -i.literals)
    return out


def operation(method: str, path: str, api_version: str) -> Operation | None:
    """The vendored operation a request is, or ``None`` when no vendored file of that
    api-version has it. ``path`` is the URL path (no query), percent-decoded or not."""
    wanted = method.lower()
    clean = path.split("?", 1)[0].rstrip("/")
    rtype = resource_type_of(clean).lower()
    # an action (``.../registries/{r}/scheduleRun``) is served by the file of its resource's type
    owner = resource_type_of(clean.rsplit("/", 1)[0]).lower() if wanted == "post" else rtype
    for indexed in _index().get(api_version, []):
        if indexed.resource_types and not ({rtype, owner} & indexed.resource_types):
            continue
        if indexed.operation.method == wanted and indexed.pattern.match(clean):
            return indexed.operation
    return None


def operations() -> list[Operation]:
    """Every vendored operation (tests)."""
    return [i.operation for ops in _index().values() for i in ops]


@dataclass(frozen=True, slots=True)
class Example:
    """One ``x-ms-examples`` entry of a vendored operation whose example file is vendored."""

    name: str  # the key in ``x-ms-examples``
    file: str  # upstream path of the example file
    operation: Operation = field(repr=False)

    def load(self) -> Node:
        return document(self.file)


def examples() -> list[Example]:
    """Every vendored example of every vendored operation, in a stable order (the replay test)."""
    vendored = {e["path"] for e in manifest()["files"] if e.get("kind") == "example"}
    found = [
        Example(name, path, op)
        for op in operations()
        for name, path in op.examples().items()
        if path in vendored
    ]
    return sorted(found, key=lambda e: (e.file, e.name))
