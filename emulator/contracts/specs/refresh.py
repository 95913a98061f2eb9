"""Re-derive the vendored spec extracts from Azure/azure-rest-api-specs, or check them.

    python emulator/contracts/specs/refresh.py --check     # offline: every file's sha256 matches MANIFEST.json
    python emulator/contracts/specs/refresh.py --dry-run   # online: fetch and extract, list what differs, write nothing
    python emulator/contracts/specs/refresh.py             # online: fetch each file at its commit, extract, write

The online mode downloads ``https://raw.githubusercontent.com/Azure/azure-rest-api-specs/<commit>/<path>``
for every entry of MANIFEST.json, applies ``extract`` (below) with the entry's lists of paths,
definitions and parameters, writes the result and updates the sha256. A diff after a refresh at
the same commits means a vendored file differs from upstream: the upstream file wins. To move
to a newer commit, change the entry's ``commit`` and run it again. Examples
(``kind: example``) are stored whole (re-serialised the same way). ``--dry-run`` does the same
fetch and extract but only lists the files whose vendored text differs from what upstream gives
(exit 1 if any): the first check of transcribed files on a machine with network.
tests/emulator/contracts/test_refresh.py runs the online path offline against a fake upstream.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RAW = "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/{commit}/{path}"
# Keys dropped everywhere (documentation and client-generation hints; never validation rules).
_DROP = {
    "description",
    "externalDocs",
    "example",
    "x-ms-client-name",
    "x-ms-client-flatten",
    "x-ms-identifiers",
    "x-ms-odata",
    "tags",
    "produces",
    "consumes",
    "headers",
    "summary",
}
_OPERATION_KEYS = (
    "operationId",
    "parameters",
    "responses",
    "x-ms-examples",
    "x-ms-long-running-operation",
    "x-ms-long-running-operation-options",
    "x-ms-pageable",
)


def _clean(node: Any, properties_map: bool = False) -> Any:
    """Drop documentation keys (not property names: ``properties`` maps keep every key)."""
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if not properties_map and key in _DROP:
            continue
        if key == "x-ms-enum" and isinstance(value, dict):
            out[key] = {k: v for k, v in value.items() if k in ("name", "modelAsString")}
            continue
        out[key] = _clean(value, properties_map=(key == "properties" and not properties_map))
    return out


def _operation(op: dict[str, Any], upstream: dict[str, Any]) -> dict[str, Any]:
    """An operation: its id, body and path parameters (inline, or ``#/parameters/`` of the same
    file), success responses, examples and the LRO/paging markers."""
    out = {k: v for k, v in op.items() if k in _OPERATION_KEYS}  # upstream key order
    params = []
    for p in out.get("parameters", []):
        ref = p.get("$ref", "")
        target = (
            upstream.get("parameters", {}).get(ref.removeprefix("#/parameters/"), {})
            if ref.startswith("#/parameters/")
            else p
        )
        if target.get("in") == "body" or (ref.startswith("#/parameters/") and target.get("in") == "path"):
            params.append(p)
    if params:
        out["parameters"] = params
    else:
        out.pop("parameters", None)
    out["responses"] = {
        c: ({"schema": r["schema"]} if "schema" in r else {})
        for c, r in op.get("responses", {}).items()
        if c != "default"
    }
    cleaned: dict[str, Any] = _clean(out)
    return cleaned


def extract(upstream: dict[str, Any], lists: dict[str, Any]) -> dict[str, Any]:
    """The vendored extract of an upstream spec file (see README.md)."""
    out: dict[str, Any] = {
        "swagger": upstream.get("swagger", "2.0"),
        "info": {k: v for k, v in upstream.get("info", {}).items() if k in ("title", "version")},
    }
    out["paths"] = {
        path: {
            m: _operation(upstream["paths"][path][m], upstream)
            for m in upstream["paths"][path]
            if m in methods
        }
        for path, methods in lists.get("paths", {}).items()
    }
    if lists.get("definitions"):
        out["definitions"] = {
            n: _clean(upstream["definitions"][n])
            for n in upstream.get("definitions", {})
            if n in set(lists["definitions"])
        }
    if lists.get("parameters"):
        out["parameters"] = {
            n: _clean(upstream["parameters"][n])
            for n in upstream.get("parameters", {})
            if n in set(lists["parameters"])
        }
    return out


def serialise(doc: Any) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def canonical(entry: dict[str, Any], text: str) -> bool:
    """A transcribed file is a fixed point of the extract: extracting it again (or, for an
    example, re-serialising it) gives the same text. Necessary, not sufficient, for it to be what
    the online refresh would write: only the online refresh compares with upstream."""
    if entry["kind"] == "graph":  # derived, not transcribed: the SDK's description must give it
        return serialise(graph_extract(entry)) == text
    doc = json.loads(text)
    again = doc if entry["kind"] == "example" else extract(doc, entry["extract"])
    return serialise(again) == text


# ----------------------------------------------------------------------------- Microsoft Graph
# The Graph extract (``kind: graph``) is derived from the Graph v1.0 metadata as the pinned
# msgraph-sdk carries it: the SDK's models are generated (kiota) from msgraph-metadata's
# ``clean_v10_openapi/openapi.yaml``, whose hash the SDK records in ``kiota-lock.json``. Per
# type: the base type, the structural properties (Graph JSON name, Edm or Graph type,
# collection, ``readOnly`` where Graph's description says "Read-only", the members of an enum,
# ``flags`` for a flags enum, written as one comma-separated string)
# and the names of the navigation properties (a property whose type is an entity); per written
# entity the properties Graph requires on create (descriptions saying "Required.", plus the
# entry's ``required`` overrides, each citing its page).
_EDM = {
    "get_str_value": "Edm.String",
    "get_bool_value": "Edm.Boolean",
    "get_int_value": "Edm.Int32",
    "get_float_value": "Edm.Double",
    "get_uuid_value": "Edm.Guid",
    "get_datetime_value": "Edm.DateTimeOffset",
    "get_date_value": "Edm.Date",
    "get_time_value": "Edm.TimeOfDay",
    "get_timedelta_value": "Edm.Duration",
    "get_bytes_value": "Edm.Binary",
}
_PRIMITIVE_ARGS = {"str": "Edm.String", "int": "Edm.Int32", "UUID": "Edm.Guid"}


def _graph_name(cls: Any) -> str:
    return f"microsoft.graph.{cls.__name__[0].lower()}{cls.__name__[1:]}"


def _graph_type(cls: Any, out: dict[str, Any], required: dict[str, list[str]]) -> str:
    """Extract ``cls`` (a kiota model class) and every complex/enum type its properties use."""
    import enum
    import importlib
    import inspect
    import re

    name = _graph_name(cls)
    if name in out:
        return name
    entity = importlib.import_module("msgraph.generated.models.entity").Entity
    node: dict[str, Any] = {"kind": "entity" if issubclass(cls, entity) else "complex"}
    out[name] = node
    bases = [b for b in cls.__bases__ if b.__module__.startswith("msgraph.generated.models.")]
    if bases:
        node["base"] = _graph_type(bases[0], out, required)
    source = inspect.getsource(cls)
    docs: dict[str, str] = {}
    annotations: dict[str, str] = {}
    comment = ""
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("# "):
            comment = stripped[2:]
            continue
        if re.match(r"^\w+: ", stripped):
            attr_name, annotation = stripped.split(":", 1)
            annotations[attr_name] = annotation.strip()
            if comment:
                docs[attr_name] = comment
        comment = ""
    fields = inspect.getsource(cls.get_field_deserializers)
    imports = {m.group(2): m.group(1) for m in re.finditer(r"from \.(\w+) import (\w+)", fields)}
    props: dict[str, Any] = {}
    navigation: list[str] = []
    pattern = re.compile(
        r'"(?P<json>[^"]+)": lambda n : setattr\(self, \'(?P<attr>\w+)\', n\.(?P<fn>get_\w+)\((?P<arg>[\w.]*)\)\)'
    )
    for m in pattern.finditer(fields):
        json_name, attr, fn, arg = m.group("json"), m.group("attr"), m.group("fn"), m.group("arg")
        if json_name.startswith("@"):
            continue
        prop: dict[str, Any] = {}
        if fn in _EDM:
            prop["type"] = _EDM[fn]
        elif fn == "get_collection_of_primitive_values":
            prop["type"], prop["collection"] = _PRIMITIVE_ARGS[arg], True
        else:
            target = getattr(importlib.import_module(f"msgraph.generated.models.{imports[arg]}"), arg)
            if issubclass(target, enum.Enum):
                prop["type"] = _graph_name(target)
                prop["enum"] = [member.value for member in target]
            elif issubclass(target, entity):
                navigation.append(json_name)
                continue
            else:
                prop["type"] = _graph_type(target, out, required)
            if fn.startswith("get_collection_of_") and "list[" in annotations.get(attr, "list["):
                prop["collection"] = True
            elif fn == "get_collection_of_enum_values":  # a flags enum: one comma-separated string
                prop["flags"] = True
        doc = docs.get(attr, "")
        if re.search(r"(?:^|[.!?] )(?:Read-only(?:\.|$)|This property is read-only)", doc):
            prop["readOnly"] = True
        if re.search(
            r"(?:^|[.!?] )(?:Required\.|This property (?:is required|must be specified) when an? \w+ is created)",
            doc,
        ):
            required.setdefault(name, []).append(json_name)
        props[json_name] = prop
    node["properties"] = dict(sorted(props.items()))
    if navigation:
        node["navigation"] = sorted(navigation)
    return name


def graph_extract(entry: dict[str, Any]) -> dict[str, Any]:
    """The Graph extract of ``entry`` (``roots``: model modules of the written entities)."""
    import importlib
    import importlib.metadata
    import json as _json

    package = Path(importlib.import_module("msgraph").__file__ or "").parent
    lock = _json.loads((package / "generated" / "kiota-lock.json").read_text())
    out: dict[str, Any] = {}
    required: dict[str, list[str]] = {}
    for module_name, class_name in entry["roots"]:
        _graph_type(
            getattr(importlib.import_module(f"msgraph.generated.models.{module_name}"), class_name),
            out,
            required,
        )
    for type_name, names in (entry.get("required") or {}).items():
        required.setdefault(type_name, [])
        required[type_name] += [n for n in names if n not in required[type_name]]
    return {
        "source": "https://github.com/microsoftgraph/msgraph-metadata (clean_v10_openapi/openapi.yaml)",
        "descriptionHash": lock["descriptionHash"],
        "via": f"msgraph-sdk {importlib.metadata.version('msgraph-sdk')} (kiota {lock['kiotaVersion']})",
        "required": {
            k: sorted(v)
            for k, v in sorted(required.items())
            if k in {f"microsoft.graph.{r[1][0].lower()}{r[1][1:]}" for r in entry["roots"]}
        },
        "types": dict(sorted(out.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="offline: verify every vendored file's sha256 and canonical form"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="online: fetch and extract every file, list those that differ from the vendored ones, write nothing",
    )
    args = parser.parse_args(argv)
    manifest = json.loads((HERE / "MANIFEST.json").read_text(encoding="utf-8"))
    bad = 0
    for entry in manifest["files"]:
        graph = entry["kind"] == "graph"
        local = HERE / entry["path"] if graph else HERE / "azure-rest-api-specs" / entry["path"]
        if args.check:
            digest = hashlib.sha256(local.read_bytes()).hexdigest() if local.is_file() else "missing"
            if digest != entry["sha256"]:
                print(f"{entry['path']}: sha256 {digest} != {entry['sha256']}")
                bad += 1
            elif not canonical(entry, local.read_text(encoding="utf-8")):
                print(f"{entry['path']}: not in the extract's canonical form (see README: 'The extract')")
                bad += 1
            continue
        if graph:  # offline: from the installed msgraph-sdk (see graph_extract)
            doc = graph_extract(entry)
        else:
            url = RAW.format(commit=entry["commit"], path=entry["path"])
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (fixed https host)
                upstream = json.loads(response.read())
            doc = upstream if entry["kind"] == "example" else extract(upstream, entry["extract"])
        text = serialise(doc)
        if args.dry_run:
            if not local.is_file() or local.read_text(encoding="utf-8") != text:
                print(f"{entry['path']}: differs from upstream at {entry.get('commit', 'the installed SDK')}")
                bad += 1
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text, encoding="utf-8")
        entry["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    if not args.check and not args.dry_run:
        (HERE / "MANIFEST.json").write_text(
            json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
