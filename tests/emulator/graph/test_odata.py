"""Graph ``$filter`` / ``$select`` (pure)."""

from __future__ import annotations

import pytest

from emulator.graph.odata import FilterError, compile_filter, select

APP = {
    "appId": "AbC",
    "displayName": "My App",
    "tags": ["prmlab-lab:demo", "x"],
    "api": {"requestedAccessTokenVersion": 2},
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("appId eq 'abc'", True),
        ("appId ne 'abc'", False),
        ("tags/any(t:t eq 'prmlab-lab:demo')", True),
        ("tags/any(t:t eq 'nope')", False),
        ("tags/all(t:startswith(t, 'p'))", False),
        ("api/requestedAccessTokenVersion eq 2 and startswith(displayName,'my')", True),
        ("not (appId eq 'abc') or displayName eq 'MY APP'", True),
        ("displayName eq 'it''s'", False),
        ("uniqueName eq null", True),
    ],
)
def test_filters(expr: str, expected: bool) -> None:
    assert compile_filter(expr)(APP) is expected


@pytest.mark.parametrize(
    "expr", ["appId eq", "appId foo 'x'", "appId eq 'x' extra", "(appId eq 'x'", "tags/any(t:t eq 'x'"]
)
def test_bad_filters(expr: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(expr)


def test_select() -> None:
    assert select(APP, "appid, tags") == {"appId": "AbC", "tags": ["prmlab-lab:demo", "x"]}
    assert select(APP, None) == APP
