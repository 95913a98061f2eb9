"""Reference resolution: finding refs in specs, values with suffixes, unknown and secret values."""

from __future__ import annotations

import pytest

from orchestrator.errors import PermanentError
from orchestrator.resolve import (
    contains_unknown,
    direct_resolver,
    iter_refs,
    referenced_addresses,
    resolve_refs,
    split_ref,
    value_of,
)
from orchestrator.resource import UNKNOWN, Secret
from orchestrator.spec.values import Ref
from tests.orchestrator.fakes import FakeRef


def test_refs_are_found_in_pydantic_models_mappings_and_sequences() -> None:
    spec = {
        "a": Ref(ref="entra.apps.mcp.client_id"),
        "b": [Ref(ref="server.url", suffix="/cb"), "plain"],
        "c": {"d": (FakeRef("x.y.z"),)},
    }
    assert sorted(r.ref for r in iter_refs(spec)) == ["entra.apps.mcp.client_id", "server.url", "x.y.z"]
    assert referenced_addresses(spec) == frozenset({"entra.apps.mcp", "server", "x.y"})


@pytest.mark.parametrize(("ref", "expected"), [("a.b.c", ("a.b", "c")), ("server.url", ("server", "url"))])
def test_split_ref(ref: str, expected: tuple[str, str]) -> None:
    assert split_ref(ref) == expected


@pytest.mark.parametrize("bad", ["nodot", ".x", "x."])
def test_split_ref_refuses_malformed(bad: str) -> None:
    with pytest.raises(ValueError, match=r"not '<address>\.<output>'"):
        split_ref(bad)


def test_resolution_is_unknown_until_the_outputs_exist_and_suffix_is_left_to_value_of() -> None:
    spec = {"url": FakeRef("srv.main.url", "/cb")}
    assert resolve_refs(spec, {}) == {"srv.main.url": UNKNOWN}
    resolved = resolve_refs(spec, {"srv.main": {"url": "https://h"}})
    assert resolved == {"srv.main.url": "https://h"}
    assert value_of(spec["url"], resolved) == "https://h/cb"
    assert value_of(spec["url"], {}) is UNKNOWN


def test_secret_values_stay_secret_with_a_suffix() -> None:
    ref = FakeRef("kv.main.key", "-x")
    value = value_of(ref, {"kv.main.key": Secret("s")})
    assert isinstance(value, Secret)
    assert value.reveal() == "s-x"
    assert "s-x" not in repr(value)


def test_a_missing_output_of_an_existing_resource_is_an_error_naming_both_ends() -> None:
    with pytest.raises(PermanentError, match=r"srv\.main has no output 'fqdn' \(it has: url\)"):
        direct_resolver(FakeRef("srv.main.fqdn"), {"srv.main": {"url": "u"}})


def test_contains_unknown_looks_inside_containers() -> None:
    assert contains_unknown({"a": [1, {"b": UNKNOWN}]})
    assert not contains_unknown({"a": [1, {"b": "x"}]})
