"""Every machine-readable document prmlab prints, by name, with its JSON Schema (pure).

The committed ``docs/schemas/<name>.schema.json`` files are ``schema_files()`` (a test fails
when they are stale; regenerate with ``python -m orchestrator.output.schemas``); the tests
validate the commands' real output against those files. docs/json-output.md describes them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.output.diagnostics import DIAGNOSTICS_SCHEMA
from orchestrator.output.graph_text import GRAPH_SCHEMA
from orchestrator.output.json_doc import JSON_SCHEMA, OUTPUT_SCHEMA, VERIFY_SCHEMA
from orchestrator.output.state_doc import STATE_SCHEMA

SCHEMAS: Mapping[str, Mapping[str, Any]] = {
    "diagnostics": DIAGNOSTICS_SCHEMA,
    "reconcile": JSON_SCHEMA,
    "verify": VERIFY_SCHEMA,
    "output": OUTPUT_SCHEMA,
    "state": STATE_SCHEMA,
    "graph": GRAPH_SCHEMA,
}

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def schema_files() -> dict[str, str]:
    """File name -> text (stable key order, trailing newline)."""
    return {
        f"{name}.schema.json": json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for name, schema in SCHEMAS.items()
    }


def main(folder: Path = SCHEMA_DIR) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in schema_files().items():
        (folder / name).write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {folder / name}\n")


if __name__ == "__main__":
    main()
