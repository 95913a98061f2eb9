"""Entra providers (app registration, service principal, federated credential) through
msgraph-sdk against the emulator: upsert by uniqueName, read back with no diff, update, delete,
ownership, replication delay, throttling."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from orchestrator.errors import TemporaryError
from orchestrator.providers import providers_for
from orchestrator.spec.models import EntraApp, Lab
from tests.orchestrator.providers.support import (
    Converger,
    local_clients,
    reads,
    target_outputs,
    unique_lab,
    writes,
)
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio


ENTRA = ("entra_app", "service_principal", "federated_credential")


def fake_outputs(lab: Lab) -> dict[str, Any]:
    return {
        "apim.apis.mcp.url": f"https://{lab.apim.service.name}.azure-api.net/mcp",
        "server.url": f"https://{lab.server.name if lab.server else 'server'}.example.net",
        "managed_identities.mcp-server.principal_id": "44444444-4444-4444-4444-444444444444",
    }


async def _apps_named(clients: Any, unique_name: str) -> int:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder

    query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
        filter=f"uniqueName eq '{unique_name}'"
    )
    page = await clients.graph.applications.get(
        request_configuration=RequestConfiguration(query_parameters=query)
    )
    return len(page.value or [])


async def test_entra_kinds_create_read_update_delete(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), fake_outputs(lab))
            created = await conv.converge(ENTRA)
            app = created["entra_app.mcp"]
            assert app.owned
            assert app.outputs["client_id"]
            assert app.outputs["scope"] == f"{fake_outputs(lab)['apim.apis.mcp.url']}/user_impersonate"
            assert created["service_principal.mcp"].outputs["client_id"] == app.outputs["client_id"]
            assert (
                created["federated_credential.mcp.msiAsFic"].properties["subject"]
                == "44444444-4444-4444-4444-444444444444"
            )

            nodes = conv.nodes(ENTRA)
            # Measured on a second read: a log line of the last write may land a moment late.
            await conv.read(nodes)
            before = len(emulator.requests())
            actual = await conv.read(nodes)
            log = emulator.requests()[before:]
            assert writes(log) == []
            for node in nodes:
                assert actual[node.address].owned, node.address
                assert providers[node.kind].diff(conv.desired(node), actual[node.address]) == (), node.address
            print(f"no-op read: {len(reads(log))} read calls for {len(nodes)} owned resources")
            assert len(reads(log)) / len(nodes) <= 1.2

            # Update one field: the server moved, so the SPA redirect URI changes.
            conv.fake["server.url"] = "https://moved.example.net"
            node = conv.graph["entra_app.mcp"]
            desired = conv.desired(node)
            changes = providers["entra_app"].diff(desired, actual[node.address])
            assert [c.path for c in changes] == ["spa.redirectUris"]
            await providers["entra_app"].update(desired, actual[node.address])
            again = await providers["entra_app"].read(lab.name, {node.address: desired})
            assert providers["entra_app"].diff(desired, again[node.address]) == ()
            assert await _apps_named(clients, desired.name) == 1  # an upsert, never a second app

            # Delete: credential, principal, app; then nothing of the lab is left.
            for address in ("federated_credential.mcp.msiAsFic", "service_principal.mcp", "entra_app.mcp"):
                await providers[address.split(".")[0]].delete(actual[address])
            assert await conv.read(nodes) == {}
            assert await _apps_named(clients, desired.name) == 0


async def test_unowned_app_with_the_same_unique_name_is_reported_not_owned(emulator: RunningEmulator) -> None:
    from msgraph.generated.models.application import Application

    lab = unique_lab()
    with anyio.fail_after(30):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), fake_outputs(lab))
            node = conv.graph["entra_app.mcp"]
            desired = conv.desired(node)
            theirs = await clients.graph.applications.post(
                Application(display_name="theirs", unique_name=desired.name)
            )
            found = await providers["entra_app"].read(lab.name, {node.address: desired})
            assert found[node.address].owned is False
            assert found[node.address].handle == theirs.id
            # Nothing the lab owns, nothing named: an empty read, the app left alone.
            assert await providers["entra_app"].read(lab.name, {}) == {}
            await clients.graph.applications.by_application_id(theirs.id).delete()


async def test_service_principal_waits_for_replication(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), fake_outputs(lab))
            # Replication lasts until the app has been seen missing: "invisible for a while" then
            # holds however slowly the machine runs (a fixed 2 s delay could pass before the
            # first read on a loaded machine, and no 404 was ever answered).
            emulator.set_faults(replication_delay_s=3600.0)
            before = len(emulator.requests())

            async def replicate_once_missed() -> None:
                def missed() -> bool:
                    return any(
                        e["resource"] == "applications" and e["status"] == 404
                        for e in emulator.requests()[before:]
                    )

                while True:  # another process's log: polled, bounded by fail_after
                    if await anyio.to_thread.run_sync(missed):
                        break
                    await anyio.sleep(0.05)
                await anyio.to_thread.run_sync(lambda: emulator.set_faults(replication_delay_s=0.0))

            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(replicate_once_missed)
                    created = await conv.converge(ENTRA)
            finally:
                emulator.reset_faults()
            assert created["service_principal.mcp"].owned
            assert created["federated_credential.mcp.msiAsFic"].owned
            assert await _apps_named(clients, created["entra_app.mcp"].name) == 1
            log = emulator.requests()[before:]
            # The app was invisible for a while (404s while polling), then one principal was made.
            assert any(e["resource"] == "applications" and e["status"] == 404 for e in log)
            sp_posts = [e for e in log if e["method"] == "POST" and e["resource"] == "serviceprincipals"]
            assert len([e for e in sp_posts if e["status"] < 300]) == 1


async def test_graph_throttling_is_a_temporary_error_with_the_delay(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    with anyio.fail_after(30):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            emulator.set_faults(apis=["graph"], throttle_rate=1.0, retry_after_ms=2000)
            try:
                with pytest.raises(TemporaryError) as caught:
                    await providers["entra_app"].read(lab.name, {})
            finally:
                emulator.reset_faults()
            assert caught.value.delay == pytest.approx(2.0)


async def test_several_owned_apps_are_read_in_one_list(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            provider = providers_for(clients, lab)["entra_app"]
            addresses: dict[str, Any] = {}
            for i in range(5):
                spec = EntraApp(unique_name=f"{lab.name}-page{i}", display_name=f"page {i}")
                desired = provider.desired(f"entra_app.page{i}", spec, {})
                await provider.create(desired)
                addresses[desired.address] = desired
            before = len(emulator.requests())
            found = await provider.read(lab.name, addresses)
            assert sorted(found) == sorted(addresses)
            assert all(a.owned for a in found.values())
            assert len(reads(emulator.requests()[before:])) == 1  # one list ($top=999), no GET per app
            for actual in found.values():
                await provider.delete(actual)
            assert await provider.read(lab.name, {}) == {}


@pytest.mark.parametrize("faults", [{"error_rate": 1.0}], ids=["5xx"])
async def test_graph_server_errors_are_temporary(emulator: RunningEmulator, faults: dict[str, Any]) -> None:
    lab = unique_lab()
    with anyio.fail_after(30):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            emulator.set_faults(apis=["graph"], **faults)
            try:
                with pytest.raises(TemporaryError, match="HTTP 50"):
                    await providers["service_principal"].read(lab.name, {})
            finally:
                emulator.reset_faults()
