"""What ``authorization.mode`` selects, in one place (pure): which policy template plays which
role, and which verification suite proves the mode works.

lab.yaml names each policy's template; a mode says which of them is the MCP API's (the 401
challenge and token checks) and which API is the authorization server (gateway mode only), so
that verification finds them by role, and which check groups run, in order:

* ``entra``   — Entra is the authorization server; clients are pre-registered. Suite: discovery
  (with ``discovery.entra_metadata``: Entra discovered the way a client can, and the gateway's
  metadata for it pointing at Entra's own endpoints), the pre-registered ``client`` signing in at
  Entra, ``idle`` (a burst after the backend's keep-alive expired, with the client's token), the
  ``forged`` token battery at the gateway, the same battery around it (``bypass``).
* ``gateway`` — API Management is the authorization server. Suite: discovery, the ``gateway``
  checks (DCR/CIMD clients, refresh, the negative suite; ``verify.gateway_mode``), ``idle`` (run
  by the gateway checks: it needs a token the gateway issued), ``bypass``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.spec.models import Lab


@dataclass(frozen=True, slots=True)
class AuthorizationMode:
    name: str
    mcp_api_template: str  # the MCP API's policy template
    authorization_server_template: str | None  # the policy of the API that issues tokens, if ours
    checks: tuple[str, ...]  # verification groups, in the order they run
    clients_sign_in_at_entra: bool = False  # MCP clients go to Entra itself (not to the gateway)

    def runs(self, group: str) -> bool:
        return group in self.checks


ENTRA = AuthorizationMode(
    "entra",
    "mcp-api-entra",
    None,
    ("discovery", "client", "idle", "forged", "bypass"),
    clients_sign_in_at_entra=True,
)
GATEWAY = AuthorizationMode(
    "gateway", "gateway-mcp-api", "gateway-oauth", ("discovery", "gateway", "idle", "bypass")
)
MODES: Mapping[str, AuthorizationMode] = MappingProxyType({m.name: m for m in (ENTRA, GATEWAY)})


def mode_of(lab: Lab) -> AuthorizationMode:
    """The mode ``lab.authorization.mode`` names."""
    return MODES[lab.authorization.mode]
