"""Who may call the emulated Microsoft Graph: a bearer token this identity service issued for
Graph, as Graph checks it.

Where it sits: ``emulator.graph.router`` calls ``authenticate`` before anything else. The token is
verified by the identity service's public API (``emulator.identity.verify_token``: RS256 signature
against the service's keys, issuer of the emulator's tenant in v2 or v1 form, expiry and
not-before) with Graph's audiences (``GRAPH_AUDIENCES``: its app id ``00000003-…`` or
``https://graph.microsoft.com``). Refusals are Graph's 401 ``InvalidAuthenticationToken`` in its
error envelope, with Graph's challenge ``WWW-Authenticate: Bearer realm="",
authorization_uri="<authority>/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"``
(the emulator's authority instead of login.microsoftonline.com). Messages as Graph words them:
"Access token is empty.", "Lifetime validation failed, the token is expired.", "Access token
validation failure. Invalid audience.", "… Invalid issuer.", else "Access token validation
failure." (Microsoft Graph, "Microsoft Graph error responses and resource types":
``InvalidAuthenticationToken`` is 401 "Access token is missing or invalid",
https://learn.microsoft.com/en-us/graph/errors ; the wordings as Graph answers them, e.g.
https://devopsaitoolkit.com/blog/teams-error-401-invalid-authentication-token/). What a valid
token may write (application permissions, delegated scopes, directory roles, ownership) is
``emulator.graph.authz``; ``/me`` needs a delegated token with a user scope.
"""

from __future__ import annotations

from typing import Any

from emulator.context import EmulatorContext
from emulator.graph.errors import GraphError
from emulator.identity import GRAPH_AUDIENCES, verify_token
from emulator.tokens import TokenValidationError

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
_MESSAGES = {
    "expired": "Lifetime validation failed, the token is expired.",
    "audience": "Access token validation failure. Invalid audience.",
    "issuer": "Access token validation failure. Invalid issuer.",
}


class GraphAuthError(GraphError):
    """A 401 with Graph's challenge header."""

    def __init__(self, ctx: EmulatorContext, message: str) -> None:
        super().__init__(401, "InvalidAuthenticationToken", message)
        self.challenge = (
            f'Bearer realm="", authorization_uri="{ctx.identity_base}/common/oauth2/authorize", '
            f'client_id="{GRAPH_APP_ID}"'
        )


def authenticate(ctx: EmulatorContext, authorization: str | None) -> dict[str, Any]:
    """The claims of the caller's Graph token, or ``GraphAuthError`` (module doc)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise GraphAuthError(ctx, "Access token is empty.")
    try:
        return verify_token(ctx, token, audiences=GRAPH_AUDIENCES, issuers=[ctx.issuer(), ctx.v1_issuer()])
    except TokenValidationError as exc:
        raise GraphAuthError(ctx, _MESSAGES.get(exc.reason, "Access token validation failure.")) from None
