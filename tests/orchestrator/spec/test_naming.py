"""Azure's naming rules per kind (Learn, "Naming rules and restrictions for Azure resources") and
the derived global names. The refusals at line:col across every kind: ``cases/bad_labs.yaml``,
"Azure naming rules of every kind the lab creates"."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.spec import load_lab, parse_lab
from orchestrator.spec.defaults import derived_names, with_global_names
from orchestrator.spec.naming import GLOBAL_KINDS, RULES, default_name, explain, problems, unique_string

ROOT = Path(__file__).resolve().parents[3]
SUB = "6f1d7c0e-5a4b-4c3d-9e8f-102030405060"


@pytest.mark.parametrize(
    ("kind", "name", "why"),
    [
        # the names issue 16 found accepted
        ("container_app", "mcp-prm-oauth-server--with-45-characters-here", "45 characters long"),
        ("container_app", "mcp--server", "must not contain '--'"),
        ("log_analytics_workspace", "log", "3 characters long (allowed: 4-63)"),
        ("managed_identity", "id", "2 characters long (allowed: 3-128)"),
        ("resource_group", "rg.", "must not end with '.'"),
        # and the other rules of every kind
        ("apim_service", "apim_lab", "has '_'"),
        ("apim_service", "a" * 51, "51 characters long"),
        ("apim_api", "-mcp", "must start with a letter"),
        ("apim_named_value", "Tenant.Id", "has '.'"),
        ("container_registry", "crlab-1", "has '-'"),
        ("storage_account", "stLab", "has 'L'"),
        ("storage_table", "ab", "2 characters long"),
        ("container_environment", "cae-", "must end with a lower-case letter or digit"),
        ("app_insights", "appi.", "must not end with ' ' or '.'"),
    ],
)
def test_a_name_azure_refuses_is_refused_saying_why(kind: str, name: str, why: str) -> None:
    message = explain(kind, name)
    assert message is not None
    assert why in message
    assert RULES[kind].source in message  # the Learn section it comes from


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("resource_group", "lab-mcp-prm-oauth"),
        ("resource_group", "Grüße_(1).x"),  # letters as .NET's Char.IsLetterOrDigit
        ("managed_identity", "id-mcp-prm-oauth-server"),
        ("log_analytics_workspace", "log-mcp-prm-oauth"),
        ("app_insights", "appi mcp (prm)"),
        ("apim_service", "a"),
        ("apim_api", "mcp-prm-dynamic-discovery"),
        ("container_registry", "CrMcp01"),
        ("container_app", "mcp-prm-oauth-server"),
        ("container_environment", "cae-mcp-prm-oauth"),
        ("storage_account", "st0123456789abcdefghijkl"),
        ("storage_table", "mcpclients"),
    ],
)
def test_names_azure_accepts_pass(kind: str, name: str) -> None:
    assert problems(RULES[kind], name) == []


def _samples(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_.()/ %&?\\é"
    out = ["", "a", "-", "a-", "a--b", "ab", "abc", "abcd", "x" * 24, "x" * 25, "x" * 63, "x" * 64]
    for _ in range(count):
        out.append(
            "".join(rng.choice(alphabet) for _ in range(rng.choice((1, 2, 3, 4, 5, 8, 30, 33, 51, 61))))
        )
    return out


@pytest.mark.parametrize("kind", sorted(k for k, r in RULES.items() if not r.unicode_letters))
def test_the_schema_pattern_says_what_the_validator_says(kind: str) -> None:
    """The JSON Schema an editor checks against and ``prmlab validate`` agree (fixed seed, count)."""
    rule = RULES[kind]
    regex = re.compile(rule.pattern())
    for name in _samples(seed=16, count=400):
        assert bool(regex.fullmatch(name)) == (problems(rule, name) == []), (kind, name)


def test_unique_string_is_stable_short_and_distinct() -> None:
    first = unique_string(SUB, "lab-mcp-prm-oauth", "mcp-prm-oauth")
    assert re.fullmatch(r"[a-z2-7]{13}", first)
    assert (
        unique_string(SUB.upper(), "LAB-mcp-prm-oauth", "mcp-prm-oauth") == first
    )  # ids compare without case
    others = {
        unique_string(SUB, "other-group", "mcp-prm-oauth"),
        unique_string(SUB, "lab-mcp-prm-oauth", "other-lab"),
        unique_string("00000000-0000-0000-0000-000000000000", "lab-mcp-prm-oauth", "mcp-prm-oauth"),
    }
    assert first not in others
    assert len(others) == 3


@pytest.mark.parametrize("lab_name", ["mcp-prm-oauth", "x", "a" * 63, "9-lives--lab"])
def test_derived_global_names_obey_the_rules(lab_name: str) -> None:
    uniq = unique_string(SUB, "rg", lab_name)
    for kind in GLOBAL_KINDS:
        name = default_name(kind, lab_name, uniq)
        assert explain(kind, name) is None
        assert name.endswith(uniq)


def test_the_default_labs_derive_their_global_names_and_keep_their_positions() -> None:
    gateway = load_lab(ROOT / "labs" / "gateway.yaml", env={})
    names = derived_names(gateway, SUB)
    uniq = unique_string(SUB, "lab-mcp-prm-oauth", "mcp-prm-oauth")
    assert names == {
        "apim.service.name": f"apim-mcp-prm-oauth-{uniq}",
        "server.registry.name": f"crmcpprmoauth{uniq}",
        "authorization.client_store.storage_account": f"stmcpprmoau{uniq}",
    }
    done = with_global_names(gateway, SUB)
    assert done.apim.service.name == names["apim.service.name"]
    assert done.server is not None
    assert done.server.registry is not None
    assert done.server.registry.name == names["server.registry.name"]
    assert done.authorization.client_store is not None
    assert (
        done.authorization.client_store.storage_account == names["authorization.client_store.storage_account"]
    )
    assert done.position("apim", "service") == gateway.position("apim", "service")
    assert done.source == gateway.source


def test_a_name_written_in_lab_yaml_is_kept() -> None:
    text = (ROOT / "lab.yaml").read_text()
    text = text.replace("  service:\n", "  service:\n    name: apim-my-own-name\n", 1)
    lab, _ = parse_lab(text, env={}, base_dir=ROOT)
    assert "apim.service.name" not in derived_names(lab, SUB)
    assert with_global_names(lab, SUB).apim.service.name == "apim-my-own-name"


def test_an_invalid_written_global_name_is_refused_at_its_position() -> None:
    text = (ROOT / "lab.yaml").read_text()
    text = text.replace("  service:\n", "  service:\n    name: apim--\n", 1)
    with pytest.raises(SpecError) as caught:
        parse_lab(text, env={}, base_dir=ROOT)
    (issue,) = caught.value.issues
    assert issue.path == "apim.service.name"
    assert issue.line == text.splitlines().index("    name: apim--") + 1
    assert issue.column == 11
    assert "must end with a letter or digit" in issue.message
