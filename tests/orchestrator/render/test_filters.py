"""Filters, unit by unit (the special values included)."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from orchestrator.render import NamedValueRef
from orchestrator.render.filters import (
    absolute_uri,
    http_url,
    nonempty,
    quoted_string,
    scope_claim,
    scope_token,
    tojson,
)
from orchestrator.render.values import ValueRefusedError
from orchestrator.resource import UNKNOWN


def test_tojson_escapes_for_xml_content() -> None:
    assert tojson({"a": "<&>", "b": ["x"], "c": 1, "d": True}) == Markup(
        '{"a": "&lt;&amp;&gt;", "b": ["x"], "c": 1, "d": true}'
    )
    assert tojson([NamedValueRef("N"), UNKNOWN]) == '["{{N}}", "(known after apply)"]'
    assert tojson(Markup("a&amp;b")) == '"a&amp;b"'  # markup is unescaped first: no double escape


def test_tojson_refuses_other_objects() -> None:
    with pytest.raises(ValueRefusedError, match="cannot write a object as JSON"):
        tojson(object())


def test_quoted_string() -> None:
    assert quoted_string('a"b\\c') == 'a\\"b\\\\c'
    assert quoted_string(NamedValueRef("N")) == NamedValueRef("N")
    assert quoted_string(UNKNOWN) is UNKNOWN
    assert quoted_string(Markup("&#34;")) == Markup("\\&#34;")


@pytest.mark.parametrize("url", ["https://h/mcp", "http://127.0.0.1:8080/x?q=1", "https://h"])
def test_http_url_accepts(url: str) -> None:
    assert http_url(url) == url


@pytest.mark.parametrize(
    "url", ["h/mcp", "ftp://h/x", "https://h/x#f", "https://h/x#", "https:///x", "https://h/a b"]
)
def test_http_url_refuses(url: str) -> None:
    with pytest.raises(ValueRefusedError):
        http_url(url)


def test_scope_token_and_claim() -> None:
    assert scope_token(["api://x/user_impersonate", "openid"]) == ["api://x/user_impersonate", "openid"]
    with pytest.raises(ValueRefusedError, match="offline_access"):
        scope_token(["openid", "offline_access"])
    with pytest.raises(ValueRefusedError, match="not a valid OAuth scope"):
        scope_token('a"b')
    assert scope_claim("api://x/user_impersonate") == "user_impersonate"
    assert scope_claim("6b1c7f0e-2d4a-4c59-9a8e-1f2b3c4d5e6f/user_impersonate") == "user_impersonate"
    assert scope_claim("user_impersonate") == "user_impersonate"
    assert scope_claim(UNKNOWN) is UNKNOWN


def test_nonempty() -> None:
    assert nonempty(["a"]) == ["a"]
    assert nonempty(UNKNOWN) is UNKNOWN
    with pytest.raises(ValueRefusedError):
        nonempty([])


def test_absolute_uri() -> None:
    assert (
        absolute_uri("api://6b1c7f0e-2d4a-4c59-9a8e-1f2b3c4d5e6f")
        == "api://6b1c7f0e-2d4a-4c59-9a8e-1f2b3c4d5e6f"
    )
    assert absolute_uri("https://h/mcp") == "https://h/mcp"
    assert absolute_uri(UNKNOWN) is UNKNOWN
    for bad in ("no-scheme", "/mcp", "api://a b", ""):
        with pytest.raises(ValueRefusedError, match="not an absolute URI"):
            absolute_uri(bad)
