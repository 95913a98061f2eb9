"""What makes the verifier's MCP client *spec-strict*: the checks the MCP specification puts on a
client before it sends a user to an authorization server, which the ``mcp`` SDK itself skips.

Where it sits: ``client_flow`` (entra mode, the pre-registered client) and
``gateway_mode.sdk_flow`` (the gateway's DCR / CIMD clients) call ``refuse_unless_pkce`` from
their redirect handler, i.e. after the SDK discovered the authorization server and before the
browser is sent there. The SDK already checks the rest of discovery: the PRM ``resource``
(RFC 9728 §3.3, ``client_flow.strict_resource``), the metadata ``issuer`` (RFC 8414 §3.3) and
the RFC 9207 ``iss`` of the authorization response.

MCP specification 2025-11-25, Authorization, "Authorization Code Protection": "MCP clients MUST
verify PKCE support before proceeding with authorization. … If
`code_challenge_methods_supported` is absent, the authorization server does not support PKCE and
MCP clients MUST refuse to proceed." Microsoft Entra ID's own OpenID configuration has no such
field — which is why the default lab's PRM names the gateway's metadata for Entra first.
"""

from __future__ import annotations

from typing import Any

from mcp.client.auth.exceptions import OAuthFlowError


class NoPkceError(OAuthFlowError):
    """The authorization server does not say it supports PKCE S256: a strict client stops."""


def refuse_unless_pkce(metadata: Any) -> None:
    """Raise ``NoPkceError`` unless the discovered metadata advertises PKCE S256."""
    if metadata is None:
        raise NoPkceError(
            "no authorization server metadata was found: a spec-strict MCP client cannot verify "
            "PKCE support and does not guess endpoints"
        )
    methods = list(getattr(metadata, "code_challenge_methods_supported", None) or [])
    if "S256" not in methods:
        raise NoPkceError(
            f"the authorization server {getattr(metadata, 'issuer', '?')} does not advertise PKCE S256 "
            f"(code_challenge_methods_supported: {methods or 'absent'}); MCP 2025-11-25: clients MUST "
            "refuse to proceed"
        )
