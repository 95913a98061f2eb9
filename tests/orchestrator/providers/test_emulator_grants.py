"""The admin consent provider (``permission_grant``: an oauth2PermissionGrant, AllPrincipals, on
the app's service principal) through msgraph-sdk against the emulator: create with Graph's
service principal as the resource and permission *values* as the scope, read back with no diff,
update, replication wait, ownership through the service principal, delete."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from orchestrator.providers import providers_for
from tests.orchestrator.providers.support import Converger, local_clients, target_outputs, unique_lab, writes
from tests.orchestrator.providers.test_emulator_entra import fake_outputs
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

GRAPH = "00000003-0000-0000-c000-000000000000"
USER_READ = "e1fe6dd8-ba31-4d61-89e7-88639da4683d"
USER_READ_BASIC_ALL = "b340eb25-3456-403f-be2f-af7a0d370277"
KINDS = ("entra_app", "service_principal", "permission_grant")
GRANT = f"permission_grant.mcp.{GRAPH}"


async def _grants(clients: Any, client_sp: str) -> list[Any]:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.oauth2_permission_grants.oauth2_permission_grants_request_builder import (
        Oauth2PermissionGrantsRequestBuilder,
    )

    query = Oauth2PermissionGrantsRequestBuilder.Oauth2PermissionGrantsRequestBuilderGetQueryParameters(
        filter=f"clientId eq '{client_sp}'"
    )
    page = await clients.graph.oauth2_permission_grants.get(
        request_configuration=RequestConfiguration(query_parameters=query)
    )
    return list(page.value or [])


async def test_admin_consent_grant_create_read_update_delete(emulator: RunningEmulator) -> None:
    from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant

    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), fake_outputs(lab))
            created = await conv.converge(KINDS)
            grant = created[GRANT]
            assert grant.owned
            sp = created["service_principal.mcp"].handle
            graph_sp = await clients.graph.service_principals_with_app_id(GRAPH).get()
            [stored] = await _grants(clients, sp)
            assert (stored.consent_type, stored.resource_id, stored.scope) == (
                "AllPrincipals",
                graph_sp.id,
                "User.Read",
            )

            # A user's own consent on the same principal is the user's: never read, never touched.
            await clients.graph.oauth2_permission_grants.post(
                OAuth2PermissionGrant(
                    client_id=sp,
                    consent_type="Principal",
                    principal_id="55555555-5555-5555-5555-555555555555",
                    resource_id=graph_sp.id,
                    scope="User.Read",
                )
            )
            nodes = conv.nodes(KINDS)
            before = len(emulator.requests())
            actual = await conv.read(nodes)
            assert writes(emulator.requests()[before:]) == []
            assert set(actual) == {n.address for n in nodes}
            node = conv.graph[GRANT]
            assert providers["permission_grant"].diff(conv.desired(node), actual[GRANT]) == ()

            # Another permission in lab.yaml: an update of the same grant (the scope is values).
            desired = providers["permission_grant"].desired(
                GRANT, node.spec.model_copy(update={"scopes": (USER_READ, USER_READ_BASIC_ALL)}), {}
            )
            assert [c.path for c in providers["permission_grant"].diff(desired, actual[GRANT])] == ["scopes"]
            await providers["permission_grant"].update(desired, actual[GRANT])
            owned = [g for g in await _grants(clients, sp) if g.consent_type == "AllPrincipals"]
            assert [g.scope for g in owned] == ["User.Read User.ReadBasic.All"]
            again = await providers["permission_grant"].read(lab.name, {GRANT: desired})
            assert providers["permission_grant"].diff(desired, again[GRANT]) == ()

            # Not in lab.yaml any more: an owned leftover, addressed for pruning; then deleted.
            leftover = await providers["permission_grant"].read(lab.name, {})
            assert list(leftover) == [f"permission_grant.{desired.properties['@app']}.{GRAPH}"]
            await providers["permission_grant"].delete(again[GRANT])
            remaining = await _grants(clients, sp)
            assert [g.consent_type for g in remaining] == ["Principal"]
            assert await providers["permission_grant"].read(lab.name, {GRANT: desired}) == {}


async def test_a_new_grant_is_waited_for_until_it_has_replicated(emulator: RunningEmulator) -> None:
    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), fake_outputs(lab))
            await conv.converge(("entra_app", "service_principal"))
            emulator.set_faults(replication_delay_s=2.0)
            before = len(emulator.requests())
            try:
                created = await conv.converge(("permission_grant",))
            finally:
                emulator.reset_faults()
            log = emulator.requests()[before:]
            grants = [e for e in log if e["resource"] == "oauth2permissiongrants"]
            assert [e["status"] for e in grants if e["method"] == "POST"] == [201]
            # read back by id: not found while it replicates, then found
            gets = [e["status"] for e in grants if e["method"] == "GET" and e["path"].count("/") > 2]
            assert 404 in gets
            assert gets[-1] == 200
            assert created[GRANT].outputs["scope"] == "User.Read"


async def test_unknown_permission_id_is_a_clear_error(emulator: RunningEmulator) -> None:
    from orchestrator.errors import PermanentError

    lab = unique_lab()
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), fake_outputs(lab))
            await conv.converge(("entra_app", "service_principal"))
            node = conv.graph[GRANT]
            bogus = "99999999-9999-9999-9999-999999999999"
            desired = providers["permission_grant"].desired(
                GRANT, node.spec.model_copy(update={"scopes": (bogus,)}), {}
            )
            with pytest.raises(PermanentError, match=f"no delegated permission .*{bogus}"):
                await providers["permission_grant"].create(desired)
