"""In-process: every ARM/Graph write publishes an Event (the gateway and runner react to them),
including each resource a cascading delete removes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from emulator.app import build_app
from emulator.arm.settings import ArmSettings
from emulator.context import EmulatorContext, Event
from emulator.identity import OPERATOR
from emulator.reqlog import RequestLog
from emulator.store import Store
from tests.support.tokens import arm_bearer, graph_bearer

pytestmark = pytest.mark.anyio


async def test_writes_and_cascades_publish_events(tmp_path: Path) -> None:
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
    events: list[Event] = []

    async def listen(event: Event) -> None:
        events.append(event)

    ctx.subscribe(listen)
    log = RequestLog(tmp_path / "requests.jsonl")
    parts = build_app(ctx, ArmSettings(apim_create_seconds=0), log)
    rg = "/subscriptions/sub/resourceGroups/rg"
    app_id = f"{rg}/providers/Microsoft.App/containerApps/app"
    env_id = f"{rg}/providers/Microsoft.App/managedEnvironments/env"
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=parts.app),
            base_url="https://127.0.0.1:1",
            headers=arm_bearer(ctx, oid=OPERATOR),  # writes as the subscription's Owner
        ) as c:
            q = {"api-version": "2024-03-01"}
            assert (await c.put(rg, params=q, json={"location": "westeurope"})).status_code == 201
            assert (await c.put(env_id, params=q, json={"location": "westeurope"})).status_code == 201
            body = {
                "location": "westeurope",
                "properties": {
                    "managedEnvironmentId": env_id,
                    "configuration": {"ingress": {"targetPort": 80}},
                },
            }
            created = await c.put(app_id, params=q, json=body)
            assert created.status_code == 201
            assert created.json()["properties"]["configuration"]["ingress"]["fqdn"].startswith("127.0.0.1:")
            assert Event("put", "microsoft.app/containerapps", app_id.lower()) in events
            graph = await c.post(
                "/v1.0/applications",
                json={"displayName": "a"},
                headers=graph_bearer(ctx, roles=["Application.ReadWrite.All"]),
            )
            assert Event("put", "graph/applications", graph.json()["id"]) in events
            events.clear()
            assert (await c.delete(rg, params=q)).status_code == 202
        deleted = {(e.action, e.kind) for e in events}
        assert ("delete", "microsoft.app/containerapps") in deleted
        assert ("delete", "microsoft.app/managedenvironments") in deleted
        assert ("delete", "microsoft.resources/resourcegroups") in deleted
        assert ctx.store.get("microsoft.app/containerapps", app_id.lower()) is None
    finally:
        log.close()
        ctx.store.close()
