"""Generic ARM resources through azure-mgmt-resource aio: groups, identities, registries,
environments, container apps, role assignments, workspaces, components, lists with $filter."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from emulator.store import Store
from tests.support.azure import make_group, unique
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio


def rid(emu: RunningEmulator, group: str, type_: str, name: str) -> str:
    return f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/{type_}/{name}"


async def put(rc: Any, resource_id: str, body: dict[str, Any], api_version: str) -> Any:
    return await (
        await rc.resources.begin_create_or_update_by_id(resource_id, body, api_version=api_version)
    ).result()


async def test_resource_groups(emulator: RunningEmulator) -> None:
    name = unique("rg-")
    async with emulator.resource_client() as rc:
        created = await rc.resource_groups.create_or_update(
            name, {"location": "West Europe", "tags": {"prmlab-lab": "g"}}
        )
        assert (created.location, created.properties.provisioning_state) == ("westeurope", "Succeeded")
        again = await rc.resource_groups.create_or_update(
            name, {"location": "westeurope", "tags": {"prmlab-lab": "g2"}}
        )
        assert again.tags == {"prmlab-lab": "g2"}
        assert await rc.resource_groups.check_existence(name)
        assert name in [
            g.name
            async for g in rc.resource_groups.list(filter="tagName eq 'prmlab-lab' and tagValue eq 'g2'")
        ]
        assert name not in [
            g.name
            async for g in rc.resource_groups.list(filter="tagName eq 'prmlab-lab' and tagValue eq 'zzz'")
        ]
        await (await rc.resource_groups.begin_delete(name)).result()
        with pytest.raises(ResourceNotFoundError):
            await rc.resource_groups.get(name)
        with pytest.raises(ResourceNotFoundError):
            await (await rc.resource_groups.begin_delete(name)).result()


async def test_identity_registry_environment_and_container_app(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.resource_client() as rc:
        uami_id = rid(emulator, group, "Microsoft.ManagedIdentity/userAssignedIdentities", "id-mcp")
        uami = await put(rc, uami_id, {"location": "westeurope", "tags": {"prmlab-lab": "x"}}, "2023-01-31")
        assert uuid.UUID(uami.properties["principalId"])
        assert uuid.UUID(uami.properties["clientId"])
        assert uami.properties["tenantId"] == emulator.tenant_id
        again = await put(rc, uami_id, {"location": "westeurope", "tags": {"prmlab-lab": "y"}}, "2023-01-31")
        assert again.properties["clientId"] == uami.properties["clientId"]

        registry = unique("acrlab")  # global name; the session emulator holds every test's
        acr_id = rid(emulator, group, "Microsoft.ContainerRegistry/registries", registry)
        acr = await put(rc, acr_id, {"location": "westeurope", "sku": {"name": "Basic"}}, "2023-07-01")
        server = f"{registry}.azurecr.io"
        assert acr.properties["loginServer"] == server
        assert "adminPasswords" not in acr.properties  # the admin user's passwords: never on a GET
        # the app pulls with its identity's AcrPull (emulator.arm.image_pull; propagation is 0 here)
        acr_pull = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
        await put(
            rc,
            f"{acr_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            {"properties": {"roleDefinitionId": acr_pull, "principalId": uami.properties["principalId"]}},
            "2022-04-01",
        )

        ws = await put(
            rc,
            rid(emulator, group, "Microsoft.OperationalInsights/workspaces", "logs"),
            {"location": "westeurope", "properties": {"retentionInDays": 30}},
            "2022-10-01",
        )
        assert uuid.UUID(ws.properties["customerId"])
        assert "sharedKeys" not in ws.properties

        env_id = rid(emulator, group, "Microsoft.App/managedEnvironments", "env")
        env = await put(
            rc,
            env_id,
            {
                "location": "westeurope",
                "properties": {
                    "appLogsConfiguration": {
                        "destination": "log-analytics",
                        "logAnalyticsConfiguration": {
                            "customerId": ws.properties["customerId"],
                            "sharedKey": "k",
                        },
                    }
                },
            },
            "2024-03-01",
        )
        assert "sharedKey" not in env.properties["appLogsConfiguration"]["logAnalyticsConfiguration"]

        app_id = rid(emulator, group, "Microsoft.App/containerApps", "mcp")
        body: dict[str, Any] = {
            "location": "westeurope",
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {uami_id: {}}},
            "properties": {
                "managedEnvironmentId": env_id,
                "configuration": {
                    "ingress": {"external": True, "targetPort": 8000},
                    "secrets": [{"name": "s", "value": "hidden"}],
                    "registries": [{"server": server, "identity": uami_id}],
                },
                "template": {"containers": [{"name": "mcp", "image": f"{server}/mcp:1"}]},
            },
        }
        app = await put(rc, app_id, body, "2024-03-01")
        fqdn = app.properties["configuration"]["ingress"]["fqdn"]
        assert fqdn.startswith("127.0.0.1:")
        assert app.properties["latestRevisionFqdn"] == fqdn
        assert "value" not in app.properties["configuration"]["secrets"][0]
        assert app.identity.user_assigned_identities[uami_id].client_id == uami.properties["clientId"]
        body["properties"]["template"]["containers"][0]["image"] = f"{server}/mcp:2"
        # the runner writes runningStatus/localRunner into the stored app; an update keeps them
        store = Store(emulator.state_dir / "emulator.sqlite")
        try:
            doc = store.get("microsoft.app/containerapps", app_id.lower())
            assert doc is not None
            runner_view = {
                **doc.body["properties"],
                "runningStatus": "Progressing",
                "localRunner": {"state": "starting"},
            }
            store.put(doc.kind, doc.key, {**doc.body, "properties": runner_view}, parent=doc.parent)
        finally:
            store.close()
        updated = await put(rc, app_id, body, "2024-03-01")
        # The live runner may already have written its own view for the new image (this one is
        # not runnable locally: Stopped); either way ARM's update kept the runner's fields.
        assert updated.properties["runningStatus"] in ("Progressing", "Stopped")
        assert updated.properties["localRunner"]["state"] in ("starting", "Stopped", "Failed")
        assert updated.properties["configuration"]["ingress"]["fqdn"] == fqdn
        assert updated.properties["latestRevisionName"] != app.properties["latestRevisionName"]
        got = await rc.resources.get_by_id(app_id, api_version="2024-03-01")
        assert got.properties["latestRevisionFqdn"] == fqdn

        body["properties"]["managedEnvironmentId"] = env_id + "-missing"
        with pytest.raises(ResourceNotFoundError):
            await put(rc, rid(emulator, group, "Microsoft.App/containerApps", "orphan"), body, "2024-03-01")

        comp = await put(
            rc,
            rid(emulator, group, "Microsoft.Insights/components", "ai"),
            {"location": "westeurope", "kind": "web", "properties": {"Application_Type": "web"}},
            "2020-02-02",
        )
        assert uuid.UUID(comp.properties["InstrumentationKey"])
        assert comp.properties["ConnectionString"].startswith(
            f"InstrumentationKey={comp.properties['InstrumentationKey']};"
        )


async def test_role_assignments(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.resource_client() as rc:
        acr_id = rid(emulator, group, "Microsoft.ContainerRegistry/registries", "acrtwo")
        await put(rc, acr_id, {"location": "westeurope", "sku": {"name": "Basic"}}, "2023-07-01")
        role = f"/subscriptions/{emulator.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
        principal = str(uuid.uuid4())
        ra_id = f"{acr_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        body = {
            "properties": {
                "roleDefinitionId": role,
                "principalId": principal,
                "principalType": "ServicePrincipal",
            }
        }
        ra = await put(rc, ra_id, body, "2022-04-01")
        assert ra.properties["scope"] == acr_id
        with pytest.raises(ResourceExistsError, match="RoleAssignmentExists"):
            await put(
                rc,
                f"{acr_id}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                body,
                "2022-04-01",
            )
        with pytest.raises(HttpResponseError, match="InvalidRoleAssignmentId"):
            await put(
                rc,
                f"{acr_id}/providers/Microsoft.Authorization/roleAssignments/not-a-guid",
                body,
                "2022-04-01",
            )
        with pytest.raises(ResourceNotFoundError):
            await put(
                rc,
                f"{acr_id}-nope/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                body,
                "2022-04-01",
            )
        # deleting the scope resource deletes its role assignments
        await (await rc.resources.begin_delete_by_id(acr_id, api_version="2023-07-01")).result()
        with pytest.raises(ResourceNotFoundError):
            await rc.resources.get_by_id(ra_id, api_version="2022-04-01")


async def test_list_by_group_with_tag_filter_and_group_delete(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.resource_client() as rc:
        for i in range(4):
            tags = {"prmlab-lab": "mine"} if i % 2 == 0 else {"other": "x"}
            await put(
                rc,
                rid(emulator, group, "Microsoft.ManagedIdentity/userAssignedIdentities", f"id{i}"),
                {"location": "westeurope", "tags": tags},
                "2023-01-31",
            )
        mine = [
            r.name
            async for r in rc.resources.list_by_resource_group(
                group, filter="tagName eq 'prmlab-lab' and tagValue eq 'mine'"
            )
        ]
        assert sorted(mine) == ["id0", "id2"]
        everything = [r async for r in rc.resources.list_by_resource_group(group)]
        assert len(everything) == 4
        assert everything[0].type == "Microsoft.ManagedIdentity/userAssignedIdentities"
        by_type = [
            r.name
            async for r in rc.resources.list_by_resource_group(
                group, filter="resourceType eq 'Microsoft.ManagedIdentity/userAssignedIdentities'"
            )
        ]
        assert len(by_type) == 4
        with pytest.raises(HttpResponseError, match="InvalidFilter"):
            [r async for r in rc.resources.list_by_resource_group(group, filter="tagName ne 'x'")]
        await (await rc.resource_groups.begin_delete(group)).result()
        with pytest.raises(ResourceNotFoundError):
            await rc.resources.get_by_id(
                rid(emulator, group, "Microsoft.ManagedIdentity/userAssignedIdentities", "id0"),
                api_version="2023-01-31",
            )


async def test_provider_metadata_and_unknown_types(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.resource_client() as rc:
        provider = await rc.providers.get("Microsoft.App")
        types = {t.resource_type: t.api_versions for t in provider.resource_types}
        assert types.get("containerApps")
        with pytest.raises(ResourceNotFoundError):
            await put(
                rc, rid(emulator, group, "Microsoft.Web/sites", "x"), {"location": "westeurope"}, "2023-01-01"
            )
        with pytest.raises(HttpResponseError, match="LocationRequired"):
            await put(
                rc,
                rid(emulator, group, "Microsoft.ManagedIdentity/userAssignedIdentities", "id-x"),
                {},
                "2023-01-31",
            )


async def test_arm_requires_a_bearer_token_and_api_version(emulator: RunningEmulator) -> None:
    async with emulator.http() as h:
        path = f"/subscriptions/{emulator.subscription_id}/resourcegroups"
        r = await h.get(path, params={"api-version": "2024-03-01"})
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "AuthenticationFailed"
        r = await h.get(path, headers=emulator.arm_headers())
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "MissingApiVersionParameter"
        r = await h.get(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups",
            params={"api-version": "1"},
            headers=emulator.arm_headers(),
        )
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "SubscriptionNotFound"
