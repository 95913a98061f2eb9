"""Credentials for driving the real Azure SDKs against the local emulator without Entra.

``OfflineCredential`` hands out a constant opaque token (the emulator's ARM and Graph require a
``Bearer`` header but, except for Graph ``/me``, do not validate it); ``StaticTokenCredential``
hands out a given real token (one the emulator's identity service issued, for ``/me``).
Both implement azure-core's async ``get_token`` protocol (what the ARM SDK and kiota call).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from azure.core.credentials import AccessToken


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


class OfflineCredential(StaticTokenCredential):
    def __init__(self) -> None:
        super().__init__("offline-emulator-token")
