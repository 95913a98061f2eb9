"""Parsing and URL rules of the verifier."""

from __future__ import annotations

from orchestrator.verify.http import as_metadata_urls, parse_bearer_challenge


def test_parse_bearer_challenge() -> None:
    header = 'Bearer error="invalid_token", resource_metadata="https://gw/.well-known/oauth-protected-resource/mcp", scope="api://x/user_impersonate"'
    assert parse_bearer_challenge(header) == {
        "error": "invalid_token",
        "resource_metadata": "https://gw/.well-known/oauth-protected-resource/mcp",
        "scope": "api://x/user_impersonate",
    }
    assert parse_bearer_challenge('Basic realm="x"') is None
    assert parse_bearer_challenge(None) is None
    assert parse_bearer_challenge("Bearer realm=x") == {"realm": "x"}


def test_as_metadata_order_for_issuer_with_path() -> None:
    assert as_metadata_urls("https://login.example/tid/v2.0") == [
        "https://login.example/.well-known/oauth-authorization-server/tid/v2.0",
        "https://login.example/.well-known/openid-configuration/tid/v2.0",
        "https://login.example/tid/v2.0/.well-known/openid-configuration",
    ]
    assert as_metadata_urls("https://as.example") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration",
    ]
