"""A sub-app whose background work fails leaves the rest serving; health says degraded."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from emulator.app import build_app
from emulator.arm.settings import ArmSettings
from emulator.context import EmulatorContext
from emulator.reqlog import RequestLog
from emulator.server import _guarded
from emulator.store import Store
from tests.support.tokens import arm_bearer

pytestmark = pytest.mark.anyio


async def test_failed_sub_app_is_reported_as_degraded(tmp_path: Path) -> None:
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
    parts = build_app(ctx, ArmSettings(), log)

    async def broken(_: EmulatorContext) -> None:
        raise RuntimeError("cannot bind")

    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=parts.app), base_url="https://127.0.0.1:1"
        ) as c:
            assert (await c.get("/_emulator/health")).json()["status"] == "ok"
            await _guarded("gateway", broken, ctx, parts.failures)
            health = (await c.get("/_emulator/health")).json()
            assert health["status"] == "degraded"
            assert health["failed"] == {"gateway": "RuntimeError: cannot bind"}
            # ARM keeps serving
            r = await c.get("/subscriptions/sub", params={"api-version": "1"}, headers=arm_bearer(ctx))
            assert r.status_code == 200
    finally:
        log.close()
        ctx.store.close()


async def test_application_insights_ingestion_is_accepted(tmp_path: Path) -> None:
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
    parts = build_app(ctx, ArmSettings(), log)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=parts.app), base_url="https://127.0.0.1:1"
        ) as c:
            r = await c.post("/_emulator/ingest/v2.1/track", content=b'{"name":"a"}\n{"name":"b"}\n')
            assert r.json() == {"itemsReceived": 2, "itemsAccepted": 2, "errors": []}
            assert (await c.post("/_emulator/live/QuickPulseService.svc/ping")).headers[
                "x-ms-qps-subscribed"
            ] == "false"
    finally:
        log.close()
        ctx.store.close()
