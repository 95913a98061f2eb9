"""JSON mode and exit codes of every command, through the real entry point (``cli.main``).

In JSON mode stdout is exactly one JSON document, valid against its documented schema
(docs/schemas/), also when the command fails; with ``--detailed-exitcode`` exit code 2 means
changes and nothing else (an invalid lab or a usage error exits 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from orchestrator.cli import main
from orchestrator.output.schemas import SCHEMA_DIR

BAD = "name: t\ntarget: {kind: local}\ncolour: red\n"


def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    return loaded


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    assert isinstance(exited.value.code, int)
    return exited.value.code, out, err


@pytest.fixture
def bad_lab(tmp_path: Path) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(BAD, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "--output", "json"],
        ["validate", "--json"],
        ["reconcile", "--output=json"],
        ["reconcile", "--dry-run", "--output", "json"],
        ["verify", "--output", "json"],
        ["output", "--json"],
        ["output", "mcp_url", "--output", "json"],
        ["state", "--json"],
        ["graph", "--format", "json"],
        ["graph", "--json"],
    ],
)
def test_an_invalid_lab_is_a_diagnostics_document_on_stdout(
    argv: list[str], bad_lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run([*argv, "-f", str(bad_lab)], capsys)
    assert code == 2
    doc = json.loads(out)  # exactly one document, nothing else on stdout
    jsonschema.validate(doc, schema("diagnostics"))
    assert doc["command"] == argv[0]
    assert doc["exit_code"] == 2
    assert doc["ok"] is False
    (colour,) = [d for d in doc["diagnostics"] if d["path"] == "colour"]
    assert (colour["file"], colour["line"], colour["column"], colour["kind"]) == (str(bad_lab), 3, 1, "spec")
    assert "unknown key 'colour'" in colour["message"]
    assert {d["path"] for d in doc["diagnostics"]} >= {"apim", "colour"}
    assert err == ""


def test_text_mode_keeps_the_errors_on_stderr(bad_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "-f", str(bad_lab)], capsys)
    assert (code, out) == (2, "")
    assert f"{bad_lab}:3:1: colour: unknown key 'colour'" in err


def test_the_last_output_flag_wins_as_for_click(bad_lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", "--json", "--output", "text", "-f", str(bad_lab)], capsys)
    assert (code, out) == (2, "")
    assert "colour" in err


def test_a_usage_error_in_json_mode_is_a_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["reconcile", "--output", "json", "--bogus"], capsys)
    assert code == 2
    doc = json.loads(out)
    jsonschema.validate(doc, schema("diagnostics"))
    assert doc["diagnostics"][0]["kind"] == "usage"
    assert "--bogus" in doc["diagnostics"][0]["message"]


def test_an_unknown_output_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["output", "nope", "--json"], capsys)
    assert code == 2
    assert "mcp_url" in json.loads(out)["diagnostics"][0]["message"]  # the names are listed


def test_detailed_exitcode_keeps_2_for_changes_only(
    bad_lab: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # without the flag an invalid lab is 2 (as for validate) ...
    assert run(["reconcile", "--dry-run", "-f", str(bad_lab)], capsys)[0] == 2
    # ... with it, 1: 2 would say "changes pending"
    code, out, err = run(["reconcile", "--dry-run", "--detailed-exitcode", "-f", str(bad_lab)], capsys)
    assert (code, out) == (1, "")
    assert "colour" in err
    code, out, _ = run(
        ["reconcile", "--dry-run", "--detailed-exitcode", "--output", "json", "-f", str(bad_lab)], capsys
    )
    assert code == 1
    assert json.loads(out)["exit_code"] == 1
    # a usage error too
    assert run(["reconcile", "--detailed-exitcode", "--parallelism", "0"], capsys)[0] == 1
    assert run(["reconcile", "--parallelism", "0"], capsys)[0] == 2


def test_render_output_is_a_folder_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # render's -o/--output names a folder: `--output json` there is no request for JSON
    code, out, err = run(["render", "-f", str(tmp_path / "missing.yaml"), "--output", "json"], capsys)
    assert (code, out) == (2, "")
    assert "file not found" in err
