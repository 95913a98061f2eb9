"""``prmlab validate`` and ``prmlab schema`` through the real CLI entry point: output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli import main

ROOT = Path(__file__).resolve().parents[3]

GOOD = """\
name: t
target: {kind: local}
apim:
  service: {name: apim-t, sku: BasicV2, publisher_email: a@example.com, publisher_name: T}
"""


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    return code, out, err


def test_valid_lab_prints_ok_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(GOOD, encoding="utf-8")
    assert _run(["validate", "-f", str(lab)], capsys) == (0, f"{lab}: OK (2 resources)\n", "")


def test_default_lab_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["validate", "-f", str(ROOT / "lab.yaml")], capsys)
    assert code == 0
    assert out.splitlines()[0].endswith(": OK (30 resources)")
    assert out.splitlines()[1:] == [
        "  apim.service.name: derived from the local emulator's subscription (shown in the plan)",
        "  server.registry.name: derived from the local emulator's subscription (shown in the plan)",
    ]


def test_an_azure_lab_shows_its_derived_global_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orchestrator.spec.naming import unique_string

    sub, tenant = "6f1d7c0e-5a4b-4c3d-9e8f-102030405060", "11111111-1111-1111-1111-111111111111"
    text = (
        (ROOT / "lab.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "target:\n  kind: local\n",
            f"target:\n  kind: azure\n  subscription_id: {sub}\n  tenant_id: {tenant}\n",
            1,
        )
    )
    lab = tmp_path / "lab.yaml"
    lab.write_text(text, encoding="utf-8")
    (tmp_path / "mcp_server").mkdir()
    code, out, _ = _run(["validate", "-f", str(lab)], capsys)
    uniq = unique_string(sub, "lab-mcp-prm-oauth", "mcp-prm-oauth")
    assert code == 0, out
    assert f"  apim.service.name: apim-mcp-prm-oauth-{uniq} (derived" in out
    assert f"  server.registry.name: crmcpprmoauth{uniq} (derived" in out


def test_invalid_lab_prints_every_issue_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(GOOD.replace("BasicV2", "Gold") + "colour: red\n", encoding="utf-8")
    code, out, err = _run(["validate", "--file", str(lab)], capsys)
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"{lab}:4:32: apim.service.sku: 'Gold' is not supported: must be one of 'Consumption', "
        "'Developer', 'Basic', 'Standard', 'Premium', 'BasicV2', 'StandardV2' or 'PremiumV2'",
        f"{lab}:5:1: colour: unknown key 'colour' (allowed: apim, authorization, entra, managed_identities, "
        "monitoring, name, server, servers, target, verification)",
    ]


def test_yaml_syntax_error_and_missing_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: [t\n", encoding="utf-8")
    code, _, err = _run(["validate", "-f", str(lab)], capsys)
    assert code == 2
    assert err.startswith(f"{lab}:2:1: YAML syntax error: ")
    code, _, err = _run(["validate", "-f", str(tmp_path / "none.yaml")], capsys)
    assert (code, err) == (2, f"{tmp_path / 'none.yaml'}:1:1: file not found\n")


def test_no_traceback_from_the_installed_command(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: t\ntarget: {kind: local}\napim: {service: {name: 1}}\nname: u\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "validate", "-f", str(lab)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert f"{lab}:4:1: name: duplicate key 'name' (first defined at line 1)" in done.stderr.splitlines()


def test_schema_writes_the_models_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "schema.json"
    code, out, _ = _run(["schema", "-o", str(out_file)], capsys)
    assert (code, out) == (0, f"wrote {out_file}\n")
    schema = json.loads(out_file.read_text(encoding="utf-8"))
    assert schema["title"] == "prmlab lab.yaml"
    assert set(schema["required"]) == {"name", "target", "apim"}
    assert out_file.read_text(encoding="utf-8") == (ROOT / "lab.schema.json").read_text(encoding="utf-8")
    code, out, _ = _run(["schema", "-o", "-"], capsys)
    assert code == 0
    assert json.loads(out) == schema


def test_the_spec_and_the_cli_import_no_heavy_package() -> None:
    # `prmlab --help` and `prmlab validate` stay fast: no Azure SDK, Graph SDK, rich, lxml, httpx.
    code = (
        "import sys, orchestrator.cli, orchestrator.spec, orchestrator.graph, orchestrator.commands.validate;"
        "heavy = ('azure', 'msgraph', 'kiota', 'rich', 'lxml', 'httpx', 'msal', 'mcp', 'jinja2');"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
