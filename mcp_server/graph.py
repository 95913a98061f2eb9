"""Outbound calls of the tool: the on-behalf-of exchange and Microsoft Graph ``/me``.

``AzureOboExchanger`` does what the original lab does: the server's app registration has no
secret; its client assertion is a managed-identity token for ``api://AzureADTokenExchange``,
trusted through the app's federated identity credential. With that assertion it exchanges the
caller's token on-behalf-of for a Graph token (``azure.identity.aio.OnBehalfOfCredential``).
Consent errors (``AADSTS65001``, ``consent_required``, ``interaction_required``) become
``ConsentRequiredError`` so the tool can hand back a sign-in URL instead of failing.

``GraphClient`` reads ``/v1.0/me`` with that token. Both sit behind small protocols so the
tool logic is tested with fakes; neither ever logs or returns a token.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any, Protocol

import httpx
from azure.core.exceptions import AzureError, ClientAuthenticationError

from mcp_server.config import GRAPH_SCOPE, Settings

log = logging.getLogger(__name__)

TOKEN_EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"
PROFILE_FIELDS = (
    "displayName",
    "mail",
    "userPrincipalName",
    "id",
    "jobTitle",
    "department",
    "officeLocation",
)
_CONSENT_MARKERS = ("AADSTS65001", "consent_required", "interaction_required")
_AADSTS = re.compile(r"AADSTS\d+")


class ConsentRequiredError(Exception):
    """The user (or an admin) has not consented to Graph for this app yet."""


class UpstreamError(Exception):
    """The OBO exchange or the Graph call failed; the message is safe to show."""


class TokenExchanger(Protocol):
    async def exchange(self, user_token: str) -> str:
        """A Graph access token for the user behind ``user_token``."""
        ...


class ProfileSource(Protocol):
    async def me(self, graph_token: str) -> dict[str, Any]:
        """The signed-in user's Graph profile (``/me``)."""
        ...


def is_consent_error(message: str) -> bool:
    return any(marker in message for marker in _CONSENT_MARKERS)


class AzureOboExchanger:
    """OBO with a managed-identity client assertion (federated credential), via azure-identity aio."""

    def __init__(self, settings: Settings, *, connection_verify: str | None = None) -> None:
        from azure.identity.aio import ManagedIdentityCredential

        self._settings = settings
        self._transport_kwargs: dict[str, Any] = (
            {"connection_verify": connection_verify} if connection_verify else {}
        )
        # One credential for the process: it caches the assertion until it nears expiry.
        self._managed_identity = ManagedIdentityCredential(
            client_id=settings.managed_identity_client_id, **self._transport_kwargs
        )

    async def close(self) -> None:
        await self._managed_identity.close()

    async def exchange(self, user_token: str) -> str:
        from azure.identity.aio import OnBehalfOfCredential

        try:
            assertion = (await self._managed_identity.get_token(TOKEN_EXCHANGE_SCOPE)).token
        except AzureError as exc:
            log.warning("managed identity token failed: %s", type(exc).__name__)
            raise UpstreamError(
                "the server's managed identity could not get a token for the federated credential"
            ) from exc

        credential = OnBehalfOfCredential(
            self._settings.tenant_id,
            self._settings.client_id,
            client_assertion_func=lambda: assertion,
            user_assertion=user_token,
            authority=self._settings.authority_host,
            **self._transport_kwargs,
        )
        try:
            async with credential:
                return (await credential.get_token(GRAPH_SCOPE)).token
        except ClientAuthenticationError as exc:
            message = str(exc.message or exc)
            if is_consent_error(message):
                raise ConsentRequiredError(_code_of(message)) from exc
            log.warning("on-behalf-of exchange refused: %s", _code_of(message))
            raise UpstreamError(f"the on-behalf-of exchange was refused ({_code_of(message)})") from exc
        except AzureError as exc:
            log.warning("on-behalf-of exchange failed: %s", type(exc).__name__)
            raise UpstreamError(f"the on-behalf-of exchange failed ({type(exc).__name__})") from exc


def _code_of(message: str) -> str:
    """The AADSTS code (or the OAuth error) of an Entra error message, never its free text."""
    found = _AADSTS.search(message)
    if found:
        return found.group(0)
    for marker in (*_CONSENT_MARKERS, "invalid_grant", "invalid_client", "unauthorized_client"):
        if marker in message:
            return marker
    return "unknown error"


class GraphClient:
    """``GET <graph>/v1.0/me`` with a delegated Graph token."""

    def __init__(self, endpoint: str, http: httpx.AsyncClient) -> None:
        self._url = f"{endpoint}/v1.0/me"
        self._http = http

    async def me(self, graph_token: str) -> dict[str, Any]:
        try:
            response = await self._http.get(
                self._url,
                params={"$select": ",".join(PROFILE_FIELDS)},
                headers={"Authorization": f"Bearer {graph_token}", "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"Microsoft Graph could not be reached ({type(exc).__name__})") from exc
        if response.status_code != 200:
            code = ""
            with contextlib.suppress(ValueError, AttributeError):
                code = str(response.json().get("error", {}).get("code", ""))
            if response.status_code == 403 and is_consent_error(code + response.text):
                raise ConsentRequiredError(code or "consent_required")
            raise UpstreamError(f"Microsoft Graph answered {response.status_code} {code}".rstrip())
        try:
            body = response.json()
        except ValueError as exc:
            raise UpstreamError("Microsoft Graph did not answer JSON") from exc
        if not isinstance(body, dict):
            raise UpstreamError("Microsoft Graph did not answer a JSON object")
        return body
