"""The credential of the local target: real tokens from the emulator's identity service.

Where it sits: ``orchestrator.target.open_clients`` gives it to the ARM and Graph SDK clients of a
``local`` target (``azure.identity.aio.DefaultAzureCredential`` is the ``azure`` one); the
verifier's minter and the test suite use it too. The emulated ARM and Graph accept only tokens
their identity service issued (signature, issuer, audience, expiry), so this credential signs in
as the emulator's local operator — a confidential client whose secret the emulator writes to
``<state folder>/operator.json`` (private: only the user running the emulator can read it) — with
the OAuth 2.0 client-credentials grant at ``<base>/login/<tenant>/oauth2/v2.0/token``, one token
per scope (``https://management.azure.com/.default``, ``https://graph.microsoft.com/.default``),
kept until five minutes before it expires. It implements azure-core's async ``get_token`` /
``get_token_info`` (what the ARM SDK and kiota call). A throttled or failing token endpoint is
retried with the shared policy (``orchestrator.retry``); a refusal is azure-core's
``ClientAuthenticationError`` (``providers.errors`` turns it into a ``TargetError``).
"""

from __future__ import annotations

import json
import ssl
import time
from pathlib import Path
from typing import Any

import anyio

from orchestrator.errors import TargetError, TemporaryError
from orchestrator.retry import DEFAULT_POLICY, call_with_retry, retry_delay

OPERATOR_FILE = "operator.json"  # emulator.identity.operator.OPERATOR_FILE
_REFRESH_BEFORE_S = 300


class LocalCredential:
    def __init__(self, base_url: str, tenant_id: str, ca_file: Path, state_dir: Path | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._tenant_id = tenant_id
        self._ca_file = ca_file
        self._operator_file = (state_dir or ca_file.parent) / OPERATOR_FILE
        self._tokens: dict[str, tuple[str, int]] = {}
        self._lock = anyio.Lock()

    def _operator(self) -> dict[str, str]:
        try:
            data = json.loads(self._operator_file.read_text(encoding="utf-8"))
            return {"client_id": str(data["client_id"]), "client_secret": str(data["client_secret"])}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TargetError(
                f"the emulator's operator credential {self._operator_file} is missing or unreadable "
                f"({type(exc).__name__}); restart the emulator (`prmlab local stop`, then reconcile) to re-issue it"
            ) from None

    async def _request(self, scope: str) -> tuple[str, int]:
        import httpx
        from azure.core.exceptions import ClientAuthenticationError

        operator = self._operator()
        url = f"{self._base_url}/login/{self._tenant_id}/oauth2/v2.0/token"
        form = {"grant_type": "client_credentials", "scope": scope, **operator}
        trust = ssl.create_default_context(cafile=str(self._ca_file))

        async def once() -> httpx.Response:
            async with httpx.AsyncClient(verify=trust, timeout=30) as http:
                try:
                    resp = await http.post(url, data=form)
                except httpx.TransportError as exc:
                    raise TemporaryError("local operator token", f"no answer ({type(exc).__name__})") from exc
            if resp.status_code == 429 or resp.status_code >= 500:
                raise TemporaryError(
                    "local operator token", f"HTTP {resp.status_code}", delay=retry_delay(resp.headers)
                )
            return resp

        try:
            resp, _ = await call_with_retry(once, DEFAULT_POLICY)
        except TemporaryError as exc:
            raise ClientAuthenticationError(
                message=f"the local identity service did not answer: {exc.cause}"
            ) from exc
        try:
            body: dict[str, Any] = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200 or "access_token" not in body:
            reason = str(body.get("error_description") or body.get("error") or f"HTTP {resp.status_code}")
            raise ClientAuthenticationError(
                message=f"the local identity service refused the operator: {reason}"
            )
        return str(body["access_token"]), int(time.time()) + int(body.get("expires_in", 3600))

    async def _token(self, scopes: tuple[str, ...]) -> tuple[str, int]:
        scope = scopes[0] if scopes else "https://management.azure.com/.default"
        async with self._lock:
            cached = self._tokens.get(scope)
            if cached is None or cached[1] - _REFRESH_BEFORE_S <= time.time():
                cached = await self._request(scope)
                self._tokens[scope] = cached
            return cached

    async def get_token(self, *scopes: str, **_kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        token, expires_on = await self._token(scopes)
        return AccessToken(token, expires_on)

    async def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        from azure.core.credentials import AccessTokenInfo

        token, expires_on = await self._token(scopes)
        return AccessTokenInfo(token, expires_on)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> LocalCredential:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None
