"""The ``--output json`` document: valid against its published schema, markers, no secrets."""

from __future__ import annotations

import json

import jsonschema
import pytest

from orchestrator.output.json_doc import JSON_SCHEMA, document
from tests.orchestrator.output.test_render import result, sample_plan


def test_plan_only_document_is_valid_and_hides_secrets() -> None:
    doc = document(sample_plan(), None, target="local", dry_run=True, exit_code=2)
    jsonschema.validate(doc, JSON_SCHEMA)
    text = json.dumps(doc)
    assert "hunter2" not in text
    by = {r["address"]: r for r in doc["plan"]["resources"]}
    assert by["nv.key"]["changes"] == [
        {"path": "value", "old": {"sensitive": True}, "new": {"sensitive": True}, "forces_replacement": False}
    ]
    assert by["nv.client"]["changes"] == [
        {"path": "value", "old": None, "new": {"unknown": True}, "forces_replacement": False}
    ]
    assert by["api.old"]["action"] == "delete"
    assert doc["plan"]["counts"] == {"create": 2, "update": 1, "delete": 1, "replace": 1, "no-op": 1}
    assert doc["result"] is None


def test_document_with_result_is_valid() -> None:
    doc = document(sample_plan(), result(), target="local", dry_run=False, exit_code=1)
    jsonschema.validate(doc, JSON_SCHEMA)
    assert doc["result"]["ok"] is False
    assert doc["result"]["counts"]["failed"] == 1
    statuses = {r["address"]: r["status"] for r in doc["result"]["resources"]}
    assert statuses == {
        "app.mcp": "created",
        "nv.key": "failed",
        "api.mcp": "skipped",
        "api.same": "unchanged",
    }


def test_schema_rejects_a_malformed_document() -> None:
    doc = document(sample_plan(), None, target="local", dry_run=True, exit_code=0)
    doc["plan"]["resources"][0]["action"] = "explode"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, JSON_SCHEMA)
