"""The emulated Graph accepts only tokens its identity service issued for Graph (issue 17.10),
refused as Graph does: 401 ``InvalidAuthenticationToken`` with Graph's message and its challenge
``WWW-Authenticate: Bearer realm="", authorization_uri=…, client_id="00000003-…"``. Before, every
call but ``/me`` accepted any bearer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulator.identity import keys
from tests.support.emulator import RunningEmulator
from tests.support.tokens import context_for

pytestmark = pytest.mark.anyio
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def _signed(emu: RunningEmulator, tmp_path: Path, **over: object) -> str:
    ctx = context_for(emu, tmp_path)
    now = int(time.time())
    claims = {
        "aud": GRAPH_APP_ID,
        "iss": ctx.issuer(),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "tid": emu.tenant_id,
        "oid": "0b0b0b0b-0000-4000-8000-000000000001",
        "idtyp": "app",
        "ver": "2.0",
        **over,
    }
    try:
        return keys.sign(ctx, claims)
    finally:
        ctx.store.close()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "Access token is empty."),
        ("garbage", "Access token validation failure."),
        ("expired", "Lifetime validation failed, the token is expired."),
        ("arm_audience", "Access token validation failure. Invalid audience."),
        ("other_issuer", "Access token validation failure. Invalid issuer."),
    ],
)
async def test_refusals_are_graphs(
    emulator: RunningEmulator, tmp_path: Path, case: str, message: str
) -> None:
    header = {
        "missing": {},
        "garbage": {"Authorization": "Bearer x"},
        "expired": {"Authorization": f"Bearer {_signed(emulator, tmp_path, exp=int(time.time()) - 3600)}"},
        "arm_audience": {
            "Authorization": f"Bearer {_signed(emulator, tmp_path, aud='https://management.azure.com/')}"
        },
        "other_issuer": {
            "Authorization": f"Bearer {_signed(emulator, tmp_path, iss='https://sts.windows.net/x/')}"
        },
    }[case]
    async with emulator.http() as h:
        r = await h.post("/v1.0/applications", json={"displayName": "never"}, headers=header)
    assert r.status_code == 401
    error = r.json()["error"]
    assert (error["code"], error["message"]) == ("InvalidAuthenticationToken", message)
    assert r.headers["WWW-Authenticate"] == (
        f'Bearer realm="", authorization_uri="{emulator.base_url}/login/common/oauth2/authorize", '
        f'client_id="{GRAPH_APP_ID}"'
    )
    async with emulator.http(headers=emulator.graph_headers()) as h:
        listed = await h.get("/v1.0/applications", params={"$filter": "displayName eq 'never'"})
    assert listed.status_code == 200
    assert listed.json()["value"] == []  # nothing was created


async def test_the_operator_token_is_accepted(emulator: RunningEmulator) -> None:
    async with emulator.http(headers=emulator.graph_headers()) as h:
        assert (await h.get("/v1.0/applications")).status_code == 200
