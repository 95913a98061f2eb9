"""``prmlab state``'s listing: ids, leftovers marked, the JSON document valid."""

from __future__ import annotations

import json

import jsonschema

from orchestrator.output.schemas import SCHEMA_DIR
from orchestrator.output.state_doc import entries, state_document, state_text
from orchestrator.resource import Actual

ACTUALS = {
    "api.mcp": Actual("api.mcp", "api", "mcp", {}, handle="/subscriptions/s/.../apis/mcp"),
    "api_policy.mcp": Actual(
        "api_policy.mcp", "api_policy", "policy", {"@id": "/x/apis/mcp/policies/policy"}
    ),
    "api.old": Actual("api.old", "api", "old", {}, handle="/subscriptions/s/.../apis/old"),
    "entra_app.mcp": Actual("entra_app.mcp", "entra_app", "mcp app", {}, handle="obj-1", note="soft-deleted"),
}


def test_entries_carry_ids_and_mark_leftovers() -> None:
    found = entries(ACTUALS, frozenset({"api.mcp", "api_policy.mcp", "entra_app.mcp"}))
    assert [e.address for e in found] == sorted(ACTUALS)
    by = {e.address: e for e in found}
    assert by["api_policy.mcp"].id == "/x/apis/mcp/policies/policy"
    assert by["entra_app.mcp"].id == "obj-1"
    assert not by["api.old"].in_lab
    text = state_text(found, "lab", "local")
    assert "api.old" in text
    assert "the next reconcile deletes it" in text
    assert text.endswith("4 resources owned by lab 'lab' on the local target.\n")
    doc = state_document("lab", "local", found)
    jsonschema.validate(doc, json.loads((SCHEMA_DIR / "state.schema.json").read_text(encoding="utf-8")))


def test_nothing_owned_says_so() -> None:
    assert state_text([], "lab", "local") == "lab 'lab' owns nothing on its local target.\n"
