"""Loading behaviour beyond single bad labs: all issues at once, interpolation, secrets, marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from orchestrator.errors import SpecError
from orchestrator.spec import EnvVar, Lab, NamedValueToken, Ref, load_lab, parse_lab
from orchestrator.spec.interpolate import interpolate

BASE = """\
name: t
target: {kind: local}
apim:
  service: {name: apim-t, sku: BasicV2, publisher_email: a@example.com, publisher_name: T}
"""


def _load(text: str, env: dict[str, str] | None = None, tmp_path: Path | None = None) -> Lab:
    lab, _ = parse_lab(text, env=env or {}, base_dir=tmp_path)
    return lab


def _issues(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_lab(text, env=env or {})
    return [f"{i.line}:{i.column}: {i.path}" for i in caught.value.issues]


def test_every_kind_of_issue_in_one_file_is_reported_at_once() -> None:
    text = """\
name: t
target: {kind: local}
name: again
apim:
  service: {name: apim-t, sku: Gold, publisher_email: a@example.com, publisher_name: "${NOPE}"}
  named_values:
    A: {value: {ref: entra.apps.x.client_id}}
  apis:
    a: {display_name: A, path: a, backend: b, colour: red}
    b: {display_name: B, path: a}
"""
    assert _issues(text) == [
        "3:1: name",  # duplicate key
        "5:32: apim.service.sku",  # unsupported SKU
        "5:87: apim.service.publisher_name",  # missing environment variable
        "7:22: apim.named_values.A.value.ref",  # dangling reference
        "9:44: apim.apis.a.backend",  # unknown backend
        "9:47: apim.apis.a.colour",  # unknown key
        "10:32: apim.apis.b.path",  # duplicate path
    ]


def test_the_sorted_message_lines_name_the_file_line_column_and_path(tmp_path: Path) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text(BASE + "extra: 1\n", encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_lab(lab, env={})
    assert caught.value.message.startswith(f"{lab}:5:1: extra: unknown key 'extra'")


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
        ("${A:-d}", {}, "d"),
        ("${A:-d}", {"A": ""}, "d"),  # empty counts as unset with ':-', as in a shell
        ("${A}", {"A": ""}, ""),
        ("$${A}", {"A": "x"}, "${A}"),  # escape
        ("cost: $5", {}, "cost: $5"),  # a lone '$' is text
        ("${A:-http://h:1/p}", {}, "http://h:1/p"),
    ],
)
def test_interpolation(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == (expected, ())


def test_interpolation_reports_every_missing_variable_with_its_offset() -> None:
    value, issues = interpolate("${A} and ${B} and ${1x}", {})
    assert value == " and  and "
    assert [(i.offset, i.message.split(" (")[0]) for i in issues] == [
        (0, "environment variable A is not set"),
        (9, "environment variable B is not set"),
        (18, "invalid variable name '1x' in '${1x}'"),
    ]


def test_an_interpolated_plain_scalar_is_typed_again_but_a_quoted_one_stays_a_string() -> None:
    # (In a flow mapping {...} a plain ${VAR} is a YAML error: '{' is a flow indicator there.)
    text = BASE.replace(
        "  service: {name: apim-t, sku: BasicV2, publisher_email: a@example.com, publisher_name: T}",
        "  service:\n    name: apim-t\n    sku: BasicV2\n    publisher_email: a@example.com\n"
        "    capacity: ${CAP:-2}\n    publisher_name: '${CAP:-2}'",
    )
    lab = _load(text)
    assert lab.apim.service.capacity == 2
    assert lab.apim.service.publisher_name == "2"


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRMLAB_TEST_PUBLISHER", "From Env")
    lab, _ = parse_lab(BASE.replace("publisher_name: T", 'publisher_name: "${PRMLAB_TEST_PUBLISHER}"'))
    assert lab.apim.service.publisher_name == "From Env"


def test_references_and_tokens_are_typed_objects() -> None:
    lab = _load(
        BASE
        + """\
  named_values:
    Id: {value: {ref: apim.service.gateway_url, suffix: /x}}
  apis:
    a:
      display_name: A
      path: a
      policy:
        template: prm
        variables: {resource: {ref: apim.apis.a.url}, scopes_supported: [1, {named_value: Id}], authorization_servers: [], resource_name: true}
"""
    )
    value = lab.apim.named_values["Id"].value
    assert value == Ref(ref="apim.service.gateway_url", suffix="/x")
    assert isinstance(value, Ref)
    assert (value.address, value.output) == ("apim.service", "gateway_url")
    policy = lab.apim.apis["a"].policy
    assert policy is not None
    assert policy.variables["scopes_supported"] == (1, NamedValueToken(named_value="Id"))
    assert policy.variables["resource_name"] is True


def test_secret_values_are_secretstr_and_never_printed(tmp_path: Path) -> None:
    secret = "s3cr3t-value-123"
    text = (
        BASE
        + """\
  named_values:
    Key: {value: "${KEY}", secret: true}
server:
  name: srv
  image: example.com/srv:1
  environment: {name: cae-t}
  env:
    TOKEN: {value: "${KEY}", secret: true}
    PLAIN: hello
verification:
  test_users:
    - {user_principal_name: a@t.example, display_name: A, password: "${KEY}"}
"""
    )
    lab = _load(text, env={"KEY": secret})
    nv = lab.apim.named_values["Key"].value
    assert isinstance(nv, SecretStr)
    assert nv.get_secret_value() == secret
    assert lab.server is not None
    env_var = lab.server.env["TOKEN"]
    assert isinstance(env_var, EnvVar)
    assert isinstance(env_var.value, SecretStr)
    password = lab.verification.test_users[0].password
    assert password is not None
    assert password.get_secret_value() == secret
    for shown in (repr(lab), str(lab), lab.model_dump_json()):
        assert secret not in shown
    # An error in the same entries never echoes the secret either.
    bad = text.replace("secret: true}", "secret: true, colour: red}").replace("PLAIN: hello", "PLAIN: [5]")
    with pytest.raises(SpecError) as caught:
        parse_lab(bad, env={"KEY": secret})
    assert len(caught.value.issues) == 3
    assert secret not in caught.value.message


def test_a_secret_value_in_the_wrong_shape_is_not_echoed() -> None:
    secret = "another-secret-987"
    text = BASE + '  named_values:\n    Key: {value: ["${KEY}"], secret: true}\n'
    with pytest.raises(SpecError) as caught:
        parse_lab(text, env={"KEY": secret})
    assert secret not in caught.value.message


def test_the_loaded_lab_knows_its_file_and_positions(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(BASE, encoding="utf-8")
    lab = load_lab(path, env={})
    assert lab.source == path.resolve()
    assert lab.base_dir == tmp_path.resolve()
    assert lab.position("apim", "service", "sku") == (4, 32)
    assert Lab.model_validate(lab.model_dump()).position("apim") is None


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_lab(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(SpecError, match="the file is empty"):
        load_lab(empty)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n", encoding="utf-8")
    with pytest.raises(SpecError, match="a lab must be a mapping"):
        load_lab(scalar)


def test_anchors_aliases_and_merge_keys_work() -> None:
    lab = _load(
        BASE
        + """\
  backends:
    one: &b {url: "https://one.example.com", description: shared}
    two:
      <<: *b
      url: "https://two.example.com"
"""
    )
    assert lab.apim.backends["two"].url == "https://two.example.com"
    assert lab.apim.backends["two"].description == "shared"


def test_models_are_frozen() -> None:
    lab = _load(BASE)
    with pytest.raises(ValueError, match="frozen"):
        lab.apim.service.sku = "Premium"  # type: ignore[misc]


def test_numbers_and_booleans_in_text_settings_become_text() -> None:
    lab = _load(
        BASE
        + """\
  named_values:
    Port: {value: 8000}
    Flag: {value: true}
    Pin: {value: 1234, secret: true}
server:
  name: srv
  image: example.com/srv:1
  environment: {name: cae-t}
  env: {PORT: 8000, DEBUG: false, RATIO: 0.5}
"""
    )
    assert lab.apim.named_values["Port"].value == "8000"
    assert lab.apim.named_values["Flag"].value == "true"
    pin = lab.apim.named_values["Pin"].value
    assert isinstance(pin, SecretStr)
    assert pin.get_secret_value() == "1234"
    assert lab.server is not None
    assert dict(lab.server.env) == {"PORT": "8000", "DEBUG": "false", "RATIO": "0.5"}


def test_ref_str_reads_like_yaml() -> None:
    assert str(Ref(ref="server.url", suffix="/mcp")) == "{ref: server.url, suffix: /mcp}"
    assert str(Ref(ref="server.url")) == "{ref: server.url}"


def test_alias_expansion_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(SpecError) as caught:
        parse_lab("\n".join(lines) + "\n", env={})
    assert [i.message for i in caught.value.issues if "aliases" in i.message] == [
        "more than 100000 values once aliases are expanded"
    ]
