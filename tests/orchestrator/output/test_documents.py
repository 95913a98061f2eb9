"""The documented schemas (docs/schemas/) are current, and the documents the pure builders make
are valid against them; a wrong document is refused (the schemas are not vacuous)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from orchestrator.errors import PermanentError, SpecError, SpecIssue, TargetError
from orchestrator.output.diagnostics import diagnostics_of, error_document, validate_document
from orchestrator.output.format import FORMAT_VERSION
from orchestrator.output.json_doc import document, output_document, verify_document
from orchestrator.output.lab_outputs import DESCRIPTIONS
from orchestrator.output.schemas import SCHEMA_DIR, SCHEMAS, schema_files
from tests.orchestrator.output.test_render import result, sample_plan


def documented(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return loaded


def test_the_committed_schemas_are_current() -> None:
    files = schema_files()
    assert sorted(files) == sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json"))
    for name, text in files.items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == text, (
            f"docs/schemas/{name} is stale: run python -m orchestrator.output.schemas"
        )


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_is_a_valid_schema_with_the_format_version(name: str) -> None:
    schema = documented(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["format_version"] == {"const": FORMAT_VERSION}
    assert "format_version" in schema["required"]


def test_spec_errors_are_one_diagnostic_per_issue_with_their_place() -> None:
    error = SpecError(
        [
            SpecIssue("lab.yaml", 3, 5, "apim.apis.mcp.path", "must not start with '/'"),
            SpecIssue("lab.yaml", 1, 1, "", "required key 'target' is missing"),
        ]
    )
    doc = error_document("validate", diagnostics_of(error), 2)
    jsonschema.validate(doc, documented("diagnostics"))
    assert doc["error_count"] == 2
    assert doc["diagnostics"][1] == {
        "severity": "error",
        "kind": "spec",
        "message": "must not start with '/'",
        "file": "lab.yaml",
        "line": 3,
        "column": 5,
        "path": "apim.apis.mcp.path",
        "resource": None,
    }
    assert doc["diagnostics"][0]["path"] is None  # a file-level issue has no YAML path


def test_other_errors_are_one_diagnostic_of_their_kind() -> None:
    target = diagnostics_of(TargetError("cannot reach the emulator"))
    assert [(d["kind"], d["message"]) for d in target] == [("target", "cannot reach the emulator")]
    resource = diagnostics_of(PermanentError("api.mcp", "400 bad"))
    assert (resource[0]["kind"], resource[0]["resource"]) == ("resource", "api.mcp")
    for found in (target, resource):
        jsonschema.validate(error_document("reconcile", found, 1), documented("diagnostics"))


def test_the_diagnostics_schema_refuses_a_wrong_document() -> None:
    doc = error_document("validate", diagnostics_of(TargetError("x")), 1)
    del doc["diagnostics"][0]["line"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, documented("diagnostics"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**validate_document(3), "format_version": 0}, documented("diagnostics"))


def test_validate_document_is_valid() -> None:
    jsonschema.validate(validate_document(26), documented("diagnostics"))


def test_reconcile_document_embeds_verification_and_outputs() -> None:
    verification = {"ok": True, "checks": [{"name": "discovery.prm", "outcome": "pass", "detail": ""}]}
    outputs: dict[str, Any] = dict.fromkeys(DESCRIPTIONS) | {"mcp_urls": {}, "prm_urls": {}, "client_ids": {}}
    outputs["mcp_url"] = "https://127.0.0.1:1/mcp"
    doc = document(
        sample_plan(),
        result(),
        target="local",
        dry_run=False,
        exit_code=0,
        verification=verification,
        outputs=outputs,
    )
    jsonschema.validate(doc, documented("reconcile"))
    assert doc["verification"]["checks"][0]["outcome"] == "pass"
    assert doc["outputs"]["mcp_url"] == "https://127.0.0.1:1/mcp"
    missing = dict(outputs)
    del missing["prm_url"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "outputs": missing}, documented("reconcile"))
    bad = {**verification, "checks": [{"name": "x", "outcome": "maybe", "detail": ""}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "verification": bad}, documented("reconcile"))


def test_verify_and_output_documents_are_valid() -> None:
    checks = {"ok": False, "checks": [{"name": "forged.none", "outcome": "fail", "detail": "200"}]}
    jsonschema.validate(verify_document("lab", "local", checks, 1), documented("verify"))
    doc = output_document("lab", "local", {"mcp_url": "https://127.0.0.1:1/mcp"})
    jsonschema.validate(doc, documented("output"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(output_document("lab", "local", {"nope": 1}), documented("output"))


def test_schema_dir_is_docs_schemas() -> None:
    assert Path(__file__).resolve().parents[3] / "docs" / "schemas" == SCHEMA_DIR
