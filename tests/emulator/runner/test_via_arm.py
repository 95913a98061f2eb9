"""The runner driven by the real ARM layer: container apps created, updated and deleted through
``azure-mgmt-resource`` against the emulator process (the session emulator)."""

from __future__ import annotations

import os
from typing import Any

import anyio
import pytest

from tests.support.azure import make_group
from tests.support.emulator import RunningEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

API = "2024-03-01"


def rid(emu: RunningEmulator, group: str, type_: str, name: str) -> str:
    return f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/{type_}/{name}"


async def put(rc: Any, resource_id: str, body: dict[str, Any], api_version: str = API) -> Any:
    return await (
        await rc.resources.begin_create_or_update_by_id(resource_id, body, api_version=api_version)
    ).result()


async def until(rc: Any, app_id: str, check: Any) -> dict[str, Any]:
    """Poll the app over ARM (another process's state) until ``check(properties)`` holds."""
    with anyio.fail_after(30):
        while True:
            props: dict[str, Any] = (await rc.resources.get_by_id(app_id, api_version=API)).properties
            if check(props):
                return props
            await anyio.sleep(0.05)


def serving(props: dict[str, Any], *, not_pid: int | None = None) -> bool:
    """Running as the runner reports it (not ARM's default), by a process other than ``not_pid``."""
    local = props.get("localRunner") or {}
    return (
        props.get("runningStatus") == "Running"
        and local.get("state") == "Running"
        and local.get("pid") not in (None, not_pid)
    )


def alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_container_app_lifecycle_through_arm(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.resource_client() as rc:
        uami_id = rid(emulator, group, "Microsoft.ManagedIdentity/userAssignedIdentities", "id-mcp")
        await put(rc, uami_id, {"location": "westeurope"}, "2023-01-31")
        env_id = rid(emulator, group, "Microsoft.App/managedEnvironments", "env")
        await put(rc, env_id, {"location": "westeurope", "properties": {}})
        app_id = rid(emulator, group, "Microsoft.App/containerApps", "lab-mcp")
        body: dict[str, Any] = {
            "location": "westeurope",
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {uami_id: {}}},
            "properties": {
                "managedEnvironmentId": env_id,
                "configuration": {
                    "ingress": {"external": True, "targetPort": 8000},
                    "secrets": [{"name": "client-id", "value": "c-from-secret"}],
                },
                "template": {
                    "containers": [
                        {
                            "name": "mcp",
                            "image": "acrlab.azurecr.io/mcp-server:1",
                            "env": [
                                {"name": "AZURE_TENANT_ID", "value": emulator.tenant_id},
                                {"name": "REQUIRED_SCOPE", "value": "user_impersonate"},
                                {"name": "AZURE_CLIENT_ID", "secretRef": "client-id"},
                            ],
                        }
                    ]
                },
            },
        }
        created = await put(rc, app_id, body)
        port = int(created.properties["configuration"]["ingress"]["fqdn"].rsplit(":", 1)[1])

        running = await until(rc, app_id, serving)
        first = int(running["localRunner"]["pid"])
        async with emulator.http() as http:
            health = await http.get(f"https://127.0.0.1:{port}/health")
        assert health.json() == {"status": "healthy"}

        # A new image is a new revision: the process is replaced.
        body["properties"]["template"]["containers"][0]["image"] = "acrlab.azurecr.io/mcp-server:2"
        await put(rc, app_id, body)
        replaced = await until(rc, app_id, lambda p: serving(p, not_pid=first))
        second = int(replaced["localRunner"]["pid"])
        assert not alive(first)

        # An image the local target cannot run: Failed with the reason, the old process stopped.
        body["properties"]["template"]["containers"][0]["image"] = "mcr.microsoft.com/k8se/quickstart:latest"
        await put(rc, app_id, body)
        failed = await until(rc, app_id, lambda p: p.get("provisioningState") == "Failed")
        assert "cannot run on the local target" in failed["localRunner"]["message"]
        assert not alive(second)

        # Back to the server, then delete: nothing left running.
        body["properties"]["template"]["containers"][0]["image"] = "acrlab.azurecr.io/mcp-server:3"
        await put(rc, app_id, body)
        third = int(
            (await until(rc, app_id, lambda p: p.get("runningStatus") == "Running"))["localRunner"]["pid"]
        )
        await (await rc.resources.begin_delete_by_id(app_id, api_version=API)).result()
        with anyio.fail_after(15):
            while alive(third):  # noqa: ASYNC110  (another process: nothing to await)
                await anyio.sleep(0.05)
