"""The URL arithmetic of ``orchestrator.urls``, and the verifier's independent PRM rule held to the
same table (RFC 9728 §3.1)."""

from __future__ import annotations

import pytest

from orchestrator.urls import (
    api_prm_url,
    api_url,
    issuer,
    protected_resource_metadata_url,
)
from orchestrator.verify.http import path_inserted_prm_url

PRM_TABLE = [
    ("https://h.example/mcp", "https://h.example/.well-known/oauth-protected-resource/mcp"),
    ("https://h.example/a/mcp/", "https://h.example/.well-known/oauth-protected-resource/a/mcp/"),
    ("https://127.0.0.1:8443/a/b", "https://127.0.0.1:8443/.well-known/oauth-protected-resource/a/b"),
    ("https://h.example", "https://h.example/.well-known/oauth-protected-resource"),
    ("https://h.example/", "https://h.example/.well-known/oauth-protected-resource"),
    ("https://127.0.0.1:8443/mcp?x=1", "https://127.0.0.1:8443/.well-known/oauth-protected-resource/mcp?x=1"),
]


@pytest.mark.parametrize(("resource", "prm"), PRM_TABLE)
def test_protected_resource_metadata_url(resource: str, prm: str) -> None:
    assert protected_resource_metadata_url(resource) == prm


@pytest.mark.parametrize(("resource", "prm"), PRM_TABLE)
def test_the_verifiers_independent_rule_agrees(resource: str, prm: str) -> None:
    assert path_inserted_prm_url(resource) == prm


@pytest.mark.parametrize("resource", ["/mcp", "https://h/mcp#x", "urn:x"])
def test_protected_resource_metadata_url_refuses(resource: str) -> None:
    with pytest.raises(ValueError, match=r"not an absolute|fragment"):
        protected_resource_metadata_url(resource)


def test_api_url_never_has_a_trailing_slash() -> None:
    assert api_url("https://gw/", "mcp") == "https://gw/mcp"
    assert api_url("https://gw", "") == "https://gw"
    assert api_url("https://gw", "/a/b/") == "https://gw/a/b"


def test_api_prm_url_is_the_path_inserted_url_of_the_api() -> None:
    assert api_prm_url("https://gw/", "mcp") == "https://gw/.well-known/oauth-protected-resource/mcp"
    assert api_prm_url("https://gw", "") == "https://gw/.well-known/oauth-protected-resource"


def test_issuer() -> None:
    assert issuer("https://login.microsoftonline.com", "t") == "https://login.microsoftonline.com/t/v2.0"
