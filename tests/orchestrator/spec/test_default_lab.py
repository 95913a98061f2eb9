"""The committed default lab.yaml validates, and lab.schema.json is what the models generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from orchestrator.commands.schema import schema_text
from orchestrator.graph import build_graph
from orchestrator.spec import Lab, load_lab

ROOT = Path(__file__).resolve().parents[3]


def _default_lab() -> Lab:
    return load_lab(ROOT / "lab.yaml", env={})


def test_default_lab_validates() -> None:
    lab = _default_lab()
    assert lab.name == "mcp-prm-oauth"
    assert lab.target.kind == "local"
    assert lab.authorization.mode == "entra"
    assert lab.apim.service.name is None  # global: derived from subscription, group and lab
    assert lab.server is not None
    assert lab.server.registry is not None
    assert lab.server.registry.name is None
    assert len(build_graph(lab)) == 30


def test_default_lab_starts_with_the_schema_comment() -> None:
    first = (ROOT / "lab.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./lab.schema.json"


def test_committed_schema_is_not_stale() -> None:
    committed = (ROOT / "lab.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "lab.schema.json is stale: run `prmlab schema`"
    assert json.loads(committed)["additionalProperties"] is False


def _raw_yaml(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


def test_the_schema_accepts_the_default_lab_as_written_with_its_interpolations() -> None:
    validator = Draft202012Validator(json.loads((ROOT / "lab.schema.json").read_text(encoding="utf-8")))
    text = (ROOT / "lab.yaml").read_text(encoding="utf-8")
    assert "${PUBLISHER_EMAIL:-" in text
    assert list(validator.iter_errors(_raw_yaml(text))) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("sku: BasicV2", "sku: Gold"), ["apim", "service", "sku"]),
        (("path: mcp\n", "path: mcp\n      colour: red\n"), ["apim", "apis", "mcp"]),
        (("  kind: local", "  kind: cloud"), ["target"]),
        (("capacity: 1", "capacity: one"), ["apim", "service", "capacity"]),
    ],
)
def test_the_schema_catches_what_an_editor_should_flag(change: tuple[str, str], where: list[str]) -> None:
    validator = Draft202012Validator(json.loads((ROOT / "lab.schema.json").read_text(encoding="utf-8")))
    text = (ROOT / "lab.yaml").read_text(encoding="utf-8")
    assert change[0] in text
    errors = list(validator.iter_errors(_raw_yaml(text.replace(change[0], change[1], 1))))
    assert [list(e.absolute_path) for e in errors] == [where]


def test_the_default_lab_on_azure_in_gateway_mode_validates_too(tmp_path: Path) -> None:
    text = (ROOT / "lab.yaml").read_text(encoding="utf-8")
    local = "target:\n  kind: local\n  resource_group: lab-mcp-prm-oauth\n  location: ukwest\n"
    assert local in text
    azure = (
        "target:\n  kind: azure\n  subscription_id: ${AZURE_SUBSCRIPTION_ID}\n"
        "  tenant_id: ${AZURE_TENANT_ID}\n  resource_group: rg-mcp-prm\n  location: ukwest\n"
    )
    path = tmp_path / "lab.yaml"
    path.write_text(text.replace(local, azure).replace("mode: entra", "mode: gateway"), encoding="utf-8")
    (tmp_path / "mcp_server").mkdir()
    env = {
        "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000001",
        "AZURE_TENANT_ID": "00000000-0000-0000-0000-000000000002",
    }
    lab = load_lab(path, env=env)
    assert lab.target.kind == "azure"
    assert str(lab.target.tenant_id) == env["AZURE_TENANT_ID"]
    assert lab.authorization.mode == "gateway"
    assert len(build_graph(lab)) == 30


def _properties(node: object, path: str = "") -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            found += [(f"{path}.{k}", v) for k, v in props.items()]
        for key, value in node.items():
            found += _properties(value, f"{path}/{key}" if key != "properties" else path)
    elif isinstance(node, list):
        for item in node:
            found += _properties(item, path)
    return found


def test_every_schema_property_is_documented_and_enums_list_their_values() -> None:
    """Issue 19: 28 of 145 properties had a description (the editor's hover docs)."""
    schema = json.loads((ROOT / "lab.schema.json").read_text(encoding="utf-8"))
    properties = _properties(schema)
    assert len(properties) > 140
    undocumented = [path for path, prop in properties if not prop.get("description")]
    assert undocumented == []
    sku = schema["$defs"]["ApimService"]["properties"]["sku"]["description"]
    assert "one of: Consumption, Developer, Basic, Standard, Premium, BasicV2, StandardV2, PremiumV2" in sku
    assert schema["$defs"]["Api"]["properties"]["path"]["examples"] == ["mcp"]


# What ECMAScript's ``u`` mode (VS Code's YAML extension compiles schema patterns so) accepts
# after a backslash: the syntax characters, '/', '-' (in a class), and the escapes with a meaning.
_U_MODE_ESCAPES = frozenset("^$\\.*+?()[]{}|/-" + "dDwWsSbBfnrtv0xuckpP")


def _invalid_u_mode_escapes(pattern: str) -> list[str]:
    bad, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in _U_MODE_ESCAPES:
                bad.append(pattern[i : i + 2])
            i += 2
        else:
            i += 1
    return bad


def _patterns(node: object, where: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        found = [(where, node["pattern"])] if isinstance(node.get("pattern"), str) else []
        for key, value in node.items():
            found += _patterns(value, f"{where}/{key}")
        return found
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _patterns(item, f"{where}/{i}")]
    return []


def test_every_schema_pattern_is_valid_in_ecmascript_unicode_mode() -> None:
    # The App Insights name rule's trailing-character guard was written with re.escape: '\ ' made
    # VS Code refuse the whole pattern ("Invalid escape").
    patterns = _patterns(json.loads((ROOT / "lab.schema.json").read_text(encoding="utf-8")))
    assert patterns
    assert [
        (where, p, _invalid_u_mode_escapes(p)) for where, p in patterns if _invalid_u_mode_escapes(p)
    ] == []


def test_the_u_mode_check_can_fail() -> None:
    assert _invalid_u_mode_escapes(r"^a(?<![\ \.])$") == ["\\ "]
    assert _invalid_u_mode_escapes(r"^[A-Za-z0-9\-]+$") == []
