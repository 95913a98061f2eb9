"""State survives a clean stop and a ``kill -9``: ARM resources, Graph objects, ids, ports,
and an APIM create that was still running when the process died."""

from __future__ import annotations

import anyio
import pytest
from msgraph.generated.models.application import Application

from tests.support.azure import make_group, make_service
from tests.support.emulator import EmulatorFactory, RunningEmulator

pytestmark = pytest.mark.anyio


async def _populate(emu: RunningEmulator) -> tuple[str, str, str, str]:
    group = await make_group(emu, **{"prmlab-lab": "restart"})
    async with emu.apim_client() as c:
        svc = await make_service(c, group)
        await (
            await c.named_value.begin_create_or_update(
                group, svc.name, "nv", {"display_name": "nv", "value": "kept", "secret": True}
            )
        ).result()
    async with emu.graph_client() as graph:
        app = await graph.applications.post(Application(display_name="survivor", tags=["prmlab-lab:restart"]))
    return group, svc.name, svc.gateway_url, app.id


async def _check(emu: RunningEmulator, group: str, svc: str, gateway: str, app_id: str) -> None:
    async with emu.apim_client() as c:
        got = await c.api_management_service.get(group, svc)
        assert (got.provisioning_state, got.gateway_url) == ("Succeeded", gateway)
        assert (await c.named_value.list_value(group, svc, "nv")).value == "kept"
    async with emu.resource_client() as rc:
        assert (await rc.resource_groups.get(group)).tags == {"prmlab-lab": "restart"}
    async with emu.graph_client() as graph:
        assert (await graph.applications.by_application_id(app_id).get()).display_name == "survivor"


async def test_state_survives_clean_restart(make_emulator: EmulatorFactory) -> None:
    first = make_emulator("--apim-create-seconds", "0")
    state = await _populate(first)
    assert first.stop() == 0
    second = make_emulator(state_dir=first.state_dir)
    assert (second.tenant_id, second.subscription_id) == (first.tenant_id, first.subscription_id)
    assert second.base_url == first.base_url  # the previous port is reused: issuer URLs stay valid
    await _check(second, *state)


async def test_state_survives_kill_9(make_emulator: EmulatorFactory) -> None:
    first = make_emulator("--apim-create-seconds", "0.2")
    state = await _populate(first)
    # an APIM create still running when the process dies
    group = state[0]
    async with first.apim_client() as c:
        await c.api_management_service.begin_create_or_update(
            group,
            "inflight-svc",
            {
                "location": "West Europe",
                "sku": {"name": "Developer", "capacity": 1},
                "publisher_email": "a@b.c",
                "publisher_name": "p",
            },
        )
    assert first.kill() == -9
    assert (first.state_dir / "emulator.json").exists()  # stale: the fixture must not trust it
    second = make_emulator("--apim-create-seconds", "0.2", state_dir=first.state_dir)
    await _check(second, *state)
    async with second.apim_client() as c:
        with anyio.fail_after(10):  # the operation is due 0.2 s after it started: settles on read
            while True:
                inflight = await c.api_management_service.get(group, "inflight-svc")
                if inflight.provisioning_state == "Succeeded":
                    break
                await anyio.sleep(0.05)
