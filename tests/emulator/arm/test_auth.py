"""The emulated ARM accepts only tokens its identity service issued for ARM (issue 17.10), and
refuses the others as ARM does: status 401, ARM's error code and message, a ``WWW-Authenticate``
challenge. Before, any ``Authorization: Bearer <anything>`` was accepted — ``listValue`` handed a
secret named value to ``Bearer x``."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.identity import keys
from tests.support.azure import group_and_service_name
from tests.support.credentials import StaticTokenCredential
from tests.support.emulator import RunningEmulator
from tests.support.tokens import context_for

pytestmark = pytest.mark.anyio
API = {"api-version": "2024-05-01"}
# resource groups are ARM's own API (Microsoft.Resources): it refuses an APIM api-version
RG_API = {"api-version": "2025-04-01"}
ARM_AUDIENCE = "https://management.azure.com/"


def _claims(emu: RunningEmulator, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "aud": ARM_AUDIENCE,
        "iss": f"{emu.base_url}/login/{emu.tenant_id}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "tid": emu.tenant_id,
        "oid": "0a0a0a0a-0000-4000-8000-000000000001",
        "azp": "0a0a0a0a-0000-4000-8000-000000000002",
        "idtyp": "app",
        "ver": "2.0",
        **over,
    }


def _signed(emu: RunningEmulator, tmp_path: Path, **over: Any) -> str:
    ctx = context_for(emu, tmp_path)
    try:
        return keys.sign(ctx, _claims(emu, **over))
    finally:
        ctx.store.close()


def _unsigned(emu: RunningEmulator) -> str:
    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims(emu))}."


def _foreign_key(emu: RunningEmulator, tmp_path: Path) -> str:
    import jwt

    ctx = context_for(emu, tmp_path)
    try:
        kid = keys.current_key(ctx).kid  # the right kid, another key
    finally:
        ctx.store.close()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(emu), other, algorithm="RS256", headers={"kid": kid})


async def _secret_named_value(emu: RunningEmulator) -> str:
    async with emu.apim_client() as c:
        group, svc = await group_and_service_name(emu, c)
        await c.named_value.begin_create_or_update(
            group, svc, "secret", {"display_name": "secret", "value": "s3cr3t-value", "secret": True}
        )
    return (
        f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.ApiManagement"
        f"/service/{svc}/namedValues/secret/listValue"
    )


async def test_the_issues_case_any_bearer_no_longer_reads_a_secret(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    url = await _secret_named_value(emulator)
    async with emulator.http() as h:
        refused = await h.post(url, params=API, headers={"Authorization": "Bearer x"})
        allowed = await h.post(url, params=API, headers=emulator.arm_headers())
    assert refused.status_code == 401
    assert "s3cr3t-value" not in refused.text
    assert refused.json() == {
        "error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}
    }
    assert refused.headers["WWW-Authenticate"] == (
        f'Bearer authorization_uri="{emulator.base_url}/login/{emulator.tenant_id}", error="invalid_token", '
        'error_description="The access token is invalid."'
    )
    assert (allowed.status_code, allowed.json()) == (200, {"value": "s3cr3t-value"})


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("missing", "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."),
        (
            "basic",
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is not in a valid format.",
        ),
        ("alg_none", "InvalidAuthenticationToken", "The access token is invalid."),
        ("foreign_key", "InvalidAuthenticationToken", "The access token is invalid."),
        ("not_yet_valid", "InvalidAuthenticationToken", "The access token is invalid."),
        ("expired", "ExpiredAuthenticationToken", "The access token expiry UTC time '"),
        (
            "graph_audience",
            "InvalidAuthenticationTokenAudience",
            "The access token has been obtained for wrong audience or resource '00000003-0000-0000-c000-000000000000'. "
            "It should exactly match with one of the allowed audiences 'https://management.core.windows.net/',"
            "'https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.",
        ),
        ("other_tenant", "InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer '"),
    ],
)
async def test_refusals_are_arms(
    emulator: RunningEmulator, tmp_path: Path, case: str, code: str, message: str
) -> None:
    header: dict[str, str] = {
        "missing": {},
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
        "alg_none": {"Authorization": f"Bearer {_unsigned(emulator)}"},
        "foreign_key": {"Authorization": f"Bearer {_foreign_key(emulator, tmp_path)}"},
        "not_yet_valid": {
            "Authorization": f"Bearer {_signed(emulator, tmp_path, nbf=int(time.time()) + 3600)}"
        },
        "expired": {"Authorization": f"Bearer {_signed(emulator, tmp_path, exp=int(time.time()) - 3600)}"},
        "graph_audience": {
            "Authorization": f"Bearer {_signed(emulator, tmp_path, aud='00000003-0000-0000-c000-000000000000')}"
        },
        "other_tenant": {
            "Authorization": f"Bearer {_signed(emulator, tmp_path, iss='https://sts.windows.net/other-tenant/')}"
        },
    }[case]
    async with emulator.http() as h:
        r = await h.get(
            f"/subscriptions/{emulator.subscription_id}/resourcegroups", params=RG_API, headers=header
        )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"].startswith(message)
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith(
        f'Bearer authorization_uri="{emulator.base_url}/login/{emulator.tenant_id}", '
    )
    assert 'error="invalid_token"' in challenge


async def test_the_sdk_reports_a_refused_token_as_an_authentication_error(emulator: RunningEmulator) -> None:
    async with emulator.resource_client(StaticTokenCredential("forged"), retry_total=0) as rc:
        with pytest.raises(ClientAuthenticationError) as caught:
            await rc.resource_groups.get("anything")
    assert caught.value.status_code == 401
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidAuthenticationToken"


async def test_management_core_audience_and_v1_issuer_are_accepted(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    ctx = context_for(emulator, tmp_path)
    try:
        token = keys.sign(
            ctx, _claims(emulator, aud="https://management.core.windows.net/", iss=ctx.v1_issuer())
        )
    finally:
        ctx.store.close()
    async with emulator.http() as h:
        r = await h.get(
            f"/subscriptions/{emulator.subscription_id}/resourcegroups",
            params=RG_API,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200
