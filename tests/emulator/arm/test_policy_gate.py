"""In-process: ARM stores a policy only through the PUT-time gate the gateway registers on the
context (``EmulatorContext.policy_checker``); ARM does not import the gateway."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from emulator.app import build_app
from emulator.arm import ArmSettings
from emulator.context import EmulatorContext
from emulator.gateway import check
from emulator.identity import OPERATOR
from emulator.reqlog import RequestLog
from emulator.store import Store
from tests.support.tokens import arm_bearer

pytestmark = pytest.mark.anyio

RG = "/subscriptions/sub/resourceGroups/rg"
SERVICE = f"{RG}/providers/Microsoft.ApiManagement/service/gate"
POLICY = f"{SERVICE}/policies/policy"
Q = {"api-version": "2024-05-01"}
GOOD = "<policies><inbound /><backend><forward-request /></backend><outbound /><on-error /></policies>"
BAD = "<policies><inbound><no-such-policy /></inbound><backend /><outbound /><on-error /></policies>"


async def test_policies_pass_the_registered_gate(tmp_path: Path) -> None:
    ctx = EmulatorContext(
        state_dir=tmp_path,
        store=Store(tmp_path / "db.sqlite"),
        base_url="https://127.0.0.1:1",
        ca_file=tmp_path / "ca.pem",
        cert_file=tmp_path / "server.pem",
        key_file=tmp_path / "server-key.pem",
        tenant_id="t",
        subscription_id="sub",
    )
    log = RequestLog(tmp_path / "requests.jsonl")
    parts = build_app(ctx, ArmSettings(apim_create_seconds=0), log)
    assert ctx.policy_checker is check
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=parts.app),
            base_url="https://127.0.0.1:1",
            headers=arm_bearer(ctx, oid=OPERATOR),  # writes as the subscription's Owner
        ) as c:
            assert (
                await c.put(RG, params={"api-version": "2024-03-01"}, json={"location": "westeurope"})
            ).is_success
            service = {
                "location": "westeurope",
                "sku": {"name": "Developer", "capacity": 1},
                "properties": {"publisherEmail": "lab@example.com", "publisherName": "prmlab"},
            }
            assert (await c.put(SERVICE, params=Q, json=service)).is_success

            bad = await c.put(POLICY, params=Q, json={"properties": {"value": BAD, "format": "rawxml"}})
            assert bad.status_code == 400
            assert bad.json()["error"]["code"] == "ValidationError"
            assert "no-such-policy" in bad.json()["error"]["message"]
            assert (
                await c.put(POLICY, params=Q, json={"properties": {"value": GOOD, "format": "rawxml"}})
            ).is_success

            ctx.policy_checker = None  # no gate: nothing is stored unchecked
            unchecked = await c.put(POLICY, params=Q, json={"properties": {"value": BAD, "format": "rawxml"}})
            assert unchecked.status_code == 500
            stored = await c.get(POLICY, params={**Q, "format": "rawxml"})
            assert "no-such-policy" not in stored.text
    finally:
        log.close()
        ctx.store.close()
