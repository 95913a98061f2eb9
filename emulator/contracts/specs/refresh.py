"""Re-derive the vendored spec extracts from Azure/azure-rest-api-specs, or check them.

    python emulator/contracts/specs/refresh.py --check     # offline: every file's sha256 matches MANIFEST.json
    python emulator/contracts/specs/refresh.py             # online: fetch each file at its commit, extract, write

The online mode downloads ``https://raw.githubusercontent.com/Azure/azure-rest-api-specs/<commit>/<path>``
for every entry of MANIFEST.json, applies ``extract`` (below) with the entry's lists of paths,
definitions and parameters, writes the result and updates the sha256. A diff after a refresh at
the same commits means a vendored file differs from upstream: the upstream file wins. To move
to a newer commit, change the entry's ``commit`` and run it again. Examples
(``kind: example``) are stored whole (re-serialised the same way).
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
    doc = json.loads(text)
    again = doc if entry["kind"] == "example" else extract(doc, entry["extract"])
    return serialise(again) == text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="offline: verify every vendored file's sha256 and canonical form"
    )
    args = parser.parse_args(argv)
    manifest = json.loads((HERE / "MANIFEST.json").read_text(encoding="utf-8"))
    bad = 0
    for entry in manifest["files"]:
        local = HERE / "azure-rest-api-specs" / entry["path"]
        if args.check:
            digest = hashlib.sha256(local.read_bytes()).hexdigest() if local.is_file() else "missing"
            if digest != entry["sha256"]:
                print(f"{entry['path']}: sha256 {digest} != {entry['sha256']}")
                bad += 1
            elif not canonical(entry, local.read_text(encoding="utf-8")):
                print(f"{entry['path']}: not in the extract's canonical form (see README: 'The extract')")
                bad += 1
            continue
        url = RAW.format(commit=entry["commit"], path=entry["path"])
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (fixed https host)
            upstream = json.loads(response.read())
        doc = upstream if entry["kind"] == "example" else extract(upstream, entry["extract"])
        text = serialise(doc)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(text, encoding="utf-8")
        entry["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    if not args.check:
        (HERE / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
