"""Verification of authorization mode ``gateway``: API Management is the authorization server.

Runs after reconcile (next to the discovery/client/forged checks) when ``authorization.mode`` is
``gateway``. Every check talks to the deployed gateway over HTTPS like a real client would:

* ``gateway.metadata`` — the PRM names the gateway's issuer; RFC 8414 metadata at the
  path-inserted URL has that exact issuer, S256 only, CIMD support, and every advertised
  endpoint is really served (a POST/GET answers something other than 404);
* ``gateway.dcr_client`` / ``gateway.cimd_client`` — the ``mcp`` SDK client with no
  pre-registration (dynamic registration; separately a Client ID Metadata Document) signs in
  headlessly through the consent page and Entra, and calls ``show_user_profile``;
* ``gateway.refresh`` — a refresh token works once and rotates;
* ``gateway.reject.*`` — the negative suite: unregistered redirect URI, PKCE mismatch, code
  replay, state tampering, consent denied, missing CSRF token, refresh after revoke, a token
  requested for another resource, and an Entra token (another issuer's) presented to the MCP API;
* ``idle.burst`` — with a token the gateway issued, a burst after the backend's keep-alive
  expired is answered like the warm-up (``verify/idle.py``).

The headless "browser" (``ConsentBrowser``) keeps cookies, sends the Fetch-Metadata headers a
browser sends, reads the consent form and submits it; Entra (the local identity service)
signs the test user in without a page because of ``login_hint``. Pure helpers (form parsing,
PKCE) are separate from the I/O; nothing here prints secrets (codes and tokens never appear
in details).

Modules: ``model`` (``GatewayTarget``, PKCE and URL helpers), ``browser`` (the headless
browser), ``cimd`` (a metadata document served over HTTPS), ``sdk_flow`` (the ``mcp`` SDK
client), ``client`` (raw protocol steps, an Entra token around the gateway), ``checks`` (every
check and ``check_gateway_mode``), ``hook`` (``gateway_target_for``/``verify_gateway`` for the
reconcile hook).
"""

from orchestrator.verify.gateway_mode.browser import ConsentBrowser, SignInStoppedError, consent_form
from orchestrator.verify.gateway_mode.checks import check_gateway_mode
from orchestrator.verify.gateway_mode.client import GatewayClient, entra_user_token
from orchestrator.verify.gateway_mode.hook import gateway_target_for, verify_gateway
from orchestrator.verify.gateway_mode.model import GatewayTarget, pkce_pair, s256

__all__ = [
    "ConsentBrowser",
    "GatewayClient",
    "GatewayTarget",
    "SignInStoppedError",
    "check_gateway_mode",
    "consent_form",
    "entra_user_token",
    "gateway_target_for",
    "pkce_pair",
    "s256",
    "verify_gateway",
]
