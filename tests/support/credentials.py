"""Credentials for driving the real Azure SDKs (and raw calls) against the local emulator.

The emulated ARM and Graph accept only tokens their identity service issued, so the suite signs
in as the emulator's local operator, exactly as prmlab does (``orchestrator.local_credential``:
the client-credentials grant with the secret the emulator wrote to ``<state>/operator.json``):

* ``operator_credential(base_url, tenant_id, ca_file)`` — the async azure-core credential (what
  the ARM SDK and kiota call);
* ``operator_token(base_url, tenant_id, ca_file, scope)`` — one access token, synchronously,
  for raw calls (``Authorization: Bearer …``);
* ``StaticTokenCredential`` hands out a given real token (a user's, for Graph ``/me``).
"""

from __future__ import annotations

import json
import ssl
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from azure.core.credentials import AccessToken

from orchestrator.local_credential import OPERATOR_FILE, LocalCredential

ARM_SCOPE = "https://management.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_CACHE: dict[tuple[str, str, str], tuple[str, float]] = {}


def operator_credential(base_url: str, tenant_id: str, ca_file: Path) -> LocalCredential:
    return LocalCredential(base_url, tenant_id, ca_file)


def operator_token(base_url: str, tenant_id: str, ca_file: Path, scope: str = ARM_SCOPE) -> str:
    """An access token of the local operator for ``scope`` (cached while valid)."""
    operator = json.loads((Path(ca_file).parent / OPERATOR_FILE).read_text())
    key = (base_url, str(operator["client_id"]), scope)
    cached = _CACHE.get(key)
    if cached is not None and cached[1] > time.time() + 300:
        return cached[0]
    trust = ssl.create_default_context(cafile=str(ca_file))
    with httpx.Client(verify=trust, timeout=30) as http:
        resp = http.post(
            f"{base_url}/login/{tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": operator["client_id"],
                "client_secret": operator["client_secret"],
                "scope": scope,
            },
        )
    resp.raise_for_status()
    body = resp.json()
    _CACHE[key] = (str(body["access_token"]), time.time() + int(body["expires_in"]))
    return str(body["access_token"])


class StaticTokenCredential:
    def __init__(self, token: str, expires_in: int = 3600) -> None:
        self._token = token
        self._expires_in = expires_in
        self.scopes_seen: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes_seen.append(scopes)
        return AccessToken(self._token, int(time.time()) + self._expires_in)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
