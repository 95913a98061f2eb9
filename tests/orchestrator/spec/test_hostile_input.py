"""Hostile or broken lab.yaml files: a clear issue at file:line:col, never a traceback or a hang.

Each of these crashed ``prmlab validate`` (exit 1 with a traceback), hung, or took seconds and
hundreds of MB before issue 17 (items 12 and 18). Bounded cost is shown by the caps themselves
(size, depth, node count, issue count) and by ``benchmarks/validate_limits.py``, not by timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.spec import load_lab, parse_lab
from orchestrator.spec import models as spec_models
from orchestrator.spec import values as spec_values
from orchestrator.spec.loader import MAX_BYTES, MAX_ISSUES
from orchestrator.spec.yamlsource import MAX_DEPTH, MAX_NODES

REPO = Path(__file__).resolve().parents[3]

BASE = """\
name: t
target: {kind: local}
apim:
  service: {name: apim-t, sku: BasicV2, publisher_email: a@example.com, publisher_name: T}
"""

SERVER = """\
server:
  name: srv
  image: example.azurecr.io/mcp-server:1
  environment: {name: cae-t}
"""


def _issues(text: str, env: dict[str, str] | None = None, tmp_path: Path | None = None) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        parse_lab(text, env=env or {}, base_dir=tmp_path)
    assert caught.value.exit_code == 2
    return list(caught.value.issues)


def _where(issues: list[SpecIssue]) -> list[str]:
    return [f"{i.line}:{i.column}: {i.path}" for i in issues]


def test_a_5000_digit_integer_is_an_issue_at_its_value() -> None:
    issues = _issues(BASE + SERVER + "  port: " + "9" * 5000 + "\n")
    assert _where(issues) == ["9:9: server.port"]
    assert "more than 4300 digits" in issues[0].message
    assert "9999" not in issues[0].message  # the value is never echoed


def test_a_date_like_value_from_the_environment_is_an_issue_at_the_variable() -> None:
    issues = _issues(BASE.replace("name: t\n", "name: ${V}\n"), env={"V": "2001-13-45"})
    assert _where(issues) == ["1:7: name"]
    assert "from the environment" in issues[0].message
    assert "quote the ${...}" in issues[0].message


def test_a_valid_date_from_the_environment_is_a_type_error_not_a_crash() -> None:
    issues = _issues(BASE.replace("name: t\n", "name: ${V}\n"), env={"V": "2001-01-01"})
    assert [f"{_where(issues)[0]}: {issues[0].message}"] == [
        "1:7: name: Input should be a valid string, not a date"
    ]


@pytest.mark.parametrize("style", ["flow", "block"])
def test_nesting_1200_levels_deep_is_refused_at_the_level_that_crosses_the_cap(style: str) -> None:
    if style == "flow":
        text = BASE + "x: " + "[" * 1200 + "]" * 1200 + "\n"
        expected = f"5:{4 + MAX_DEPTH - 1}"  # the first '[' is level 2 (x's value under the root)
    else:
        text = BASE + "".join(" " * i + f"k{i}:\n" for i in range(1200)) + " " * 1200 + "v: 1\n"
        expected = f"{5 + MAX_DEPTH - 1}:{MAX_DEPTH}"
    issues = _issues(text)
    assert [f"{i.line}:{i.column}" for i in issues] == [expected]
    assert issues[0].message == f"nesting deeper than {MAX_DEPTH} levels"


def test_more_nodes_than_the_cap_stop_parsing_early() -> None:
    text = BASE + "x: [" + ", ".join("1" for _ in range(MAX_NODES)) + "]\n"
    issues = _issues(text)
    assert len(issues) == 1
    assert issues[0].line == 5
    assert f"more than {MAX_NODES} values" in issues[0].message


def test_aliases_that_expand_past_the_value_cap_are_one_issue() -> None:
    layers = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    layers += [f"a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 7)]
    issues = _issues(BASE + "\n".join(layers) + "\n")
    assert any("more than 100000 values once aliases are expanded" in i.message for i in issues)


def test_a_300_character_source_folder_is_an_issue_not_an_oserror(tmp_path: Path) -> None:
    text = BASE + SERVER.replace(
        "  image: example.azurecr.io/mcp-server:1\n", "  source: ./" + "a" * 300 + "\n"
    )
    issues = _issues(text, tmp_path=tmp_path)
    assert _where(issues) == ["7:11: server.source"]
    assert "cannot be checked" in issues[0].message


def test_a_nul_character_in_the_source_folder_is_an_issue(tmp_path: Path) -> None:
    text = BASE + SERVER.replace("  image: example.azurecr.io/mcp-server:1\n", '  source: "./a\\0b"\n')
    issues = _issues(text, tmp_path=tmp_path)
    assert _where(issues) == ["7:11: server.source"]
    assert "\x00" not in str(issues[0])


def test_a_raw_nul_byte_is_reported_where_it_is() -> None:
    issues = _issues(BASE + "server:\n  name: ab\x00cd\n")
    assert [(i.line, i.column) for i in issues] == [(6, 11)]
    assert "U+0000" in issues[0].message


def test_control_and_separator_characters_never_reach_the_message_raw() -> None:
    text = BASE + '"bad\\u2028key\\x1b[2J": 1\n'
    issues = _issues(text)
    line = str(issues[0])
    assert "\u2028" not in line
    assert "\x1b" not in line
    assert "bad\\u2028key\\x1b[2J" in line


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "lab.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError) as caught:
        load_lab(fifo, env={})
    assert [str(i) for i in caught.value.issues] == [
        f"{fifo}:1:1: cannot read: not a regular file (lab.yaml must be a file)"
    ]


def test_a_device_is_refused() -> None:
    with pytest.raises(SpecError) as caught:
        load_lab(Path("/dev/urandom"), env={})
    assert "not a regular file" in caught.value.issues[0].message


def test_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_lab(tmp_path, env={})
    assert caught.value.issues[0].message == "cannot read: a folder (lab.yaml must be a file)"


def test_a_file_over_the_size_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(BASE + "extra:\n" + "".join(f"  k{i}: 1\n" for i in range(200_000)), encoding="utf-8")
    assert lab.stat().st_size > MAX_BYTES
    with pytest.raises(SpecError) as caught:
        load_lab(lab, env={})
    assert [(i.line, i.column) for i in caught.value.issues] == [(1, 1)]
    assert "too large" in caught.value.issues[0].message


def test_text_over_the_size_cap_is_refused_in_process_too() -> None:
    issues = _issues(BASE + "#" * MAX_BYTES + "\n")
    assert "too large" in issues[0].message


def test_bytes_that_are_not_utf8_are_reported_at_their_line(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_bytes(BASE.encode() + b"x: \xff\n")
    with pytest.raises(SpecError) as caught:
        load_lab(lab, env={})
    assert [(i.line, i.column) for i in caught.value.issues] == [(5, 4)]


def test_issues_are_capped_with_a_count_of_the_rest() -> None:
    text = BASE + "".join(f"unknown{i}: 1\n" for i in range(3 * MAX_ISSUES))
    issues = _issues(text)
    assert len(issues) == MAX_ISSUES + 1
    assert issues[-1].message == f"... and {2 * MAX_ISSUES} more issues (fix these first)"
    assert [i.line for i in issues[:-1]] == list(range(5, 5 + MAX_ISSUES))


def _scalar_fields(model: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    out: list[tuple[str, FieldInfo]] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        for arg in (annotation, *typing.get_args(annotation)):
            if arg in (int, float, bool):
                out.append((f"{model.__name__}.{name}", info))
    return out


def test_every_number_and_boolean_of_the_lab_models_is_strict() -> None:
    """``port: true`` became 1 and ``enabled: 1`` became True: every int/float/bool field of
    every lab.yaml model must refuse the other types (values.Int / Float / Bool)."""
    models = [
        m
        for module in (spec_models, spec_values)
        for m in vars(module).values()
        if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == module.__name__
    ]
    fields = [f for m in models for f in _scalar_fields(m)]
    assert len(fields) > 15
    lax = [name for name, info in fields if not any(type(m).__name__ == "Strict" for m in info.metadata)]
    assert lax == []


# ------------------------------------------------------------------ the command line


def _validate(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard, not a speed requirement
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.mark.parametrize(
    "case",
    ["date", "int", "bool", "float", "digits", "merge", "self-merge", "deep", "source", "env-date", "nul"],
)
def test_the_command_exits_2_with_file_line_col_and_no_traceback(tmp_path: Path, case: str) -> None:
    server = SERVER.replace("  environment:", "  port: 8000\n  cpu: 0.5\n  environment:")
    texts = {
        "date": BASE.replace("name: t", "name: 2001-13-45"),
        "int": BASE + server.replace("port: 8000", "port: !!int abc"),
        "bool": BASE + "verification: {test_users: [{user_principal_name: a@b.cd, display_name: A}]}\n"
        "x: !!bool maybe\n",
        "float": BASE + server.replace("cpu: 0.5", "cpu: !!float abc"),
        "digits": BASE + server.replace("port: 8000", "port: " + "1" * 5000),
        "merge": BASE + "monitoring:\n  <<: foo\n",
        "self-merge": BASE + "managed_identities: &m\n  <<: *m\n",
        "deep": BASE + "x: " + "[" * 1200 + "]" * 1200 + "\n",
        "source": BASE + server.replace("image: example.azurecr.io/mcp-server:1", "source: " + "s" * 300),
        "env-date": BASE.replace("name: t", "name: ${V}"),
        "nul": BASE + "x: a\x00b\n",
    }
    lab = tmp_path / "lab.yaml"
    lab.write_text(texts[case], encoding="utf-8")
    result = _validate(lab, {"V": "2001-13-45"})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{lab}:")
    line, column = first.removeprefix(f"{lab}:").split(":")[:2]
    assert int(line) >= 1
    assert int(column) >= 1


def test_the_command_refuses_a_fifo_and_a_device(tmp_path: Path) -> None:
    fifo = tmp_path / "lab.yaml"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/urandom")):
        result = _validate(path)
        assert result.returncode == 2
        assert result.stderr == f"{path}:1:1: cannot read: not a regular file (lab.yaml must be a file)\n"
