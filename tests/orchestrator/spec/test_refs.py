"""Reference resolution: derived outputs (API URLs, PRM URL, scope), UNKNOWN, suffix, secrets."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.resource import UNKNOWN, Secret
from orchestrator.spec import Lab, Ref, parse_lab, resolve
from orchestrator.spec.refs import provider_node

LAB = """\
name: t
target: {kind: local}
entra:
  apps:
    with-uri:
      unique_name: a
      display_name: A
      identifier_uris: [{ref: apim.apis.mcp.url}]
      scopes: [{value: user_impersonate, admin_consent_display_name: X, admin_consent_description: Y}]
    plain:
      unique_name: b
      display_name: B
      scopes:  # the first one is disabled (on its way out): `scope` is the enabled one
        - {value: old, admin_consent_display_name: X, admin_consent_description: Y, enabled: false}
        - {value: read, admin_consent_display_name: X, admin_consent_description: Y}
        - {value: mcp.access, admin_consent_display_name: X, admin_consent_description: Y, enabled: false}
        - {value: "mcp:tools", admin_consent_display_name: X, admin_consent_description: Y, enabled: false}
        - {value: "a&&b~~c--d[]{x}", admin_consent_display_name: X, admin_consent_description: Y, enabled: false}
monitoring:
  log_analytics: {name: log-t}
  app_insights: {name: appi-t}
apim:
  service: {name: apim-t, sku: BasicV2, publisher_email: a@example.com, publisher_name: T}
  apis:
    mcp: {display_name: M, path: mcp}
    root: {display_name: R, path: ""}
    deep: {display_name: D, path: v1/tools}
server: {name: srv, image: "example.com/srv:1", environment: {name: cae-t}}
"""

OUTPUTS: dict[str, dict[str, Any]] = {
    "apim_service.main": {"gateway_url": "https://gw.example.net/", "name": "apim-t"},
    "entra_app.plain": {"client_id": "11111111-2222-3333-4444-555555555555"},
    "container_app.server": {"fqdn": "srv.example.io"},
    "app_insights.main": {"connection_string": "InstrumentationKey=abc"},
}
TARGET = {"tenant_id": "tid", "issuer": "https://login.example.com/tid/v2.0"}


@pytest.fixture(scope="module")
def lab() -> Lab:
    return parse_lab(LAB, env={})[0]


@pytest.mark.parametrize(
    ("ref", "suffix", "expected"),
    [
        ("apim.apis.mcp.url", "", "https://gw.example.net/mcp"),
        ("apim.apis.mcp.prm_url", "", "https://gw.example.net/.well-known/oauth-protected-resource/mcp"),
        ("apim.apis.root.url", "", "https://gw.example.net"),
        ("apim.apis.root.prm_url", "", "https://gw.example.net/.well-known/oauth-protected-resource"),
        (
            "apim.apis.deep.prm_url",
            "",
            "https://gw.example.net/.well-known/oauth-protected-resource/v1/tools",
        ),
        ("apim.service.gateway_url", "", "https://gw.example.net/"),
        ("entra.apps.with-uri.identifier_uri", "", "https://gw.example.net/mcp"),
        ("entra.apps.with-uri.scope", "", "https://gw.example.net/mcp/user_impersonate"),
        ("entra.apps.plain.scope", "", "11111111-2222-3333-4444-555555555555/read"),
        ("entra.apps.plain.scopes.old", "", "11111111-2222-3333-4444-555555555555/old"),
        ("entra.apps.plain.scopes.mcp.access", "", "11111111-2222-3333-4444-555555555555/mcp.access"),
        # ':' and Entra's other symbols: the value is kept whole (it was refused by the ref grammar)
        ("entra.apps.plain.scopes.mcp:tools", "", "11111111-2222-3333-4444-555555555555/mcp:tools"),
        (
            "entra.apps.plain.scopes.a&&b~~c--d[]{x}",
            "",
            "11111111-2222-3333-4444-555555555555/a&&b~~c--d[]{x}",
        ),
        ("entra.apps.with-uri.scopes.user_impersonate", "", "https://gw.example.net/mcp/user_impersonate"),
        ("entra.apps.plain.client_id", "", "11111111-2222-3333-4444-555555555555"),
        ("server.url", "/auth/callback", "https://srv.example.io/auth/callback"),
        ("server.fqdn", "", "srv.example.io"),
        ("target.issuer", "", "https://login.example.com/tid/v2.0"),
    ],
)
def test_resolve(lab: Lab, ref: str, suffix: str, expected: str) -> None:
    assert resolve(Ref(ref=ref, suffix=suffix), lab, OUTPUTS, TARGET) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "apim.apis.mcp.url",
        "entra.apps.with-uri.scope",
        "entra.apps.plain.object_id",
        "server.url",
        "target.authority",
    ],
)
def test_not_yet_known_is_unknown(lab: Lab, ref: str) -> None:
    assert resolve(Ref(ref=ref, suffix="/x"), lab, {}, {}) is UNKNOWN


def test_secret_outputs_stay_secret(lab: Lab) -> None:
    value = resolve(Ref(ref="monitoring.app_insights.connection_string"), lab, OUTPUTS, TARGET)
    assert isinstance(value, Secret)
    assert value.reveal() == "InstrumentationKey=abc"
    assert "abc" not in repr(value)


@pytest.mark.parametrize(
    ("ref", "node"),
    [
        ("target.tenant_id", None),
        ("entra.apps.x.client_id", "entra_app.x"),
        ("managed_identities.mi.principal_id", "managed_identity.mi"),
        ("apim.service.gateway_url", "apim_service.main"),
        ("apim.apis.mcp.prm_url", "apim_service.main"),
        ("apim.backends.be.url", "backend.be"),
        ("server.url", "container_app.server"),
        ("monitoring.app_insights.instrumentation_key", "app_insights.main"),
    ],
)
def test_provider_node(ref: str, node: str | None) -> None:
    assert provider_node(Ref(ref=ref)) == node
