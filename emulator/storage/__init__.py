"""Emulator sub-app: Azure Storage's Table service data plane (entities over the Table REST API).

Where it sits: ARM (``emulator.arm.storage``) stores storage accounts and tables and writes each
account's ``primaryEndpoints.table`` = ``<base>/storage/<account>/table/`` (``emulator.storage_names``,
on the ground floor: ARM and this package share it); this
package serves that path on the main HTTPS port (``service``), so the ``azure-data-tables`` SDK,
raw HTTP clients and the APIM gateway's ``send-request`` (which trusts the emulator's CA) reach
it. Only Entra bearer tokens with an RBAC data role are accepted (``auth``); entities are
validated and shaped as the service does (``entities``), queried with a ``$filter`` subset and
paged (``query``); errors use the service's JSON envelope (``errors``).

Store shape: kind ``storage/entities``, key ``<table store key>/<JSON [PartitionKey, RowKey]>``,
parent = the table's store key (lower-cased ARM id), body ``{"PartitionKey", "RowKey",
"Timestamp", "properties": {name: [Edm type, wire value]}}``. Entities go with their table:
every ARM ``delete`` event of a table or account removes the rows under its key, and rows of a
table that no longer exists are swept when the emulator starts.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from emulator.context import EmulatorContext, Event
from emulator.storage.service import TableService, on_event, sweep_orphans
from emulator.storage_names import PATH_PREFIX

__all__ = ["routes"]

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "MERGE", "DELETE"]


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    sweep_orphans(ctx)

    async def listener(event: Event) -> None:
        await on_event(ctx, event)

    ctx.subscribe(listener)
    service = TableService(ctx)
    return [Route(PATH_PREFIX + "/{rest:path}", service.endpoint, methods=_METHODS)]
