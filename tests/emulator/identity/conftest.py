"""Identity tests over an in-process Starlette app on a temporary store, with a movable clock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from emulator.context import EmulatorContext
from emulator.identity import build_routes
from emulator.identity.settings import IdentitySettings
from emulator.store import Store
from tests.emulator.identity import seed as data

BASE = "https://127.0.0.1:8443"
TENANT = "7e000000-0000-0000-0000-00000000e7e7"


class FakeClock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


@dataclass
class Harness:
    ctx: EmulatorContext
    clock: FakeClock
    http: httpx.AsyncClient
    seeded: data.Seeded

    @property
    def issuer(self) -> str:
        return self.ctx.issuer()

    def url(self, path: str) -> str:
        return f"{BASE}/login/{TENANT}/{path}"

    async def authorize(self, **params: str) -> httpx.Response:
        return await self.http.get(self.url("oauth2/v2.0/authorize"), params=params)

    async def code_for(
        self,
        *,
        client_id: str = data.PREAUTH_ID,
        scope: str = f"{data.API_ID}/user_impersonate openid offline_access",
        redirect_uri: str = data.LOOPBACK_REDIRECT,
        login_hint: str = "alice@lab.example",
        **extra: str,
    ) -> tuple[str, str]:
        """Headless authorize; returns (code, verifier)."""
        verifier, challenge = data.pkce()
        r = await self.authorize(
            client_id=client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=scope,
            state="st-1",
            code_challenge=challenge,
            code_challenge_method="S256",
            login_hint=login_hint,
            **extra,
        )
        assert r.status_code == 302, r.text
        q = query(r)
        assert q["state"] == "st-1"
        assert "iss" not in q  # Entra sends no RFC 9207 iss (Learn: code and state)
        return q["code"], verifier

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post(self.url("oauth2/v2.0/token"), data=form)


def query(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def error_code(response: httpx.Response) -> int:
    body: dict[str, Any] = response.json()
    assert body["error_description"].startswith(f"AADSTS{body['error_codes'][0]}:")
    assert body["trace_id"]
    assert body["correlation_id"]
    assert body["timestamp"]
    code: int = body["error_codes"][0]
    return code


def make_ctx(tmp_path: Path) -> EmulatorContext:
    return EmulatorContext(
        state_dir=tmp_path,
        store=Store(tmp_path / "emulator.sqlite"),
        base_url=BASE,
        ca_file=tmp_path / "ca.pem",
        cert_file=tmp_path / "cert.pem",
        key_file=tmp_path / "key.pem",
        tenant_id=TENANT,
        subscription_id="22222222-2222-2222-2222-222222222222",
    )


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    ctx = make_ctx(tmp_path)
    seeded = data.seed(ctx.store, ctx.issuer())
    clock = FakeClock()
    app = Starlette(routes=build_routes(ctx, IdentitySettings(clock=clock)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield Harness(ctx, clock, http, seeded)
    ctx.store.close()
