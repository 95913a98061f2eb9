"""The ``show_user_profile`` tool: caller's token -> OBO -> Graph ``/me`` -> a small profile.

Pure of transport concerns: it receives the validated user token and the two outbound seams,
so the same function runs behind HTTP and in the in-memory tests. When consent to Graph is
missing it returns a consent sign-in URL (``consent_url``) instead of failing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from mcp.server.mcpserver.exceptions import ToolError

from mcp_server.config import GRAPH_USER_READ, Settings
from mcp_server.graph import ConsentRequiredError, ProfileSource, TokenExchanger, UpstreamError

CALLBACK_PATH = "/auth/callback"


def consent_url(settings: Settings, base_url: str) -> str:
    """The sign-in URL that asks the user to consent to Graph ``User.Read`` for this app.

    It lands on this server's ``/auth/callback`` (the app's registered redirect URI).
    """
    query = urlencode(
        {
            "client_id": settings.client_id,
            "response_type": "code",
            "redirect_uri": f"{base_url.rstrip('/')}{CALLBACK_PATH}",
            "response_mode": "query",
            "scope": f"openid profile {GRAPH_USER_READ}",
            "prompt": "consent",
        }
    )
    return f"{settings.authority_host}/{settings.tenant_id}/oauth2/v2.0/authorize?{query}"


def profile_of(me: dict[str, Any]) -> dict[str, Any]:
    """The fields the tool returns; ``mail`` falls back to the UPN as in the original."""
    upn = me.get("userPrincipalName")
    return {
        "displayName": me.get("displayName"),
        "mail": me.get("mail") or upn,
        "userPrincipalName": upn,
        "id": me.get("id"),
        "jobTitle": me.get("jobTitle"),
        "department": me.get("department"),
        "officeLocation": me.get("officeLocation"),
    }


async def show_user_profile(
    user_token: str | None,
    exchanger: TokenExchanger,
    graph: ProfileSource,
    consent_link: str,
) -> dict[str, Any]:
    """The caller's profile, or a consent link; ``ToolError`` (shown to the caller) otherwise."""
    if not user_token:
        raise ToolError("no signed-in user: call this tool with a bearer token")
    try:
        graph_token = await exchanger.exchange(user_token)
        return profile_of(await graph.me(graph_token))
    except ConsentRequiredError as exc:
        return {
            "consent_required": True,
            "reason": str(exc),
            "consent_url": consent_link,
            "message": "Consent to Microsoft Graph (User.Read) is missing. Open consent_url, "
            "sign in and accept, then call show_user_profile again.",
        }
    except UpstreamError as exc:
        raise ToolError(str(exc)) from exc
