"""Raw OAuth protocol steps against the gateway (register, authorize, token, revoke) for the
negative suite, and ``entra_user_token``: a real Entra token obtained around the gateway."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from orchestrator.verify.discovery import post_mcp
from orchestrator.verify.gateway_mode.browser import ConsentBrowser
from orchestrator.verify.gateway_mode.model import MAX_HOPS, GatewayTarget, pkce_pair, query_of, same_endpoint
from orchestrator.verify.http import client
from orchestrator.verify.targeting import VSCODE_CLIENT_ID


@dataclass(frozen=True, slots=True)
class Grant:
    access_token: str
    refresh_token: str


class GatewayClient:
    """A raw OAuth client of the gateway (registration, authorize, token, revoke) for the negatives."""

    def __init__(self, target: GatewayTarget, http: httpx.AsyncClient) -> None:
        self.target = target
        self.http = http
        self.client_id = ""

    async def register(self) -> None:
        self.accept_registration(await self.post_registration())

    async def post_registration(self) -> httpx.Response:
        return await self.http.post(
            self.target.issuer + "/register",
            json={
                "redirect_uris": [self.target.redirect_uri],
                "client_name": "prmlab verify (negative suite)",
                "application_type": "native",
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
            },
        )

    def accept_registration(self, resp: httpx.Response) -> None:
        if resp.status_code != 201:
            raise RuntimeError(f"registration answered {resp.status_code}")
        self.client_id = str(resp.json()["client_id"])

    def authorize_url(self, challenge: str, state: str, **extra: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.target.redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": state,
            "scope": self.target.scope,
            "resource": self.target.mcp_url,
            **extra,
        }
        return self.target.issuer + "/authorize?" + urlencode(params)

    async def code(self, challenge: str, **sign_in: Any) -> dict[str, str]:
        """Run authorize through the browser; the redirect's query (code or error)."""
        state = secrets.token_urlsafe(16)
        async with ConsentBrowser(self.target) as browser:
            back = await browser.sign_in(self.authorize_url(challenge, state), **sign_in)
        params = query_of(back)
        if params.get("state") != state:
            raise RuntimeError("the client's state was not echoed")
        if params.get("iss") != self.target.issuer:
            raise RuntimeError("the authorization response has no (or a wrong) iss")
        return params

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post(self.target.issuer + "/token", data={"client_id": self.client_id, **form})

    async def exchange(self, code: str, verifier: str) -> httpx.Response:
        return await self.token(
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            redirect_uri=self.target.redirect_uri,
            resource=self.target.mcp_url,
        )

    async def grant(self) -> Grant:
        verifier, challenge = pkce_pair()
        params = await self.code(challenge)
        resp = await self.exchange(params.get("code", ""), verifier)
        if resp.status_code != 200:
            raise RuntimeError(f"token endpoint answered {resp.status_code}")
        body = resp.json()
        return Grant(str(body["access_token"]), str(body["refresh_token"]))

    async def revoke(self, token: str) -> httpx.Response:
        return await self.http.post(
            self.target.issuer + "/revoke", data={"client_id": self.client_id, "token": token}
        )

    async def mcp_status(self, token: str) -> int:
        return (await post_mcp(self.http, self.target.mcp_url, token)).status_code


def oauth_error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


async def entra_user_token(
    entra_base: str, scope: str, login_hint: str, ca_file: Path | None, client_id: str = VSCODE_CLIENT_ID
) -> str | None:
    """A real Entra access token for the MCP app, obtained directly from Entra (not the gateway):
    authorization code + PKCE as the pre-authorized VS Code client, headless with ``login_hint``
    (local target). ``entra_base`` is ``<authority>/<tenant>/oauth2/v2.0``. None when it fails."""
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:33419/"
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect,
        "scope": scope,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "entra",
        "login_hint": login_hint,
    }
    async with client(ca_file) as http:
        url = entra_base + "/authorize?" + urlencode(params)
        for _ in range(MAX_HOPS):
            resp = await http.get(url)
            location = resp.headers.get("location")
            if resp.status_code not in (301, 302, 303, 307, 308) or not location:
                return None
            url = str(resp.url.join(location))
            if same_endpoint(url, redirect):
                break
        code = query_of(url).get("code")
        if not code:
            return None
        token = await http.post(
            entra_base + "/token",
            data={
                "grant_type": "authorization_code",
                "client_id": client_id,
                "code": code,
                "redirect_uri": redirect,
                "code_verifier": verifier,
                "scope": scope,
            },
        )
        if token.status_code != 200:
            return None
        value = token.json().get("access_token")
        return value if isinstance(value, str) else None
