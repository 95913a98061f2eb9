"""ARM providers (APIM, monitoring, identity, registry, role assignment) through the real SDKs
against the emulator: create, read back with no diff, update one field, prune, delete,
ownership, error translation, and the read-call count of a no-op read."""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio
import pytest

from orchestrator.errors import PermanentError, TemporaryError
from orchestrator.providers import providers_for
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

ARM_KINDS = (
    "resource_group",
    "log_analytics_workspace",
    "app_insights",
    "managed_identity",
    "apim_service",
    "apim_logger",
    "apim_diagnostic",
    "named_value",
    "backend",
    "api",
    "api_policy",
    "operation",
    "operation_policy",
    "container_registry",
    "role_assignment",
    "container_environment",
)
FAKE = {  # outputs of nodes this test does not create (Entra, the server)
    "entra.apps.mcp.client_id": "22222222-2222-2222-2222-222222222222",
    "entra.apps.mcp.identifier_uri": "api://22222222-2222-2222-2222-222222222222",
    "entra.apps.mcp.scope": "api://22222222-2222-2222-2222-222222222222/user_impersonate",
    "server.url": "https://127.0.0.1:9",
}


async def test_arm_kinds_create_read_update_prune_delete(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            created = await conv.converge(ARM_KINDS)
            assert all(a.owned for a in created.values())
            assert created["apim_service.main"].outputs["gateway_url"].startswith("https://127.0.0.1:")
            assert created["managed_identity.mcp-server"].outputs["principal_id"]

            # A no-op read: everything found, owned, no diff, no write; count the read calls.
            nodes = conv.nodes(ARM_KINDS)
            # Measured on a second read: a log line of the last write may land a moment late.
            await conv.read(nodes)
            before = len(emulator.requests())
            actual = await conv.read(nodes)
            log = emulator.requests()[before:]
            assert writes(log) == []
            for node in nodes:
                assert node.address in actual, node.address
                assert actual[node.address].owned, node.address
                assert providers[node.kind].diff(conv.desired(node), actual[node.address]) == (), node.address
            ratio = len(reads(log)) / len(nodes)
            print(f"no-op read: {len(reads(log))} read calls for {len(nodes)} owned resources = {ratio:.2f}")
            assert ratio <= 1.2

            # Edit one named value: exactly that change, applied, then no diff.
            node = conv.graph["named_value.McpApiPath"]
            edited = dataclasses.replace(node, spec=node.spec.model_copy(update={"value": "mcp2"}))
            desired = conv.desired(edited)
            changes = providers["named_value"].diff(desired, actual[node.address])
            assert [(c.path, c.old, c.new) for c in changes] == [("properties.value", "mcp", "mcp2")]
            updated = await providers["named_value"].update(desired, actual[node.address])
            again = await providers["named_value"].read(lab.name, {node.address: desired})
            assert providers["named_value"].diff(desired, again[node.address]) == ()
            assert updated.properties["properties.value"] == "mcp2"

            # Prune: with the discovery API gone from the spec its owned leftovers get synthetic addresses.
            kept = [n for n in nodes if n.kind == "api" and n.key != "mcp-prm-dynamic-discovery"]
            api_view = await providers["api"].read(lab.name, {n.address: conv.desired(n) for n in kept})
            assert set(api_view) == {"api.mcp", "api.entra-metadata", "api.mcp-prm-dynamic-discovery"}
            assert api_view["api.mcp-prm-dynamic-discovery"].owned
            await providers["api"].delete(actual["api.mcp-prm-dynamic-discovery"])
            api_view = await providers["api"].read(lab.name, {n.address: conv.desired(n) for n in kept})
            assert set(api_view) == {"api.mcp", "api.entra-metadata"}


async def test_same_named_unowned_resources_are_reported_not_owned(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            await conv.converge(("resource_group", "apim_service"))
            rg, service = lab.target.resource_group, lab.apim.service.name
            # Someone else's API with the name our spec uses, and one we do not name at all.
            for name in ("mcp", "theirs"):
                poller = await clients.apim.api.begin_create_or_update(
                    rg,
                    service,
                    name,
                    {"properties": {"path": name, "displayName": name, "protocols": ["https"]}},
                )
                await poller.result()
            node = conv.graph["api.mcp"]
            found = await providers["api"].read(lab.name, {node.address: conv.desired(node)})
            assert set(found) == {"api.mcp"}  # "theirs" is neither named nor owned: left alone
            assert found["api.mcp"].owned is False
            # The service is ours, but deleting it would delete their APIs: refused, nothing deleted.
            service_node = conv.graph["apim_service.main"]
            ours = await providers["apim_service"].read(
                lab.name, {service_node.address: conv.desired(service_node)}
            )
            with pytest.raises(PermanentError, match="mcp, theirs"):
                await providers["apim_service"].delete(ours[service_node.address])
            assert (await clients.apim.api.get(rg, service, "theirs")).name == "theirs"
            # A group of the same name without the mark.
            other = unique_lab()
            await clients.resources.resource_groups.create_or_update(
                other.target.resource_group, {"location": "ukwest"}
            )
            other_providers = providers_for(clients, other)
            rg_node = Converger(other, other_providers, target_outputs(emulator), FAKE).graph[
                "resource_group.main"
            ]
            groups = await other_providers["resource_group"].read(
                other.name,
                {
                    rg_node.address: other_providers["resource_group"].desired(
                        rg_node.address, rg_node.spec, {}
                    )
                },
            )
            assert groups["resource_group.main"].owned is False


@pytest.mark.parametrize(
    ("faults", "delay"),
    [({"throttle_rate": 1.0, "retry_after_ms": 700}, 0.7), ({"error_rate": 1.0}, None)],
    ids=["429", "5xx"],
)
async def test_faults_become_temporary_errors(
    emulator: RunningEmulator, faults: dict[str, Any], delay: float | None
) -> None:
    lab = unique_lab()
    with anyio.fail_after(30):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            node = conv.graph["apim_service.main"]
            emulator.set_faults(apis=["arm"], **faults)
            try:
                with pytest.raises(TemporaryError) as caught:
                    await providers["apim_service"].read(lab.name, {node.address: conv.desired(node)})
            finally:
                emulator.reset_faults()
            if delay is not None:
                assert caught.value.delay == pytest.approx(delay)
            assert "apim.service" in caught.value.message


async def test_apim_service_delete_purges_the_soft_deleted_service(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            created = await conv.converge(("resource_group", "apim_service"))
            await providers["apim_service"].delete(created["apim_service.main"])
            node = conv.graph["apim_service.main"]
            assert await providers["apim_service"].read(lab.name, {node.address: conv.desired(node)}) == {}
            deleted = [s.name async for s in clients.apim.deleted_services.list_by_subscription()]
            assert lab.apim.service.name not in deleted
            # The name is free again: creating the service anew works.
            again = await providers["apim_service"].create(conv.desired(node))
            assert again.owned
            await providers["apim_service"].delete(again)
            await providers["resource_group"].delete(created["resource_group.main"])


async def test_container_app_is_written_whole_from_the_spec(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    server = lab.server
    assert server is not None
    # An image the local runner does not start: this test is about the ARM resource only.
    object.__setattr__(
        lab, "server", server.model_copy(update={"image": "example.azurecr.io/hello:1", "source": None})
    )
    kinds = (
        "resource_group",
        "managed_identity",
        "container_registry",
        "role_assignment",
        "container_environment",
        "container_app",
    )
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            created = await conv.converge(kinds)
            app = created["container_app.server"]
            assert app.owned
            containers = app.properties["properties.template.containers"]
            env = {e["name"]: e.get("value") for e in containers[0]["env"]}
            assert env["AZURE_CLIENT_ID"] == FAKE["entra.apps.mcp.client_id"]
            assert (
                env["AZURE_MANAGED_IDENTITY_CLIENT_ID"]
                == created["managed_identity.mcp-server"].outputs["client_id"]
            )
            assert containers[0]["image"] == "example.azurecr.io/hello:1"
            node = conv.graph["container_app.server"]
            again = await providers["container_app"].read(lab.name, {node.address: conv.desired(node)})
            assert providers["container_app"].diff(conv.desired(node), again[node.address]) == ()
            grant = created["role_assignment.server-acr-pull"]
            assert grant.owned
            assert (
                grant.properties["properties.principalId"]
                == created["managed_identity.mcp-server"].outputs["principal_id"]
            )
            await providers["container_app"].delete(app)
            assert await providers["container_app"].read(lab.name, {node.address: conv.desired(node)}) == {}


async def test_resource_group_delete_refuses_while_it_holds_foreign_resources(
    emulator: RunningEmulator,
) -> None:
    lab = unique_lab()
    with anyio.fail_after(30):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            created = await conv.converge(("resource_group", "managed_identity"))
            rg = lab.target.resource_group
            foreign = f"/subscriptions/{emulator.subscription_id}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/theirs"
            poller = await clients.resources.resources.begin_create_or_update_by_id(
                foreign, {"location": "ukwest"}, api_version="2023-01-31"
            )
            await poller.result()
            with pytest.raises(PermanentError, match="theirs"):
                await providers["resource_group"].delete(created["resource_group.main"])
            assert (await clients.resources.resource_groups.get(rg)).name == rg
            await providers["managed_identity"].delete(created["managed_identity.mcp-server"])
            poller = await clients.resources.resources.begin_delete_by_id(foreign, api_version="2023-01-31")
            await poller.result()
            await providers["resource_group"].delete(created["resource_group.main"])
            node = conv.graph["resource_group.main"]
            desired = providers["resource_group"].desired(node.address, node.spec, {})
            assert await providers["resource_group"].read(lab.name, {node.address: desired}) == {}


async def test_adopting_adds_the_mark_and_keeps_foreign_tags(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    with anyio.fail_after(30):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            await conv.converge(("resource_group",))
            node = conv.graph["managed_identity.mcp-server"]
            desired = conv.desired(node)
            poller = await clients.resources.resources.begin_create_or_update_by_id(
                desired.properties["@id"],
                {"location": "ukwest", "tags": {"team": "platform"}},
                api_version="2023-01-31",
            )
            await poller.result()
            theirs = (await providers["managed_identity"].read(lab.name, {node.address: desired}))[
                node.address
            ]
            assert theirs.owned is False
            assert [c.path for c in providers["managed_identity"].diff(desired, theirs)] == ["tags"]
            adopted = await providers["managed_identity"].update(desired, theirs)
            assert adopted.owned
            assert adopted.properties["tags"] == {"team": "platform", "prmlab-lab": lab.name}


async def test_mcp_api_is_written_and_read_as_azure_serves_it(emulator: RunningEmulator) -> None:
    """The MCP API at the original lab's api-version with its body: ``backendId`` (no
    ``serviceUrl``), streamable transport; read back at that version, a second run has nothing to
    change, also when the server (the backend's URL) moves; a change out of band is repaired."""
    from orchestrator.providers.apim_apis import MCP_API_VERSION
    from orchestrator.providers.base import json_body

    lab = unique_lab()
    kinds = ("resource_group", "apim_service", "backend", "api")
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            created = await conv.converge(kinds)
            mcp = created["api.mcp"].properties
            assert mcp["properties.type"] == "mcp"
            assert mcp["properties.backendId"] == "mcp-backend"
            assert mcp["properties.serviceUrl"] is None
            assert mcp["properties.mcpProperties.transportType"] == "streamable"
            assert created["api.mcp-prm-dynamic-discovery"].properties["properties.type"] == "http"

            rg, service = lab.target.resource_group, lab.apim.service.name
            async with emulator.http() as h:
                url = (
                    f"/subscriptions/{emulator.subscription_id}/resourceGroups/{rg}"
                    f"/providers/Microsoft.ApiManagement/service/{service}/apis/mcp"
                )
                auth = emulator.arm_headers()  # ARM validates tokens (issue 17 item 10)
                stable = await h.get(url, params={"api-version": "2024-05-01"}, headers=auth)
                assert stable.status_code == 404  # written at the preview, as the deployed lab
                stored = (await h.get(url, params={"api-version": MCP_API_VERSION}, headers=auth)).json()
            assert stored["properties"]["authenticationSettings"] == {
                "oAuth2AuthenticationSettings": [],
                "openidAuthenticationSettings": [],
            }
            assert stored["properties"]["isCurrent"] is True

            # The server moves: the backend is updated; the MCP API names it, nothing to change.
            conv.fake["server.url"] = "https://127.0.0.1:10"
            backend_node = conv.graph["backend.mcp-backend"]
            await providers["backend"].update(conv.desired(backend_node), created[backend_node.address])
            apis = await conv.read(conv.nodes(("api",)))
            assert providers["api"].diff(conv.desired(conv.graph["api.mcp"]), apis["api.mcp"]) == ()

            # Changed out of band: the diff shows it and an update puts it back.
            await clients.apim.api.update(  # as JSON: the SDK's ApiUpdateContract has no backendId
                rg,
                service,
                "mcp",
                "*",
                json_body({"properties": {"backendId": "elsewhere"}}),
                api_version=MCP_API_VERSION,
            )
            providers = conv.providers = providers_for(clients, lab)  # a new run reads afresh
            apis = await conv.read(conv.nodes(("api",)))
            desired = conv.desired(conv.graph["api.mcp"])
            changes = providers["api"].diff(desired, apis["api.mcp"])
            assert [(c.path, c.old, c.new) for c in changes] == [
                ("properties.backendId", "elsewhere", "mcp-backend")
            ]
            fixed = await providers["api"].update(desired, apis["api.mcp"])
            assert fixed.properties["properties.backendId"] == "mcp-backend"


async def test_an_mcp_api_written_the_old_way_gets_a_clean_one_time_update(emulator: RunningEmulator) -> None:
    """Labs reconciled before the MCP API moved to its api-version hold ``type: mcp`` with a
    ``serviceUrl`` and no ``backendId``/``mcpProperties``: the next plan updates exactly the MCP
    fields, once; the run after that has nothing to change."""
    from orchestrator.providers.apim_apis import MCP_API_VERSION

    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            await conv.converge(("resource_group", "apim_service", "backend"))
            rg, service = lab.target.resource_group, lab.apim.service.name
            old_body = {
                "properties": {
                    "displayName": "MCP tools",
                    "type": "mcp",
                    "path": "mcp",
                    "protocols": ["https"],
                    "subscriptionRequired": False,
                    "serviceUrl": FAKE["server.url"] + "/mcp",
                    "description": f"[prmlab-lab:{lab.name}]",
                }
            }
            async with emulator.http() as h:
                url = (
                    f"/subscriptions/{emulator.subscription_id}/resourceGroups/{rg}"
                    f"/providers/Microsoft.ApiManagement/service/{service}/apis/mcp"
                )
                put = await h.put(
                    url,
                    params={"api-version": MCP_API_VERSION},
                    headers=emulator.arm_headers(),
                    json=old_body,
                )
                assert put.status_code == 201, put.text
            apis = await conv.read(conv.nodes(("api",)))
            desired = conv.desired(conv.graph["api.mcp"])
            changes = providers["api"].diff(desired, apis["api.mcp"])
            # (absent authenticationSettings lists equal the empty lists the lab sends)
            assert sorted(c.path for c in changes) == [
                "properties.backendId",
                "properties.mcpProperties.transportType",
            ]
            assert apis["api.mcp"].owned
            await providers["api"].update(desired, apis["api.mcp"])
            providers = conv.providers = providers_for(clients, lab)
            apis = await conv.read(conv.nodes(("api",)))
            assert providers["api"].diff(desired, apis["api.mcp"]) == ()
