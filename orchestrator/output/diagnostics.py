"""Errors as a machine-readable document: what a command prints on stdout in JSON mode
(``--output json`` / ``--json``) when it fails, and what ``prmlab validate --output json`` prints.

Flow: ``cli.main`` catches the ``PrmlabError`` (or a usage error) a command raised and, in JSON
mode, prints ``error_document(...)`` instead of the text message; ``commands/validate`` prints
``validate_document``. Shaped like ``terraform validate -json`` (one diagnostic per problem;
lab.yaml problems carry file, line, column and YAML path); ``DIAGNOSTICS_SCHEMA`` is the
contract (docs/json-output.md, ``docs/schemas/diagnostics.schema.json``). Pure.
"""

from __future__ import annotations

from typing import Any

from orchestrator.errors import (
    LockError,
    PrmlabError,
    RenderError,
    ResourceError,
    SpecError,
    TargetError,
    VerificationError,
)
from orchestrator.output.format import FORMAT_VERSION

# The kind of each diagnostic: which part of the run refused.
KINDS = ("spec", "render", "target", "resource", "lock", "verification", "usage", "interrupted", "error")


def _kind(exc: PrmlabError) -> str:
    for cls, kind in (
        (SpecError, "spec"),
        (RenderError, "render"),
        (TargetError, "target"),
        (ResourceError, "resource"),
        (LockError, "lock"),
        (VerificationError, "verification"),
    ):
        if isinstance(exc, cls):
            return kind
    return "error"


def diagnostic(
    kind: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    column: int | None = None,
    path: str | None = None,
    resource: str | None = None,
) -> dict[str, Any]:
    return {
        "severity": "error",
        "kind": kind,
        "message": message,
        "file": file,
        "line": line,
        "column": column,
        "path": path,
        "resource": resource,
    }


def diagnostics_of(exc: PrmlabError, clean: Any = str) -> list[dict[str, Any]]:
    """One diagnostic per lab.yaml issue, else one for the error; ``clean`` makes text printable
    and redacted (``cli`` passes the same function it uses for the text message)."""
    if isinstance(exc, SpecError):
        return [
            diagnostic(
                "spec",
                clean(i.message),
                file=clean(i.file),
                line=i.line,
                column=i.column,
                path=clean(i.path) or None,
            )
            for i in exc.issues
        ]
    resource = clean(exc.resource) if isinstance(exc, ResourceError) else None
    return [diagnostic(_kind(exc), clean(exc.message), resource=resource)]


def error_document(command: str, diagnostics: list[dict[str, Any]], exit_code: int) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "command": command,
        "ok": False,
        "error_count": len(diagnostics),
        "diagnostics": diagnostics,
        "exit_code": exit_code,
    }


def validate_document(resources: int) -> dict[str, Any]:
    """``prmlab validate --output json`` on a valid lab (an invalid one is an ``error_document``)."""
    return {
        "format_version": FORMAT_VERSION,
        "command": "validate",
        "ok": True,
        "error_count": 0,
        "diagnostics": [],
        "resources": resources,
        "exit_code": 0,
    }


_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}
DIAGNOSTICS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "prmlab diagnostics (a failed command in JSON mode; prmlab validate --output json)",
    "type": "object",
    "required": ["format_version", "command", "ok", "error_count", "diagnostics", "exit_code"],
    "additionalProperties": False,
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "command": {"type": "string", "description": "the subcommand that ran, e.g. reconcile"},
        "ok": {"type": "boolean", "description": "true only for a valid lab in prmlab validate"},
        "error_count": {"type": "integer", "minimum": 0},
        "resources": {"type": "integer", "description": "validate: resources in the lab"},
        "exit_code": {"type": "integer", "description": "the process's exit code"},
        "diagnostics": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["severity", "kind", "message", "file", "line", "column", "path", "resource"],
                "additionalProperties": False,
                "properties": {
                    "severity": {"const": "error"},
                    "kind": {"enum": list(KINDS)},
                    "message": {"type": "string"},
                    "file": {**_NULLABLE_STRING, "description": "lab.yaml problems: the file"},
                    "line": {**_NULLABLE_INT, "description": "1-based line in file"},
                    "column": {**_NULLABLE_INT, "description": "1-based column in file"},
                    "path": {**_NULLABLE_STRING, "description": "the YAML path, e.g. apim.apis.mcp.path"},
                    "resource": {**_NULLABLE_STRING, "description": "resource errors: its address"},
                },
            },
        },
    },
}
