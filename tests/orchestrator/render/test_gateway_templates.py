"""The gateway-mode templates rendered: what they advertise, what they refuse, bounded lifetimes.

Behaviour at request time is tested through the local gateway in
``tests/orchestrator/verify/test_gateway_mode.py``; these are the static properties.
"""

from __future__ import annotations

import json

import pytest

from orchestrator.errors import RenderError
from orchestrator.render import (
    optional_template_variables,
    parse_policy,
    render_policy,
    required_template_variables,
)
from tests.orchestrator.render.gateway_cases import GATEWAY_MCP_API, GATEWAY_OAUTH, ISSUER, SCOPE


def _variable(xml: str, name: str) -> str:
    found = [el.get("value") for el in parse_policy(xml).iter("set-variable") if el.get("name") == name]
    assert len(found) == 1, name
    return str(found[0])


def test_variables() -> None:
    assert required_template_variables("gateway-metadata") == {"issuer", "scopes_supported"}
    assert required_template_variables("gateway-oauth") == {
        "issuer", "resource", "scope", "authority", "tenant_id", "client_id", "client_store",
    }  # fmt: skip
    assert optional_template_variables("gateway-oauth") == {
        "managed_identity_client_id", "cimd_allow_loopback", "access_token_lifetime", "refresh_token_lifetime",
        "registrations_per_minute",
    }  # fmt: skip
    assert optional_template_variables("gateway-mcp-api") == {"identifier_uri", "backend_id"}


def test_metadata_advertises_only_served_endpoints() -> None:
    root = parse_policy(render_policy("gateway-metadata", {"issuer": ISSUER, "scopes_supported": [SCOPE]}))
    assert root.find("inbound/base") is None  # anonymous
    doc = json.loads(root.findtext("inbound/return-response/set-body") or "")
    assert doc["issuer"] == ISSUER
    assert {k: v for k, v in doc.items() if k.endswith("_endpoint")} == {
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "registration_endpoint": f"{ISSUER}/register",
        "revocation_endpoint": f"{ISSUER}/revoke",
    }
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["token_endpoint_auth_methods_supported"] == ["none"]
    assert doc["client_id_metadata_document_supported"] is True
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token"]


@pytest.mark.parametrize(
    ("template", "variables", "message"),
    [
        ("gateway-metadata", {"issuer": "not a url", "scopes_supported": [SCOPE]}, "not an absolute http"),
        ("gateway-metadata", {"issuer": ISSUER, "scopes_supported": ["offline_access"]}, "offline_access"),
        ("gateway-oauth", {**GATEWAY_OAUTH, "scope": "offline_access"}, "offline_access"),
        ("gateway-oauth", {**GATEWAY_OAUTH, "resource": "ftp://x/mcp"}, "not an absolute http"),
        ("gateway-oauth", {k: v for k, v in GATEWAY_OAUTH.items() if k != "client_store"}, "client_store"),
        ("gateway-oauth", {**GATEWAY_OAUTH, "client_store": "mcpclients"}, "not an absolute http"),
    ],
)
def test_refused_variables(template: str, variables: dict[str, object], message: str) -> None:
    with pytest.raises(RenderError, match=message):
        render_policy(template, variables)


def test_oauth_policy_is_anonymous_and_answers_every_operation() -> None:
    xml = render_policy("gateway-oauth", GATEWAY_OAUTH)
    root = parse_policy(xml)
    assert root.find("inbound/base") is None
    conditions = [el.get("condition") for el in root.findall("inbound/choose/when")]
    assert conditions == [
        f'@(context.Operation.UrlTemplate == "/{op}")'
        for op in ("register", "authorize", "consent", "oauth-callback", "token", "revoke")
    ]
    # Anything else: 404, never the backend.
    assert [el.get("code") for el in root.findall("inbound/return-response/set-status")] == ["404"]
    # No encryption and no key at all (so no IV, fixed or not, and no secret to leak):
    # registrations live in the client store, reached with APIM's managed identity.
    assert "Encrypt" not in xml
    assert "Aes" not in xml
    assert "HMAC" not in xml
    assert _variable(xml, "gw-store") == "https://stprmlab3f9a.table.core.windows.net/mcpclients"
    stores = [
        el for el in root.iter("send-request") if el.get("response-variable-name", "").startswith("gw-store")
    ]
    assert [el.findtext("set-method") for el in stores] == ["POST", "GET"]
    for el in stores:
        auth = el.find("authentication-managed-identity")
        assert auth is not None
        assert auth.get("resource") == "https://storage.azure.com/"
        headers = {h.get("name"): h.findtext("value") or "" for h in el.findall("set-header")}
        assert headers["x-ms-version"] >= "2019-02-02"  # bearer tokens need 2019-02-02 or later


def test_lifetimes_are_bounded() -> None:
    default = render_policy("gateway-oauth", GATEWAY_OAUTH)
    assert _variable(default, "gw-conf-at-life") == "@((long)3600)"
    assert _variable(default, "gw-conf-rt-life") == "@((long)86400)"
    capped = render_policy(
        "gateway-oauth",
        {**GATEWAY_OAUTH, "access_token_lifetime": 999999, "refresh_token_lifetime": 99999999},
    )
    assert _variable(capped, "gw-conf-at-life") == "@((long)3600)"
    assert _variable(capped, "gw-conf-rt-life") == "@((long)604800)"
    assert 'duration="60"' in default  # authorization codes


def test_cimd_loopback_and_managed_identity_options() -> None:
    default = render_policy("gateway-oauth", GATEWAY_OAUTH)
    assert _variable(default, "gw-conf-cimd-loopback") == "@(false)"
    assert "client-id=" not in default
    options = render_policy(
        "gateway-oauth", {**GATEWAY_OAUTH, "cimd_allow_loopback": True, "managed_identity_client_id": "abc"}
    )
    assert _variable(options, "gw-conf-cimd-loopback") == "@(true)"
    mi = list(parse_policy(options).iter("authentication-managed-identity"))
    # The Entra client assertion uses the chosen identity; the client store is always reached
    # with the system identity (the one prmlab grants the table role to).
    assert {(el.get("resource"), el.get("client-id")) for el in mi} == {
        ("api://AzureADTokenExchange", "abc"),
        ("https://storage.azure.com/", None),
    }


def test_mcp_api_maps_back_and_validates_the_entra_token() -> None:
    root = parse_policy(render_policy("gateway-mcp-api", GATEWAY_MCP_API))
    section = root.find("inbound")
    assert section is not None
    inbound = [el.tag for el in section if isinstance(el.tag, str)]
    # The Entra token replaces the gateway token before both validations.
    assert inbound.index("set-header") < inbound.index("validate-azure-ad-token")
    assert [el.get("backend-id") for el in root.iter("set-backend-service")] == ["mcp-backend"]
    without = parse_policy(
        render_policy("gateway-mcp-api", {k: v for k, v in GATEWAY_MCP_API.items() if k != "backend_id"})
    )
    assert list(without.iter("set-backend-service")) == []


def _cimd_filter(loopback: bool) -> object:
    """The condition that decides whether /authorize fetches a client_id URL as a Client ID
    Metadata Document, compiled by the local gateway (what it runs)."""
    from emulator.gateway.expr import compile_expression

    xml = render_policy("gateway-oauth", {**GATEWAY_OAUTH, "cimd_allow_loopback": loopback})
    conditions = [
        str(el.get("condition"))
        for el in parse_policy(xml).iter("when")
        if "gw-conf-cimd-loopback" in str(el.get("condition"))
    ]
    assert len(conditions) == 1
    return compile_expression(conditions[0][1:])


def _fetched(expression: object, client_id: str, loopback: bool) -> bool:
    from emulator.gateway.expr.context import sample_context

    ctx = sample_context(method="GET", url="https://gw.example/oauth/authorize", headers=[], body=b"")
    ctx.Variables.set("gw-client-id", client_id)
    ctx.Variables.set("gw-conf-cimd-loopback", loopback)
    return bool(expression.evaluate(ctx))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "host",
    [
        "0x7f000001", "0X7F000001", "0x7f.0.0.1", "0x7f.1", "127.1", "2130706433", "0177.0.0.1",
        "127.0.0.2", "0.0.0.0", "0", "10.0.0.1", "169.254.169.254", "foo.localhost", "foo.localhost.", "printer.local", "svc.internal",
        "metadata.google.internal", "metadata", "intranet", "a..b", ".example.com", "[::1]",
        "[::ffff:127.0.0.1]", "[fd00::1]", "user@example.com", "example.com:99999",
    ],
)  # fmt: skip
def test_cimd_urls_on_private_or_numeric_hosts_are_never_fetched(host: str) -> None:
    """Issue 17 item 18: hosts are normalised (case, trailing dots) and every numeric form of an
    IPv4 address (hex, octal, short, decimal: WHATWG URL "ends in a number") is refused, so
    https://0x7f000001:... no longer gets through; IPv6 literals never match."""
    for loopback in (False, True):
        assert not _fetched(_cimd_filter(loopback), f"https://{host}/client.json", loopback), (host, loopback)


def test_cimd_urls_on_public_names_are_fetched_and_loopback_only_when_allowed() -> None:
    public, local = _cimd_filter(False), _cimd_filter(True)
    for url in (
        "https://app.example.com/client.json",
        "https://APP.Example.com./c",
        "https://a.b.example:8443/x",
    ):
        assert _fetched(public, url, False), url
    for url in (
        "https://127.0.0.1:8443/client.json",
        "https://127.0.0.1./c",
        "https://localhost:8443/c",
        "https://LOCALHOST./c",
    ):  # loopback in any spelling is loopback: refused unless cimd_allow_loopback
        assert not _fetched(public, url, False), url
        assert _fetched(local, url, True), url
