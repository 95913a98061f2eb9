"""The API Management service provider and the base of its children (``ApimChild``): named
values and backends are in ``apim_values``, loggers and diagnostics in ``apim_logging``, APIs,
operations and policies in ``apim_apis``.

Flow: reads are one list per collection (``list_by_resource_group`` for services,
``list_by_service`` for each child collection), shared through the read memo; writes send the
REST shape as a JSON body through the SDK (``IO[bytes]``), so fields newer than the SDK's models
still reach the target. Ownership: the service carries the ARM tag ``prmlab-lab``; named values
carry an APIM tag; backends and loggers carry the mark in their ``description``; a diagnostic is
owned when its logger is. Deleting the service is refused — in the plan already — while the
service holds anything the lab does not own (``apim_children``); else it deletes, then purges the
soft-deleted copy (the name stays taken otherwise). The delete is recorded before it starts
(``orchestrator.pending``), so a run interrupted before the purge leaves a copy the next read
reports as the lab's (``Actual.note``: soft-deleted): destroy then only purges it, reconcile
purges and creates it again (a replace). A soft-deleted name the lab has no record of is
explained, never purged.

Secret named values are compared by a salted digest kept in an APIM tag: the value is never read
back, printed or stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import PermanentError
from orchestrator.kinds import Kind
from orchestrator.providers.apim_children import foreign_children, refusal
from orchestrator.providers.apim_tiers import replacement_reason
from orchestrator.providers.arm import norm_location
from orchestrator.providers.base import (
    OWNER_TAG,
    arm_owned,
    arm_owners,
    arm_tags,
    diff_owned,
    json_body,
    secret_values,
    set_path,
    wire,
)
from orchestrator.providers.common import (
    Context,
    Key,
    assign,
    collect,
    delete_ignoring_missing,
    get_or_none,
    global_name,
    key_of,
    str_prop,
)
from orchestrator.providers.errors import translating
from orchestrator.resource import UNKNOWN, Actual, Desired, FieldChange

if TYPE_CHECKING:
    from orchestrator.spec.models import ApimService


def service_of(ctx: Context) -> Any:
    """The APIM service a child lives in: the lab's service (``UNKNOWN`` without one)."""
    return ctx.apim_service or UNKNOWN


def rg_and_service(desired: Desired | Actual) -> tuple[str, str]:
    return str_prop(desired.properties, "@rg"), str_prop(desired.properties, "@service")


async def list_services(ctx: Context) -> list[Any]:
    async def load() -> list[Any]:
        return await collect(
            "apim.service", lambda: ctx.clients.apim.api_management_service.list_by_resource_group(ctx.rg)
        )

    return await ctx.memo.get(f"apim-services:{ctx.rg}", load)


async def service_names(ctx: Context, addresses: Mapping[str, Desired | None], lab: str) -> list[str]:
    """Services to look into: those the desired children name, else the lab's owned ones."""
    names = {
        str(d.properties.get("@service"))
        for d in addresses.values()
        if d is not None and isinstance(d.properties.get("@service"), str)
    }
    if names:
        return sorted(names)
    return sorted(s.name for s in await list_services(ctx) if arm_owned(s.tags, lab))


# ------------------------------------------------------------------------------- service

PENDING_KIND = "apim_service"  # orchestrator.pending kind of a started service delete


def soft_deleted_holder(name: str, location: str, props: Mapping[str, Any]) -> str:
    """What holds an APIM name when a soft-deleted service does and this lab has no record of
    deleting it (``DeletedServiceContract``'s properties, possibly empty), and the ways out:
    prmlab purges only what it knows to be its own (Learn, "API Management soft-delete")."""
    what = f"a soft-deleted API Management service named {name!r}"
    if props:
        what += (
            f" (was {props.get('serviceId')}, deleted {props.get('deletionDate')}, purged by Azure at "
            f"{props.get('scheduledPurgeDate')})"
        )
    return (
        f"{what} holds the name, and this lab has no record of deleting it, so prmlab does not purge it. "
        f"If it is yours: purge it (az apim deletedservice purge --service-name {name} --location {location}) "
        "or restore it (create the service with properties.restore = true); else choose another name"
    )


class ApimServiceProvider:
    kind = Kind.APIM_SERVICE

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def desired(self, address: str, spec: ApimService, resolved: Mapping[str, Any]) -> Desired:
        lab = self.ctx.lab
        props: dict[str, Any] = {
            "@rg": self.ctx.rg,
            "location": self.ctx.location,
            "sku.name": spec.sku,
            "sku.capacity": spec.capacity,
            "properties.publisherEmail": spec.publisher_email,
            "properties.publisherName": spec.publisher_name,
            "identity.type": "SystemAssigned",
        }
        if lab:
            props["tags"] = arm_tags(lab)
        return Desired(address, self.kind, global_name(spec.name, address), props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        def same_location(want: Any, have: Any) -> bool:
            return bool(norm_location(want) == norm_location(have))

        def same_sku(want: Any, have: Any) -> bool:
            return isinstance(want, str) and isinstance(have, str) and want.lower() == have.lower()

        if actual.properties.get("@soft_deleted"):  # nothing to update: purge it, create it again
            return (FieldChange("(state)", "soft-deleted", "active", forces_replacement=True),)
        compare = {"location": same_location, "sku.name": same_sku}
        changes = diff_owned(desired.properties, actual.properties, compare=compare, replace=("location",))
        return tuple(_tier_change(change) for change in changes)

    def _actual(self, res: Any, lab: str) -> tuple[Key, Actual]:
        body = wire(res)
        rg = str(res.id).split("/")[4] if res.id else self.ctx.rg
        props = {
            "@rg": rg,
            "location": norm_location(body.get("location")),
            "sku.name": (body.get("sku") or {}).get("name"),
            "sku.capacity": (body.get("sku") or {}).get("capacity"),
            "properties.publisherEmail": (body.get("properties") or {}).get("publisherEmail"),
            "properties.publisherName": (body.get("properties") or {}).get("publisherName"),
            "identity.type": (body.get("identity") or {}).get("type"),
            "tags": dict(body.get("tags") or {}),
        }
        outputs = {
            "name": res.name,
            "gateway_url": (body.get("properties") or {}).get("gatewayUrl"),
            "principal_id": (body.get("identity") or {}).get("principalId"),
            "resource_id": res.id,
        }
        actual = Actual(
            "",
            self.kind,
            res.name,
            props,
            outputs,
            arm_owned(res.tags, lab),
            res.id,
            owners=arm_owners(res.tags, lab),
        )
        return key_of(res.name), actual

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        found = [self._actual(s, lab_name) for s in await list_services(self.ctx)]
        found += await self._interrupted_deletes(lab_name, {key for key, _ in found})
        return assign(self.kind, addresses, found, lambda d: key_of(d.name))

    def _pending_key(self, name: str, location: str) -> str:
        return f"{self.ctx.subscription_id}/{norm_location(location)}/{name.lower()}"

    async def _interrupted_deletes(self, lab: str, live: set[Key]) -> list[tuple[Key, Actual]]:
        """Soft-deleted services this lab began to delete and never purged (``orchestrator.pending``):
        owned by that record, as a soft-deleted copy keeps no tags. A record whose service is live
        again (the delete never went out) or gone (purged, by us or by Azure after 48 h) is done."""
        pending = self.ctx.pending
        if pending is None:
            return []
        found: list[tuple[Key, Actual]] = []
        for key, record in pending.entries(PENDING_KIND).items():
            if record.get("lab") != lab or not key.startswith(f"{self.ctx.subscription_id}/"):
                continue
            name, location = str(record.get("name")), str(record.get("location"))
            if key_of(name) in live:
                pending.finish(PENDING_KIND, key)
                continue
            deleted = await self._soft_deleted(name, location)
            if deleted is None:
                pending.finish(PENDING_KIND, key)
                continue
            when = (wire(deleted).get("properties") or {}).get("deletionDate")
            props = {
                "@rg": str(record.get("rg") or self.ctx.rg),
                "@soft_deleted": True,
                "location": norm_location(location),
                "tags": {OWNER_TAG: lab},
            }
            note = f"soft-deleted{f' since {when}' if when else ''} by an interrupted delete: only its purge is left"
            actual = Actual("", self.kind, name, props, {"name": name}, True, record.get("service_id"), note)
            found.append((key_of(name), actual))
        return found

    def _body(self, desired: Desired) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for path, value in desired.properties.items():
            if not path.startswith("@"):
                set_path(body, path, value)
        body["location"] = desired.properties["location"]
        return body

    async def create(self, desired: Desired) -> Actual:
        rg = str_prop(desired.properties, "@rg")
        try:
            with translating(desired.address):
                poller = await self.ctx.clients.apim.api_management_service.begin_create_or_update(
                    rg, desired.name, json_body(self._body(desired))
                )
                res = await poller.result()
        except PermanentError as exc:
            if "SoftDeleted" not in exc.cause:
                raise
            raise PermanentError(desired.address, await self._name_held(desired)) from exc
        self.ctx.memo.clear()
        return _readdress(self._actual(res, self.ctx.lab)[1], desired.address)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        return await self.create(desired)

    async def _soft_deleted(self, name: str, location: str) -> Any:
        """The soft-deleted service ``name`` in ``location`` (``DeletedServiceContract``), or None."""

        async def get() -> Any:
            return await self.ctx.clients.apim.deleted_services.get_by_name(name, location)

        return await get_or_none(f"soft-deleted APIM service {name}", get)

    async def _name_held(self, desired: Desired) -> str:
        """Why the create failed, when a soft-deleted service holds the name and this lab has no
        record of deleting it (else ``read`` would have planned its purge)."""
        name, location = desired.name, str(desired.properties.get("location"))
        deleted = await self._soft_deleted(name, location)
        props = wire(deleted).get("properties") or {} if deleted is not None else {}
        return soft_deleted_holder(name, location, props)

    async def delete_refusal(self, actual: Actual) -> str | None:
        """Deleting the service deletes everything in it: refused while it holds anything the lab
        does not own (``apim_children``: every collection, Azure's built-ins excepted)."""
        if actual.properties.get("@soft_deleted"):
            return None  # already deleted: what it held went with it, only the purge is left
        rg = str(actual.properties.get("@rg") or self.ctx.rg)
        return refusal(await foreign_children(self.ctx, rg, actual.name))

    async def delete_in_group(self, group: str) -> None:
        """Before a resource group's delete: the group's delete would soft-delete its APIM
        services and keep their names taken for 48 h, with no record that the lab deleted them
        (a replacement of the group could not create them again); the lab's own services are
        deleted and purged first, as ``delete`` does (recorded in ``orchestrator.pending``)."""
        resources = self.ctx.clients.resources
        items = await collect(
            f"resource group {group}", lambda: resources.resources.list_by_resource_group(group)
        )
        for item in items:
            if str(item.type).lower() == "microsoft.apimanagement/service" and arm_owned(
                item.tags, self.ctx.lab
            ):
                props = {"@rg": group, "location": item.location}
                address = Kind.APIM_SERVICE.at("main")
                await self.delete(Actual(address, Kind.APIM_SERVICE, str(item.name), props, handle=item.id))

    async def delete(self, actual: Actual) -> None:
        """Delete (APIM soft-deletes), then purge: the name stays taken for 48 h otherwise. The
        intent is recorded first (``orchestrator.pending``), so a run interrupted between the two
        leaves a soft-deleted copy the next run knows as the lab's and purges."""
        rg = str(actual.properties.get("@rg") or self.ctx.rg)
        location = str(actual.properties["location"])
        client = self.ctx.clients.apim
        pending, key = self.ctx.pending, self._pending_key(actual.name, location)
        if not actual.properties.get("@soft_deleted"):
            refused = await self.delete_refusal(actual)  # again: the service may have changed since the plan
            if refused:
                raise PermanentError(actual.address, refused)
            if pending is not None:
                record = {"lab": self.ctx.lab, "name": actual.name, "location": location, "rg": rg}
                pending.start(PENDING_KIND, key, {**record, "service_id": actual.handle})

            async def delete() -> None:
                poller = await client.api_management_service.begin_delete(rg, actual.name)
                await poller.result()

            await delete_ignoring_missing(actual.address, delete)

        async def purge() -> None:
            poller = await client.deleted_services.begin_purge(actual.name, location)
            await poller.result()

        await delete_ignoring_missing(actual.address, purge)
        if pending is not None:
            pending.finish(PENDING_KIND, key)
        self.ctx.memo.clear()


def _tier_change(change: FieldChange) -> FieldChange:
    """A ``sku.name`` change Azure does not make in place forces replacement (``apim_tiers``)."""
    if change.path != "sku.name" or not isinstance(change.old, str) or not isinstance(change.new, str):
        return change
    why = replacement_reason(change.old, change.new)
    return dataclasses.replace(change, forces_replacement=True, why=why) if why else change


def _readdress(actual: Actual, address: str) -> Actual:
    return dataclasses.replace(actual, address=address)


# ------------------------------------------------------------------------------- children


class ApimChild:
    """A collection directly under the service, listed with ``list_by_service``."""

    kind = ""
    operations_attr = ""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def ops(self) -> Any:
        return getattr(self.ctx.clients.apim, self.operations_attr)

    def _key(self, d: Desired) -> Key:
        return key_of(str(d.properties.get("@service")), d.name)

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        raise NotImplementedError

    async def _list(self, rg: str, service: str) -> list[Any]:
        async def load() -> list[Any]:
            return await collect(f"{self.kind} in {service}", lambda: self.ops.list_by_service(rg, service))

        return await self.ctx.memo.get(f"{self.kind}:{rg}/{service}", load)

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        rgs = {str(d.properties.get("@rg")) for d in addresses.values() if d is not None}
        rg = rgs.pop() if len(rgs) == 1 else self.ctx.rg
        found: list[tuple[Key, Actual]] = []
        for service in await service_names(self.ctx, addresses, lab_name):
            for item in await self._list(rg, service):
                actual = self.actual_from(item, rg, service, lab_name)
                found.append((key_of(service, actual.name), actual))
        return assign(self.kind, addresses, found, self._key)

    def body(self, desired: Desired) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for path, value in desired.properties.items():
            if not path.startswith("@"):
                set_path(body, path, value)
        return body

    async def create(self, desired: Desired) -> Actual:
        rg, service = rg_and_service(desired)
        with translating(desired.address, secrets=secret_values(dict(desired.properties))):
            # Named values are long-running in the SDK (begin_...); the other collections are not.
            write = getattr(self.ops, "begin_create_or_update", None) or self.ops.create_or_update
            result = write(rg, service, desired.name, json_body(self.body(desired)))
            res = await _finish(await result)
        self.ctx.memo.clear()
        return _readdress(self.actual_from(res, rg, service, self.ctx.lab), desired.address)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        return await self.create(desired)

    async def delete(self, actual: Actual) -> None:
        rg, service = rg_and_service(actual)
        await delete_ignoring_missing(
            actual.address, lambda: self.ops.delete(rg, service, actual.name, if_match="*")
        )
        self.ctx.memo.clear()

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return diff_owned(desired.properties, actual.properties)


async def _finish(result: Any) -> Any:
    """Await an LRO poller's result, or return a plain result (SDK ops differ)."""
    if hasattr(result, "result") and callable(result.result):
        return await result.result()
    return result


def base_props(rg: str, service: Any) -> dict[str, Any]:
    """The locator keys of an APIM child (never diffed)."""
    return {"@rg": rg, "@service": service}


def arm_id(ctx: Context, resource_type: str, name: str) -> str:
    namespace, _, kind = resource_type.partition("/")
    return f"{ctx.rg_id()}/providers/{namespace}/{kind}/{name}"
