"""Stable local ports (``emulator.arm.local_ports``): a gateway or container app created again
under the same ARM id gets its port back while it is free; another resource never takes it while
other ports are free; a port somebody else listens on is not handed out again."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from emulator.ports import LOOPBACK
from tests.support.azure import make_group, make_service
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

APP_VERSION = "2024-03-01"


def _port(url: str) -> int:
    port = urlsplit(url if "//" in url else f"https://{url}").port
    assert port is not None
    return port


async def _delete_service(c: Any, group: str, name: str) -> None:
    await (await c.api_management_service.begin_delete(group, name)).result()
    await (await c.deleted_services.begin_purge(name, "westeurope")).result()


async def test_a_recreated_gateway_keeps_its_port(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.apim_client() as c:
        first = await make_service(c, group)
        other = await make_service(c, group)
        assert _port(other.gateway_url) != _port(first.gateway_url)
        await _delete_service(c, group, first.name)
        # a new service while the first is gone: it does not take the remembered port
        third = await make_service(c, group)
        assert _port(third.gateway_url) != _port(first.gateway_url)
        again = await make_service(c, group, first.name)
        assert again.gateway_url == first.gateway_url
        # and the gateway really listens there again
        async with emulator.http() as http:
            resp = await http.get(f"{again.gateway_url}/nothing-here")
        assert resp.status_code == 404


async def test_a_taken_port_is_not_handed_out_again(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    async with emulator.apim_client() as c:
        first = await make_service(c, group)
        port = _port(first.gateway_url)
        await _delete_service(c, group, first.name)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
            squatter.bind((LOOPBACK, port))
            squatter.listen(1)
            again = await make_service(c, group, first.name)
        assert _port(again.gateway_url) != port


async def test_a_recreated_container_app_keeps_its_port(emulator: RunningEmulator) -> None:
    group = await make_group(emulator)
    base = f"/subscriptions/{emulator.subscription_id}/resourceGroups/{group}/providers"
    env_id = f"{base}/Microsoft.App/managedEnvironments/env"
    app_id = f"{base}/Microsoft.App/containerApps/web"
    body = {
        "location": "westeurope",
        "properties": {
            "managedEnvironmentId": env_id,
            "configuration": {"ingress": {"external": True, "targetPort": 8000}},
            "template": {"containers": [{"name": "web", "image": "example.azurecr.io/web:1"}]},
        },
    }
    async with emulator.resource_client() as rc:
        put = rc.resources.begin_create_or_update_by_id
        await (
            await put(env_id, {"location": "westeurope", "properties": {}}, api_version=APP_VERSION)
        ).result()
        app = await (await put(app_id, body, api_version=APP_VERSION)).result()
        fqdn = app.properties["configuration"]["ingress"]["fqdn"]
        await (await rc.resources.begin_delete_by_id(app_id, api_version=APP_VERSION)).result()
        again = await (await put(app_id, body, api_version=APP_VERSION)).result()
        assert again.properties["configuration"]["ingress"]["fqdn"] == fqdn
        # the whole group goes (a replacement of the group): the memory survives it
        await (await rc.resource_groups.begin_delete(group)).result()
        await rc.resource_groups.create_or_update(group, {"location": "westeurope"})
        await (
            await put(env_id, {"location": "westeurope", "properties": {}}, api_version=APP_VERSION)
        ).result()
        third = await (await put(app_id, body, api_version=APP_VERSION)).result()
        assert third.properties["configuration"]["ingress"]["fqdn"] == fqdn
