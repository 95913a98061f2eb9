"""Providers for APIM products (with the APIs they hold), product policies and subscriptions.

Flow: one list of the service's products (shared with the other APIM children through the read
memo), one list of APIs per owned product, one policy GET (``format=rawxml``) per product the
spec names that exists; one list of the service's subscriptions. Products carry the ownership
mark in their ``description``; a subscription, which has no description, in its ``displayName``
(``Partner key [prmlab-lab:<lab>]``); a product's policy belongs to the product's owner.

A product node owns the links ``products/{p}/apis/{api}`` of its ``apis`` list: ``apis`` is diffed
as a sorted list and the write adds the missing links and removes the others. A subscription is
for one product (``scope: /products/<p>``) or one API (``/apis/<a>``); its keys are APIM's: never
read here, never in a plan (``prmlab verify`` reads them with ``listSecrets`` to call the API).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.kinds import Kind
from orchestrator.providers.apim import ApimChild, base_props, rg_and_service, service_of
from orchestrator.providers.apim_apis import MCP_API_VERSION, address_parts, render
from orchestrator.providers.base import (
    description_owned,
    diff_owned,
    json_body,
    wire,
    with_mark,
    xml_equal,
)
from orchestrator.providers.common import (
    Key,
    assign,
    collect,
    delete_ignoring_missing,
    gather,
    get_or_none,
    key_of,
    str_prop,
)
from orchestrator.providers.errors import translating
from orchestrator.resource import Actual, Desired, FieldChange

if TYPE_CHECKING:
    from orchestrator.spec.models import Policy, Product, Subscription

# the product's API links are listed and written at the MCP API's version: an MCP API exists only
# at the api-versions that have ``type: mcp`` (``apim_apis`` module doc), and a product may hold one
_LINK_VERSION = {"api_version": MCP_API_VERSION}


class ProductProvider(ApimChild):
    kind = Kind.PRODUCT
    operations_attr = "product"

    def desired(self, address: str, spec: Product, resolved: Mapping[str, Any]) -> Desired:
        props = base_props(self.ctx.rg, service_of(self.ctx))
        props.update(
            {
                "properties.displayName": spec.display_name,
                "properties.description": with_mark(spec.description, self.ctx.lab),
                "properties.subscriptionRequired": spec.subscription_required,
                "properties.state": "published" if spec.published else "notPublished",
                "apis": sorted(a.lower() for a in spec.apis),
            }
        )
        return Desired(address, self.kind, address.rsplit(".", 1)[-1], props)

    def body(self, desired: Desired) -> dict[str, Any]:
        return super().body(
            dataclasses.replace(
                desired, properties={k: v for k, v in desired.properties.items() if k != "apis"}
            )
        )

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        p = wire(item).get("properties") or {}
        props = {
            **base_props(rg, service),
            "properties.displayName": p.get("displayName"),
            "properties.description": p.get("description"),
            "properties.subscriptionRequired": p.get("subscriptionRequired"),
            "properties.state": p.get("state"),
        }
        owned = description_owned(p.get("description"), lab)
        return Actual("", self.kind, str(item.name), props, {}, owned, item.id)

    async def _apis(self, rg: str, service: str, product: str) -> list[str]:
        apim = self.ctx.clients.apim
        items = await collect(
            f"APIs of product {product}",
            lambda: apim.product_api.list_by_product(rg, service, product, **_LINK_VERSION),
        )
        return sorted(str(i.name).lower() for i in items)

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        found = await super().read(lab_name, addresses)

        async def with_apis(item: tuple[str, Actual]) -> tuple[str, Actual]:
            address, actual = item
            if not actual.owned:
                return address, actual
            rg, service = rg_and_service(actual)
            apis = await self._apis(rg, service, actual.name)
            return address, dataclasses.replace(actual, properties={**actual.properties, "apis": apis})

        return dict(await gather(self.ctx, list(found.items()), with_apis))

    async def create(self, desired: Desired) -> Actual:
        actual = await super().create(desired)
        rg, service = rg_and_service(desired)
        want = [str(a) for a in desired.properties.get("apis") or []]
        have = await self._apis(rg, service, desired.name)
        apim = self.ctx.clients.apim
        with translating(desired.address):
            for api in sorted(set(want) - set(have)):
                await apim.product_api.create_or_update(rg, service, desired.name, api, **_LINK_VERSION)
            for api in sorted(set(have) - set(want)):
                await apim.product_api.delete(rg, service, desired.name, api, **_LINK_VERSION)
        self.ctx.memo.clear()
        return dataclasses.replace(actual, properties={**actual.properties, "apis": sorted(want)})

    async def delete(self, actual: Actual) -> None:
        rg, service = rg_and_service(actual)
        # deleteSubscriptions stays false: the lab's own subscriptions went first (they depend on
        # the product); anybody else's make APIM refuse the delete rather than vanish with it
        await delete_ignoring_missing(
            actual.address, lambda: self.ops.delete(rg, service, actual.name, if_match="*")
        )
        self.ctx.memo.clear()


class ProductPolicyProvider:
    """The policy of a product (its scope runs between the global and the APIs' policies)."""

    kind = Kind.PRODUCT_POLICY

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def desired(self, address: str, spec: Policy, resolved: Mapping[str, Any]) -> Desired:
        from orchestrator.providers.apim_apis import _named_value_names

        props: dict[str, Any] = {
            "@rg": self.ctx.rg,
            "@service": service_of(self.ctx),
            "@product": address_parts(address)[0],
            "properties.value": render(spec, resolved, _named_value_names(self.ctx)),
        }
        return Desired(address, self.kind, "policy", props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return diff_owned(desired.properties, actual.properties, compare={"properties.value": xml_equal})

    @staticmethod
    def _key(d: Desired | Actual) -> Key:
        return key_of(str(d.properties.get("@service")), str(d.properties.get("@product")), "policy")

    async def _products(self, rg: str, service: str) -> dict[str, Any]:
        apim = self.ctx.clients.apim

        async def load() -> list[Any]:
            return await collect(f"products in {service}", lambda: apim.product.list_by_service(rg, service))

        items = await self.ctx.memo.get(f"{Kind.PRODUCT}:{rg}/{service}", load)
        return {str(i.name).lower(): i for i in items}

    async def _read_one(self, desired: Desired) -> tuple[Key, Actual] | None:
        p = desired.properties
        rg, service, product = str(p["@rg"]), str(p["@service"]), str(p["@product"])
        parent = (await self._products(rg, service)).get(product.lower())
        if parent is None:
            return None  # no product: no policy, no call needed
        owned = description_owned((wire(parent).get("properties") or {}).get("description"), self.ctx.lab)
        apim = self.ctx.clients.apim
        res = await get_or_none(
            f"policy of product {product}",
            lambda: apim.product_policy.get(rg, service, product, "policy", format="rawxml"),
        )
        if res is None:
            return None
        value = (wire(res).get("properties") or {}).get("value")
        loc = {k: v for k, v in p.items() if k.startswith("@")}
        return self._key(desired), Actual(
            "", self.kind, "policy", {**loc, "properties.value": value}, {}, owned, res.id
        )

    def _policyless(self) -> list[Desired]:
        """The spec's products without a policy: a policy read there is the lab's and pruned."""
        lab, service = self.ctx.lab_spec, service_of(self.ctx)
        if lab is None or not isinstance(service, str):
            return []
        return [
            Desired("", self.kind, "policy", {"@rg": self.ctx.rg, "@service": service, "@product": key})
            for key, product in lab.apim.products.items()
            if product.policy is None
        ]

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        todo = [
            d for d in addresses.values() if d is not None and isinstance(d.properties.get("@service"), str)
        ]
        todo += self._policyless()
        results = await gather(self.ctx, todo, self._read_one)
        return assign(self.kind, addresses, [r for r in results if r is not None], self._key)

    async def create(self, desired: Desired) -> Actual:
        p = desired.properties
        rg, service, product = str_prop(p, "@rg"), str_prop(p, "@service"), str_prop(p, "@product")
        body = json_body({"properties": {"value": p["properties.value"], "format": "rawxml"}})
        with translating(desired.address):
            res = await self.ctx.clients.apim.product_policy.create_or_update(
                rg, service, product, "policy", body
            )
        self.ctx.memo.clear()
        loc = {k: v for k, v in p.items() if k.startswith("@")}
        return Actual(desired.address, self.kind, "policy", {**loc, "properties.value": p["properties.value"]}, {}, True, res.id)  # fmt: skip

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        return await self.create(desired)

    async def delete(self, actual: Actual) -> None:
        p = actual.properties
        rg, service, product = str_prop(p, "@rg"), str_prop(p, "@service"), str_prop(p, "@product")
        apim = self.ctx.clients.apim
        await delete_ignoring_missing(
            actual.address, lambda: apim.product_policy.delete(rg, service, product, "policy", if_match="*")
        )
        self.ctx.memo.clear()


def scope_of(scope: Any) -> str:
    """``/products/<p>`` or ``/apis/<a>`` (lower-cased) of a subscription's scope, which APIM
    answers as a full resource id (``/subscriptions/.../service/<s>/products/<p>``)."""
    text = str(scope or "").rstrip("/")
    parts = text.split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i].lower() in ("products", "apis"):
            return f"/{parts[i].lower()}/{parts[i + 1].lower()}"
    return text.lower()


class SubscriptionProvider(ApimChild):
    kind = Kind.SUBSCRIPTION
    operations_attr = "subscription"

    def desired(self, address: str, spec: Subscription, resolved: Mapping[str, Any]) -> Desired:
        props = base_props(self.ctx.rg, service_of(self.ctx))
        scope = f"/products/{spec.product}" if spec.product else f"/apis/{spec.api}"
        props.update(
            {
                "properties.displayName": with_mark(spec.display_name, self.ctx.lab),
                "properties.scope": scope.lower(),
                "properties.state": "active" if spec.active else "suspended",
            }
        )
        return Desired(address, self.kind, address.rsplit(".", 1)[-1], props)

    async def _list(self, rg: str, service: str) -> list[Any]:
        async def load() -> list[Any]:
            return await collect(f"{self.kind} in {service}", lambda: self.ops.list(rg, service))

        return await self.ctx.memo.get(f"{self.kind}:{rg}/{service}", load)

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        p = wire(item).get("properties") or {}
        display = p.get("displayName")
        props = {
            **base_props(rg, service),
            "properties.displayName": display,
            "properties.scope": scope_of(p.get("scope")),
            "properties.state": p.get("state"),
        }
        owned = description_owned(display, lab)
        return Actual("", self.kind, str(item.name), props, {}, owned, item.id)
