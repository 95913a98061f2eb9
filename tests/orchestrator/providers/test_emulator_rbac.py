"""The engine waits for a role assignment to take effect where a later write needs it: the
container app's image pull through its identity's AcrPull (emulator.arm.image_pull). The
emulator's propagation delay is an hour and the test ends it once the app was refused, so the
wait is seen whatever the machine's speed (the pattern of test_service_principal_waits_for_replication)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import anyio
import pytest

from orchestrator.errors import NotInEffectError, PermanentError, TemporaryError
from orchestrator.providers import providers_for
from orchestrator.providers.errors import PULL_WAITS_FOR
from orchestrator.retry import call_with_retry
from tests.orchestrator.providers.support import Converger, local_clients, target_outputs
from tests.orchestrator.providers.test_acr_build import FAKE, KINDS, _lab, _source
from tests.support.azure import unique
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio


def _pull_refused(entry: dict[str, Any]) -> bool:
    return entry["method"] == "PUT" and "/containerapps/" in entry["path"].lower() and entry["status"] == 400


async def test_the_container_app_waits_for_acr_pull_to_take_effect(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    lab = _lab(_source(tmp_path))
    with anyio.fail_after(120):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            emulator.set_faults(rbac_propagation_s=3600.0)
            try:
                await conv.converge(KINDS[:-1])  # the AcrPull assignment is made, not in effect
                before = len(emulator.requests())
                node = conv.nodes(["container_app"])[0]
                desired = conv.desired(node)
                waits: list[TemporaryError] = []

                async def propagate_once_refused() -> None:
                    def refused() -> bool:
                        return any(_pull_refused(e) for e in emulator.requests()[before:])

                    while True:  # another process's log: polled, bounded by fail_after
                        if await anyio.to_thread.run_sync(refused):
                            break
                        await anyio.sleep(0.05)
                    await anyio.to_thread.run_sync(lambda: emulator.set_faults(rbac_propagation_s=0.0))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(propagate_once_refused)
                    app, attempts = await call_with_retry(
                        lambda: providers["container_app"].create(desired),
                        on_retry=lambda n, w, e: waits.append(e),
                    )
            finally:
                emulator.reset_faults()
            assert app.owned
            assert attempts >= 2
            assert waits
            assert all(isinstance(e, NotInEffectError) and e.waiting_for == PULL_WAITS_FOR for e in waits)
            log = emulator.requests()[before:]
            assert any(_pull_refused(e) for e in log)
            assert any(
                e["method"] == "PUT" and "/containerapps/" in e["path"].lower() and e["status"] < 300
                for e in log
            )


async def test_an_image_pulled_without_credentials_is_refused_at_once(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    """An image of a registry the lab has no identity for is pulled anonymously: the registry's
    UNAUTHORIZED is final (PermanentError naming the image), not a role propagating."""
    lab = _lab(_source(tmp_path))
    with anyio.fail_after(120):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            await conv.converge(KINDS[:-1])
            # another registry the emulator holds (anonymous pull off: ACR's default)
            node = conv.nodes(["container_app"])[0]
            desired = conv.desired(node)
            registry_id = str(desired.properties["@registry_id"])
            other_id = registry_id.rsplit("/", 1)[0] + "/" + unique("crother")
            poller = await clients.resources.resources.begin_create_or_update_by_id(
                other_id, {"location": "westeurope", "sku": {"name": "Standard"}}, api_version="2023-07-01"
            )
            other = (await poller.result()).properties["loginServer"]
            image = f"{other}/mcp-server:1"
            containers = [{**c, "image": image} for c in desired.properties["properties.template.containers"]]
            properties = {**desired.properties, "properties.template.containers": containers}
            properties = {k: v for k, v in properties.items() if k not in ("@source", "@registry_id")}
            anonymous = dataclasses.replace(desired, properties=properties)
            waits: list[TemporaryError] = []
            with pytest.raises(PermanentError) as refused:
                await call_with_retry(
                    lambda: providers["container_app"].create(anonymous),
                    on_retry=lambda n, w, e: waits.append(e),
                )
            assert not waits
            assert f"the image {image} is pulled without credentials" in refused.value.message
            assert "UNAUTHORIZED: authentication required" in refused.value.message
