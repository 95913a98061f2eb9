"""Generic ARM resources through ``azure-mgmt-resource`` (by id, one api-version per type), and
the resource group itself.

Flow: ``read`` lists the resource group once (shared by every generic kind through the read
memo; the list carries names, types and tags, hence ownership) and GETs by id only the resources
a node names or the lab owns (the list has no ``properties``). Writes are PUTs by id
(``begin_create_or_update_by_id``) with the REST body built by the kind's ``desired``.

A kind is an ``ArmKind``: resource type, api-version, how to turn a node spec into the owned
fields (flat ``dotted.path -> value``), and which outputs a GET exposes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from orchestrator.errors import PermanentError
from orchestrator.kinds import Kind
from orchestrator.providers.base import (
    ADOPTED_TAG,
    OWNER_TAG,
    arm_owned,
    arm_owners,
    arm_tags,
    diff_owned,
    json_body,
    secret_values,
    unflatten,
    wire,
)
from orchestrator.providers.common import (
    Context,
    Key,
    assign,
    collect,
    delete_ignoring_missing,
    gather,
    get_or_none,
    key_of,
)
from orchestrator.providers.errors import translating
from orchestrator.resolve import contains_unknown
from orchestrator.resource import Actual, Desired, FieldChange

if TYPE_CHECKING:
    from orchestrator.spec.models import Target

OutputsFn = Callable[[Mapping[str, Any]], dict[str, Any]]
Comparators = Mapping[str, Callable[[Any, Any], bool]]


@dataclass(frozen=True, slots=True)
class ArmKind:
    kind: str
    resource_type: str  # Microsoft.ManagedIdentity/userAssignedIdentities
    api_version: str
    outputs: OutputsFn
    replace_paths: tuple[str, ...] = ("location",)


def resource_id(subscription_id: str, rg: str, resource_type: str, name: str) -> str:
    namespace, _, kind = resource_type.partition("/")
    return f"/subscriptions/{subscription_id}/resourceGroups/{rg}/providers/{namespace}/{kind}/{name}"


# Mappings compared whole (their keys are data, e.g. resource ids, not field names).
_LEAF_KEYS = frozenset({"tags", "userAssignedIdentities"})


def flatten(body: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested body -> flat ``dotted.path -> value`` (lists are leaves)."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and key not in _LEAF_KEYS and not key.startswith("@"):
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def norm_location(value: Any) -> Any:
    return value.replace(" ", "").lower() if isinstance(value, str) else value


def same_ignoring_case(want: Any, have: Any) -> bool:
    """ARM enum values come back in the service's own casing (``PerGB2018`` / ``pergb2018``)."""
    if isinstance(want, str) and isinstance(have, str):
        return want.lower() == have.lower()
    return bool(want == have)


# Enum-valued paths ARM may echo in another case; compared case-insensitively for every kind.
CASE_INSENSITIVE_PATHS = (
    "sku.name",
    "properties.sku.name",
    "kind",
    "properties.Application_Type",
    "properties.configuration.ingress.transport",
)


def _same_location(want: Any, have: Any) -> bool:
    return bool(norm_location(want) == norm_location(have))


class ArmResourceProvider:
    """One generic ARM kind. Subclasses override ``build`` (spec -> REST body) only."""

    spec_kind: ArmKind
    compare: ClassVar[Comparators] = {}

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def kind(self) -> str:
        return self.spec_kind.kind

    # ---------------------------------------------------------------- pure
    def build(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(name, REST body without tags/location) for the node."""
        raise NotImplementedError

    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired:
        name, body = self.build(address, spec, resolved)
        rg = str(body.pop("@rg", None) or self.ctx.rg)
        extra_tags = body.pop("tags", None) or {}
        flat = flatten(body)
        flat.setdefault("location", self.ctx.location)
        flat["tags"] = arm_tags(self.ctx.lab, extra_tags)
        flat["@rg"] = rg
        flat["@id"] = resource_id(self.ctx.subscription_id, rg, self.spec_kind.resource_type, name)
        return Desired(address, self.kind, name, flat)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        compare = {
            "location": _same_location,
            **dict.fromkeys(CASE_INSENSITIVE_PATHS, same_ignoring_case),
            **self.compare,
        }
        return diff_owned(
            desired.properties, actual.properties, compare=compare, replace=self.spec_kind.replace_paths
        )

    # ---------------------------------------------------------------- network
    async def _listing(self, rg: str) -> list[Any]:
        resources = self.ctx.clients.resources

        async def load() -> list[Any]:
            return await collect(
                f"resource group {rg}", lambda: resources.resources.list_by_resource_group(rg)
            )

        return await self.ctx.memo.get(f"arm-generic:{rg}".lower(), load)

    def _actual(self, res: Any) -> Actual:
        body = wire(res)
        rg = str(body.get("id", "")).split("/")[4] if body.get("id") else self.ctx.rg
        props = flatten({k: v for k, v in body.items() if k not in ("id", "name", "type", "systemData")})
        props["tags"] = dict(body.get("tags") or {})
        props["@rg"] = rg
        props["@id"] = body.get("id")
        outputs = {"resource_id": body.get("id"), "name": body.get("name"), **self.spec_kind.outputs(body)}
        owned = arm_owned(body.get("tags"), self.ctx.lab)
        return Actual(
            "",
            self.kind,
            str(body.get("name")),
            props,
            outputs,
            owned,
            body.get("id"),
            owners=arm_owners(body.get("tags"), self.ctx.lab),
        )

    async def _get(self, rid: str) -> Any:
        resources = self.ctx.clients.resources
        return await get_or_none(
            rid, lambda: resources.resources.get_by_id(rid, api_version=self.spec_kind.api_version)
        )

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        rgs = {str(d.properties.get("@rg")) for d in addresses.values() if d is not None} or {self.ctx.rg}
        wanted = {d.name.lower() for d in addresses.values() if d is not None}
        found: list[tuple[Key, Actual]] = []
        rtype = self.spec_kind.resource_type.lower()
        for rg in sorted(rgs):
            ids = [
                str(item.id)
                for item in await self._listing(rg)
                if str(item.type).lower() == rtype
                and (str(item.name).lower() in wanted or arm_owned(item.tags, self.ctx.lab))
            ]
            # The list has no ``properties``: one GET per resource of interest, in parallel.
            for full in await gather(self.ctx, ids, self._get):
                if full is not None:
                    found.append((key_of(str(full.name)), self._actual(full)))
        return assign(self.kind, addresses, found, lambda d: key_of(d.name))

    def body(self, desired: Desired) -> dict[str, Any]:
        unknown = [p for p, v in desired.properties.items() if not p.startswith("@") and contains_unknown(v)]
        if unknown:
            raise PermanentError(desired.address, f"cannot write while {', '.join(unknown)} is not known yet")
        return unflatten(desired.properties)

    async def create(self, desired: Desired) -> Actual:
        rid = str(desired.properties["@id"])
        resources = self.ctx.clients.resources
        with translating(desired.address, secrets=secret_values(dict(desired.properties))):
            poller = await resources.resources.begin_create_or_update_by_id(
                rid, json_body(self.body(desired)), api_version=self.spec_kind.api_version
            )
            res = await poller.result()
        self.ctx.memo.clear()
        return dataclasses.replace(self._actual(res), address=desired.address, owned=True)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        # A PUT replaces the tags: keep the ones others set (adopting must not strip them).
        tags = {**dict(actual.properties.get("tags") or {}), **dict(desired.properties.get("tags") or {})}
        return await self.create(
            dataclasses.replace(desired, properties={**desired.properties, "tags": tags})
        )

    async def delete(self, actual: Actual) -> None:
        rid = str(actual.handle or actual.properties.get("@id"))
        resources = self.ctx.clients.resources

        async def delete() -> None:
            poller = await resources.resources.begin_delete_by_id(rid, api_version=self.spec_kind.api_version)
            await poller.result()

        await delete_ignoring_missing(actual.address, delete)
        self.ctx.memo.clear()


# ------------------------------------------------------------------------------- resource group


class ResourceGroupProvider:
    """The lab's resource group. Deleting it deletes what it holds, so a delete first checks
    that every resource inside carries this lab's mark and refuses otherwise.

    Adopting (``target.adopt_resource_group``) a group that exists without the lab's mark adds
    the mark and ``ADOPTED_TAG`` (the tags others set stay); from then on the lab owns it but
    never deletes it (``Actual.keep``: destroy leaves it, a delete or replacement is refused) and
    leaves its location alone (the lab's resources take ``target.location``). A group the lab
    created is never marked adopted, whatever the flag says.
    """

    kind = Kind.RESOURCE_GROUP

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        # What must go before the group's delete, given the group's name (``providers_for`` sets
        # it: ``ApimServiceProvider.delete_in_group``; no import of the APIM provider here).
        self.before_delete: Callable[[str], Awaitable[None]] | None = None

    def desired(self, address: str, spec: Target, resolved: Mapping[str, Any]) -> Desired:
        props = {
            "location": spec.location,
            "tags": arm_tags(self.ctx.lab),
            "@adopt": spec.adopt_resource_group,
        }
        return Desired(address, self.kind, spec.resource_group, props)

    def _adopting(self, desired: Desired, actual: Actual) -> bool:
        return not actual.owned and bool(desired.properties.get("@adopt"))

    def _written(self, desired: Desired, actual: Actual) -> dict[str, Any]:
        """What an update writes: the tags others set kept, the lab's mark (and the adopted mark
        when adopting); an adopted group's own location kept."""
        tags = {**dict(actual.properties.get("tags") or {}), OWNER_TAG: self.ctx.lab}
        if self._adopting(desired, actual):
            tags[ADOPTED_TAG] = self.ctx.lab
        adopted = self._adopting(desired, actual) or bool(actual.keep)
        location = actual.properties.get("location") if adopted else desired.properties["location"]
        return {**desired.properties, "location": location, "tags": tags}

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        if self._adopting(desired, actual) or actual.keep:
            return diff_owned({"tags": self._written(desired, actual)["tags"]}, actual.properties)
        return diff_owned(
            desired.properties, actual.properties, compare={"location": _same_location}, replace=("location",)
        )

    def _actual(self, group: Any) -> Actual:
        tags = dict(group.tags or {})
        props = {"location": group.location, "tags": tags}
        owned = arm_owned(tags, self.ctx.lab)
        adopted = owned and tags.get(ADOPTED_TAG) == self.ctx.lab
        return Actual(
            "",
            self.kind,
            str(group.name),
            props,
            {"name": group.name, "resource_id": group.id},
            owned,
            group.id,
            keep=f"adopted by this lab (tag {ADOPTED_TAG}), not created by it: never deleted by it"
            if adopted
            else "",
            owners=arm_owners(tags, self.ctx.lab),
        )

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        wanted = {d.name for d in addresses.values() if d is not None} or {self.ctx.rg}
        groups = self.ctx.clients.resources.resource_groups
        found: list[tuple[Key, Actual]] = []
        # One GET per named group: listing every group of a subscription costs more than it saves.
        for name in sorted(wanted):
            group = await get_or_none(f"resource group {name}", _bind(groups.get, name))
            if group is not None:
                found.append((key_of(str(group.name)), self._actual(group)))
        return assign(self.kind, addresses, found, lambda d: key_of(d.name))

    async def create(self, desired: Desired) -> Actual:
        groups = self.ctx.clients.resources.resource_groups
        body = {"location": desired.properties["location"], "tags": desired.properties["tags"]}
        with translating(desired.address):
            group = await groups.create_or_update(desired.name, json_body(body))
        self.ctx.memo.clear()
        return dataclasses.replace(self._actual(group), address=desired.address, owned=True)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        merged = Desired(desired.address, desired.kind, desired.name, self._written(desired, actual))
        return await self.create(merged)

    async def delete_refusal(self, actual: Actual) -> str | None:
        """Deleting the group deletes every resource in it — and what those hold: refused while a
        resource in it lacks this lab's mark, or an owned APIM service in it holds anything the lab
        does not own (``apim_children``)."""
        from orchestrator.providers.apim_children import describe, foreign_children

        if actual.keep:
            return f"not deleted: {actual.keep}"
        resources = self.ctx.clients.resources
        items = await collect(
            f"resource group {actual.name}", lambda: resources.resources.list_by_resource_group(actual.name)
        )
        foreign = sorted(str(i.name) for i in items if not arm_owned(i.tags, self.ctx.lab))
        nested: list[str] = []
        for item in items:
            if str(item.type).lower() == "microsoft.apimanagement/service" and arm_owned(
                item.tags, self.ctx.lab
            ):
                inside = await foreign_children(self.ctx, actual.name, str(item.name))
                if inside:
                    nested.append(f"APIM service {item.name}, which holds {describe(inside)}")
        if not foreign and not nested:
            return None
        parts = ([f"resources this lab does not own ({', '.join(foreign)})"] if foreign else []) + nested
        return f"not deleted: it holds {' and '.join(parts)}; delete or move them first"

    async def delete(self, actual: Actual) -> None:
        resources = self.ctx.clients.resources
        refused = await self.delete_refusal(actual)  # again: the group may have changed since the plan
        if refused:
            raise PermanentError(actual.address, refused)
        if self.before_delete is not None:
            await self.before_delete(actual.name)

        async def delete() -> None:
            poller = await resources.resource_groups.begin_delete(actual.name)
            await poller.result()

        await delete_ignoring_missing(actual.address, delete)
        self.ctx.memo.clear()


def _bind(fn: Callable[[str], Any], arg: str) -> Callable[[], Any]:
    async def call() -> Any:
        return await fn(arg)

    return call
