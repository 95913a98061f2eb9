"""``specs/refresh.py``'s online path, run offline against a fake upstream.

This machine has no network (only package registries), so the refresh has never fetched
Azure/azure-rest-api-specs. These tests stand in for it: ``urllib.request.urlopen`` is replaced
by a fake raw.githubusercontent.com that serves, for each MANIFEST entry at its commit, an
"upstream" file made from the vendored extract plus everything the extract drops (descriptions,
tags, query and common-types parameters, ``default`` error responses, response headers,
``x-ms-enum`` values, definitions and paths not listed). A refresh must then give back every
vendored file and MANIFEST.json byte for byte, and ``--dry-run`` must list exactly the files
whose upstream differs. What these tests cannot tell: whether the vendored transcriptions equal
the real upstream files — only a run with network can (README "Refresh").
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from emulator.contracts import loader

RAW = "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/"
NOTE = "documentation the extract drops"


def _refresh() -> ModuleType:
    spec = importlib.util.spec_from_file_location("specs_refresh", loader.SPECS_DIR / "refresh.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _noisy_schema(node: Any, properties_map: bool = False) -> Any:
    """``node`` with the documentation keys upstream carries (never inside a ``properties`` map's
    keys, which are property names)."""
    if isinstance(node, list):
        return [_noisy_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _noisy_schema(v, properties_map=(k == "properties" and not properties_map))
        for k, v in node.items()
    }
    if properties_map:
        return out
    if "x-ms-enum" in out and "enum" in out:
        out["x-ms-enum"] = {
            **out["x-ms-enum"],
            "values": [{"value": v, "description": NOTE} for v in out["enum"]],
        }
    if "type" in out or "$ref" in out or "properties" in out or "allOf" in out:
        out["description"] = NOTE
    return out


def _noisy_operation(op: dict[str, Any]) -> dict[str, Any]:
    noisy: dict[str, Any] = {"tags": ["T"], "summary": NOTE, "produces": ["application/json"]}
    noisy.update(copy.deepcopy(op))
    noisy["description"] = NOTE
    noisy["parameters"] = [
        {
            "$ref": "../../../../../common-types/resource-management/v5/types.json#/parameters/SubscriptionIdParameter"
        },
        *[_noisy_schema(p) for p in op.get("parameters", [])],
        {"name": "$filter", "in": "query", "required": False, "type": "string", "description": NOTE},
    ]
    noisy["responses"] = {
        **{
            code: {"description": NOTE, **_noisy_schema(r), "headers": {"ETag": {"type": "string"}}}
            for code, r in op.get("responses", {}).items()
        },
        "default": {"description": NOTE, "schema": {"$ref": "#/definitions/ErrorResponse"}},
    }
    noisy["x-ms-odata"] = "#/definitions/Whatever"
    return noisy


def _upstream(vendored: dict[str, Any]) -> dict[str, Any]:
    """A plausible upstream file whose extract is ``vendored``."""
    up: dict[str, Any] = {
        "swagger": vendored.get("swagger", "2.0"),
        "info": {**vendored.get("info", {}), "description": NOTE},
        "host": "management.azure.com",
        "schemes": ["https"],
        "securityDefinitions": {"azure_auth": {"type": "oauth2"}},
        "paths": {
            path: {
                **{m: _noisy_operation(op) for m, op in methods.items()},
                "options": {"operationId": "NotListed", "responses": {"200": {}}},
            }
            for path, methods in vendored.get("paths", {}).items()
        },
    }
    up["paths"]["/not/listed"] = {"get": {"operationId": "NotListed", "responses": {"200": {}}}}
    up["definitions"] = {
        **{name: _noisy_schema(d) for name, d in vendored.get("definitions", {}).items()},
        "NotListed": {"type": "object", "description": NOTE},
    }
    if "parameters" in vendored:
        up["parameters"] = {
            **{name: _noisy_schema(p) for name, p in vendored["parameters"].items()},
            "NotListedParameter": {"name": "x", "in": "query", "type": "string"},
        }
    return up


class _FakeRaw:
    """raw.githubusercontent.com for the MANIFEST's (commit, path) pairs; records what was asked."""

    def __init__(self, specs: Path, change: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        manifest = json.loads((specs / "MANIFEST.json").read_text(encoding="utf-8"))
        self.served: dict[str, bytes] = {}
        self.asked: list[str] = []
        for entry in manifest["files"]:
            if entry["kind"] == "graph":
                continue
            vendored = json.loads(
                (specs / "azure-rest-api-specs" / entry["path"]).read_text(encoding="utf-8")
            )
            doc = vendored if entry["kind"] == "example" else _upstream(vendored)
            if change is not None:
                change(entry["path"], doc)
            self.served[f"{RAW}{entry['commit']}/{entry['path']}"] = json.dumps(doc, indent=2).encode()

    def __call__(self, url: str, timeout: float = 0) -> io.BytesIO:
        self.asked.append(url)
        return io.BytesIO(self.served[url])  # a KeyError is a URL the MANIFEST does not name


def _copy_of_specs(tmp_path: Path) -> Path:
    target = tmp_path / "specs"
    shutil.copytree(loader.SPECS_DIR, target)
    return target


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_online_refresh_reproduces_every_vendored_file_from_upstream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refresh = _refresh()
    specs = _copy_of_specs(tmp_path)
    before = _snapshot(specs)
    fake = _FakeRaw(specs)
    monkeypatch.setattr(refresh, "HERE", specs)
    monkeypatch.setattr(refresh.urllib.request, "urlopen", fake)
    assert refresh.main([]) == 0
    assert sorted(fake.asked) == sorted(fake.served)  # every file fetched, each at its own commit
    after = _snapshot(specs)
    assert [name for name in before if before[name] != after.get(name)] == []
    assert after.keys() == before.keys()


def test_dry_run_lists_the_files_upstream_differs_from_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refresh = _refresh()
    specs = _copy_of_specs(tmp_path)
    before = _snapshot(specs)
    changed = (
        "specification/apimanagement/resource-manager/Microsoft.ApiManagement/"
        "preview/2024-06-01-preview/definitions.json"
    )

    def upstream_grows_an_enum(path: str, doc: dict[str, Any]) -> None:
        if path == changed:  # as if ApiType gained mcp upstream
            base = doc["definitions"]["ApiEntityBaseContract"]["properties"]["type"]
            base["enum"] = [*base["enum"], "mcp"]

    monkeypatch.setattr(refresh, "HERE", specs)
    monkeypatch.setattr(refresh.urllib.request, "urlopen", _FakeRaw(specs))
    assert refresh.main(["--dry-run"]) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(refresh.urllib.request, "urlopen", _FakeRaw(specs, upstream_grows_an_enum))
    assert refresh.main(["--dry-run"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{changed}: differs from upstream at 0beb9fb618654962403fb5fb51d8ba14c8da7abd"
    ]
    assert _snapshot(specs) == before  # a dry run writes nothing


def test_the_refresh_writes_what_upstream_gives_and_check_then_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upstream wins: a refresh at the same commits rewrites a file that differs, updates its
    sha256, and ``--check`` passes on the result."""
    refresh = _refresh()
    specs = _copy_of_specs(tmp_path)
    target = "specification/common-types/resource-management/v2/types.json"

    def upstream_adds_a_property(path: str, doc: dict[str, Any]) -> None:
        if path == target:
            doc["definitions"]["Resource"]["properties"]["extra"] = {"type": "string", "description": NOTE}

    monkeypatch.setattr(refresh, "HERE", specs)
    monkeypatch.setattr(refresh.urllib.request, "urlopen", _FakeRaw(specs, upstream_adds_a_property))
    assert refresh.main([]) == 0
    written = json.loads((specs / "azure-rest-api-specs" / target).read_text(encoding="utf-8"))
    assert written["definitions"]["Resource"]["properties"]["extra"] == {"type": "string"}
    assert refresh.main(["--check"]) == 0
    manifest = json.loads((specs / "MANIFEST.json").read_text(encoding="utf-8"))
    original = json.loads((loader.SPECS_DIR / "MANIFEST.json").read_text(encoding="utf-8"))
    changed = [
        e["path"]
        for e, o in zip(manifest["files"], original["files"], strict=True)
        if e["sha256"] != o["sha256"]
    ]
    assert changed == [target]
