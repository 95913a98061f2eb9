"""Providers for APIM APIs, their operations, and API- / operation-level policies.

Flow: one list of the APIs of a service, one list of operations per API that the spec names and
that exists, one policy GET (``format=rawxml``) per policy node whose parent exists — nothing is
read for resources that do not exist yet. APIs and operations carry the ownership mark in their
``description``; a policy belongs to its API's owner.

The MCP API is APIM's ``type: mcp`` as the original lab deploys it (``MCP_API_VERSION``, body in
``ApiProvider.desired``): it names its backend (``backendId``) instead of a ``serviceUrl``, and
exists only for the api-versions that have it — not for 2024-05-01, the one version
azure-mgmt-apimanagement 5.0.0 speaks. So the API lists are read as JSON at ``MCP_API_VERSION``
(``arm_raw``: the SDK's models drop ``backendId``/``mcpProperties``), the MCP API is written through
the SDK with that per-call ``api_version``, and its operations and policies are read and written at
that version too (``@api_version``, a locator); every other API stays at the SDK's 2024-05-01.

A policy lab.yaml no longer names, on an API or operation it keeps, is read too (one GET per
such API or operation) and pruned; an API that goes takes its policies with it.

Policies are rendered from ``{template, variables}`` in ``desired`` (pure) and compared after
canonicalisation (APIM re-indents and re-orders what it stores).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import TemporaryError
from orchestrator.kinds import Kind
from orchestrator.providers import arm_raw
from orchestrator.providers.apim import service_names, service_of
from orchestrator.providers.base import (
    description_owned,
    diff_owned,
    json_body,
    unflatten,
    wire,
    with_mark,
    xml_equal,
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
    str_prop,
)
from orchestrator.providers.errors import translating
from orchestrator.resolve import contains_unknown, value_of
from orchestrator.resource import UNKNOWN, Actual, Desired, FieldChange
from orchestrator.urls import api_prm_url, api_url

if TYPE_CHECKING:
    from orchestrator.spec.models import Api, Operation, Policy


# The MCP API's api-version: the original lab's (Azure-Samples/AI-Gateway labs/mcp-prm-oauth,
# src/bicep/apim-mcp/mcp-api.bicep: ``apis@2024-06-01-preview``, deployed in Azure), also its
# policy's; ``type: mcp`` does not exist at 2024-05-01 (see ``emulator.arm.apim.serves_mcp``).
MCP_API_VERSION = "2024-06-01-preview"


def api_version_for(api_type: Any) -> str | None:
    """The api-version an API (and its operations and policies) is read and written at:
    ``MCP_API_VERSION`` for an MCP API, ``None`` (the SDK's own) for any other."""
    return MCP_API_VERSION if str(api_type or "").lower() == "mcp" else None


def _sdk_version(api_version: Any) -> dict[str, Any]:
    """The per-call ``api_version`` keyword of the generated operations, when not the SDK's own."""
    return {"api_version": api_version} if isinstance(api_version, str) else {}


def _raw(pipeline_response: Any, _deserialized: Any, _headers: Any) -> Any:
    """``cls`` of a generated operation: the answer's JSON (the SDK's models drop MCP fields)."""
    return pipeline_response.http_response.json()


def api_urls(gateway_url: Any, path: Any) -> dict[str, Any]:
    """``url`` of an API and its RFC 9728 path-inserted metadata URL ``prm_url``."""
    if not isinstance(gateway_url, str) or not isinstance(path, str):
        return {"url": UNKNOWN, "prm_url": UNKNOWN}
    return {"url": api_url(gateway_url, path), "prm_url": api_prm_url(gateway_url, path)}


def template_parameters(url_template: str) -> list[dict[str, Any]]:
    """APIM requires a template parameter for every ``{name}`` in an operation URL template."""
    names = re.findall(r"{([^}/*]+)\*?}", url_template)
    return [{"name": n, "type": "string", "required": True} for n in names]


def address_parts(address: str) -> list[str]:
    """``operation.mcp.prm`` -> ``["mcp", "prm"]`` (the keys after the kind)."""
    return address.split(".")[1:]


def render(policy: Policy, resolved: Mapping[str, Any], named_values: Mapping[str, str] | None) -> Any:
    """Render a ``Policy{template, variables}`` with its references resolved: the XML, or UNKNOWN
    while a referenced value is not known yet (the executor re-derives it once it is)."""
    from orchestrator.render import render_policy
    from orchestrator.render.lab import convert_variables

    converted = convert_variables(policy.variables, lambda ref: value_of(ref, resolved), named_values)
    if contains_unknown(converted):
        return UNKNOWN
    return render_policy(policy.template, converted)


def _named_value_names(ctx: Context) -> dict[str, str] | None:
    if ctx.lab_spec is None:
        return None
    from orchestrator.render.lab import named_value_names

    return named_value_names(ctx.lab_spec)


class _Base:
    kind = ""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _service_path(self, rg: str, service: str) -> str:
        sub = self.ctx.clients.subscription_id
        return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{service}"

    async def apis(self, rg: str, service: str) -> list[dict[str, Any]]:
        """The service's APIs as JSON, listed at ``MCP_API_VERSION`` (MCP APIs do not exist for
        the SDK's 2024-05-01)."""
        apim = self.ctx.clients.apim
        path = f"{self._service_path(rg, service)}/apis"

        async def load() -> list[dict[str, Any]]:
            return await collect(f"apis in {service}", lambda: arm_raw.list_json(apim, path, MCP_API_VERSION))

        return await self.ctx.memo.get(f"api:{rg}/{service}", load)

    async def operations(
        self, rg: str, service: str, api: str, api_version: str | None = None
    ) -> list[dict[str, Any]]:
        """An API's operations as JSON, at the API's own api-version (``api_version_for``)."""
        apim = self.ctx.clients.apim
        path = f"{self._service_path(rg, service)}/apis/{api}/operations"
        version = api_version or str(apim._config.api_version)

        async def load() -> list[dict[str, Any]]:
            return await collect(f"operations of {api}", lambda: arm_raw.list_json(apim, path, version))

        return await self.ctx.memo.get(f"operation:{rg}/{service}/{api}".lower(), load)

    def spec_api_version(self, api: str) -> str | None:
        """The api-version of the lab's API ``api`` (``apim.apis.<api>.type``), pure."""
        spec = self.ctx.lab_spec
        model = spec.apim.apis.get(api) if spec is not None and spec.apim is not None else None
        return api_version_for(model.type) if model is not None else None

    def _rg(self, addresses: Mapping[str, Desired | None]) -> str:
        rgs = {str(d.properties.get("@rg")) for d in addresses.values() if d is not None}
        return rgs.pop() if len(rgs) == 1 else self.ctx.rg

    async def gateway(self, service: str) -> Any:
        from orchestrator.providers.apim import list_services

        for s in await list_services(self.ctx):
            if str(s.name).lower() == service.lower():
                return wire(s).get("properties", {}).get("gatewayUrl")
        return None


# ------------------------------------------------------------------------------- APIs


class ApiProvider(_Base):
    kind = Kind.API

    def desired(self, address: str, spec: Api, resolved: Mapping[str, Any]) -> Desired:
        name = address_parts(address)[-1]
        props: dict[str, Any] = {
            "@rg": self.ctx.rg,
            "@service": service_of(self.ctx),
            "@gateway": resolved.get("apim.service.gateway_url", UNKNOWN),
            "properties.displayName": spec.display_name,
            "properties.path": spec.path,
            "properties.protocols": list(spec.protocols),
            "properties.subscriptionRequired": spec.subscription_required,
            "properties.type": spec.type,
            "properties.description": with_mark(spec.description, self.ctx.lab),
        }
        if spec.type == "mcp":
            # APIM's MCP API as the original lab writes it (mcp-api.bicep): it names its backend
            # (no serviceUrl), streamable HTTP transport, no OAuth/OpenID server settings, current.
            props["@api_version"] = MCP_API_VERSION
            props["properties.backendId"] = spec.backend
            props["properties.mcpProperties.transportType"] = "streamable"
            props["properties.authenticationSettings.oAuth2AuthenticationSettings"] = []
            props["properties.authenticationSettings.openidAuthenticationSettings"] = []
            props["properties.isCurrent"] = True
        elif spec.backend:
            # The API forwards to a backend of the lab: its ``serviceUrl`` follows that backend's
            # URL (read when writing; compared with the backend as read, see ``diff``).
            props["@backend"] = spec.backend
        return Desired(address, self.kind, name, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        changes = list(diff_owned(desired.properties, actual.properties))
        backend_url = actual.properties.get("@backend_url")
        if desired.properties.get("@backend") and isinstance(backend_url, str):
            have = actual.properties.get("properties.serviceUrl")
            if have != backend_url:
                changes.append(FieldChange("properties.serviceUrl", have, backend_url))
        return tuple(sorted(changes, key=lambda c: c.path))

    def actual_from(self, item: Mapping[str, Any], rg: str, service: str, gateway: Any) -> Actual:
        p = item.get("properties") or {}
        auth = p.get("authenticationSettings") or {}
        props = {
            "@rg": rg,
            "@service": service,
            "properties.displayName": p.get("displayName"),
            "properties.path": p.get("path"),
            "properties.protocols": p.get("protocols"),
            "properties.subscriptionRequired": p.get("subscriptionRequired"),
            "properties.type": p.get("type") or "http",
            "properties.description": p.get("description"),
            "properties.serviceUrl": p.get("serviceUrl"),
            "properties.backendId": p.get("backendId"),
            "properties.mcpProperties.transportType": (p.get("mcpProperties") or {}).get("transportType"),
            "properties.authenticationSettings.oAuth2AuthenticationSettings": auth.get(
                "oAuth2AuthenticationSettings"
            ),
            "properties.authenticationSettings.openidAuthenticationSettings": auth.get(
                "openidAuthenticationSettings"
            ),
            "properties.isCurrent": p.get("isCurrent"),
        }
        version = api_version_for(p.get("type"))
        if version is not None:
            props["@api_version"] = version
        owned = description_owned(p.get("description"), self.ctx.lab)
        name = str(item.get("name"))
        outputs = {"name": name, **api_urls(gateway, p.get("path"))}
        return Actual("", self.kind, name, props, outputs, owned, item.get("id"))

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        rg = self._rg(addresses)
        found: list[tuple[Key, Actual]] = []
        for service in await service_names(self.ctx, addresses, lab_name):
            gateway = await self.gateway(service)
            for item in await self.apis(rg, service):
                found.append(
                    (key_of(service, str(item["name"])), self.actual_from(item, rg, service, gateway))
                )
        result = assign(self.kind, addresses, found, lambda d: key_of(str(d.properties["@service"]), d.name))
        # APIs bound to a backend: attach the backend's URL as read (one list, shared with the
        # backend provider through the memo) so that ``diff`` sees a stale ``serviceUrl``.
        for address, actual in list(result.items()):
            desired = addresses.get(address)
            backend = desired.properties.get("@backend") if desired is not None else None
            if isinstance(backend, str):
                url = await self._backend_url(rg, str(actual.properties["@service"]), backend)
                props = {**actual.properties, "@backend_url": url}
                result[address] = dataclasses.replace(actual, properties=props)
        return result

    async def _backend_url(self, rg: str, service: str, backend: str) -> str | None:
        from orchestrator.providers.apim_values import BackendProvider

        for item in await BackendProvider(self.ctx).list_backends(rg, service):
            if str(item.name).lower() == backend.lower():
                url = (wire(item).get("properties") or {}).get("url")
                return str(url) if url else None
        return None

    async def create(self, desired: Desired) -> Actual:
        rg, service = str_prop(desired.properties, "@rg"), str_prop(desired.properties, "@service")
        body: dict[str, Any] = {"properties": {}}
        body.update(unflatten({k: v for k, v in desired.properties.items() if k.startswith("properties.")}))
        backend = desired.properties.get("@backend")
        if isinstance(backend, str):
            apim = self.ctx.clients.apim
            found = await get_or_none(desired.address, lambda: apim.backend.get(rg, service, backend))
            url = (wire(found).get("properties") or {}).get("url") if found is not None else None
            if not url:
                raise TemporaryError(desired.address, f"backend {backend!r} does not exist yet")
            body["properties"]["serviceUrl"] = url
        with translating(desired.address):
            poller = await self.ctx.clients.apim.api.begin_create_or_update(
                rg,
                service,
                desired.name,
                json_body(body),
                cls=_raw,
                **_sdk_version(desired.properties.get("@api_version")),
            )
            res = await poller.result()
        self.ctx.memo.clear()
        gateway = desired.properties.get("@gateway")
        if not isinstance(gateway, str):
            gateway = await self.gateway(service)
        return dataclasses.replace(self.actual_from(res, rg, service, gateway), address=desired.address)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        return await self.create(desired)

    async def delete(self, actual: Actual) -> None:
        rg, service = str_prop(actual.properties, "@rg"), str_prop(actual.properties, "@service")
        api = self.ctx.clients.apim.api

        version = _sdk_version(actual.properties.get("@api_version"))

        async def delete() -> None:
            poller = await api.begin_delete(
                rg, service, actual.name, if_match="*", delete_revisions=True, **version
            )
            await poller.result()

        await delete_ignoring_missing(actual.address, delete)
        self.ctx.memo.clear()


# ------------------------------------------------------------------------------- operations


class OperationProvider(_Base):
    kind = Kind.OPERATION

    def desired(self, address: str, spec: Operation, resolved: Mapping[str, Any]) -> Desired:
        keys = address_parts(address)
        name = keys[-1]
        params = [
            {"name": t.name, "type": t.type, "required": t.required} for t in spec.template_parameters
        ] or template_parameters(spec.url_template)
        props: dict[str, Any] = {
            "@rg": self.ctx.rg,
            "@service": service_of(self.ctx),
            "@api": keys[0],
            "properties.displayName": spec.display_name,
            "properties.method": spec.method.upper(),
            "properties.urlTemplate": spec.url_template,
            "properties.templateParameters": params,
            "properties.description": with_mark(spec.description, self.ctx.lab),
        }
        version = self.spec_api_version(keys[0])
        if version is not None:
            props["@api_version"] = version
        return Desired(address, self.kind, name, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return diff_owned(desired.properties, actual.properties)

    def actual_from(
        self, item: Mapping[str, Any], rg: str, service: str, api: str, api_version: str | None = None
    ) -> Actual:
        p = item.get("properties") or {}
        props = {
            "@rg": rg,
            "@service": service,
            "@api": api,
            "properties.displayName": p.get("displayName"),
            "properties.method": p.get("method"),
            "properties.urlTemplate": p.get("urlTemplate"),
            "properties.templateParameters": p.get("templateParameters") or [],
            "properties.description": p.get("description"),
        }
        if api_version is not None:
            props["@api_version"] = api_version
        owned = description_owned(p.get("description"), self.ctx.lab)
        return Actual("", self.kind, str(item.get("name")), props, {}, owned, item.get("id"))

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        rg = self._rg(addresses)
        wanted_apis = {
            (str(d.properties.get("@service")).lower(), str(d.properties.get("@api")).lower())
            for d in addresses.values()
            if d is not None
        }
        found: list[tuple[Key, Actual]] = []
        for service in await service_names(self.ctx, addresses, lab_name):
            # Only APIs the spec keeps: a pruned API takes its operations with it.
            apis = {
                str(api["name"]): api_version_for((api.get("properties") or {}).get("type"))
                for api in await self.apis(rg, service)
                if (service.lower(), str(api["name"]).lower()) in wanted_apis
            }
            lists = await gather(
                self.ctx,
                list(apis),
                lambda api, s=service, v=apis: self.operations(rg, s, api, v[api]),  # type: ignore[misc]
            )
            for api_name, items in zip(apis, lists, strict=True):
                for item in items:
                    actual = self.actual_from(item, rg, service, api_name, apis[api_name])
                    found.append((key_of(service, api_name, actual.name), actual))
        return assign(
            self.kind,
            addresses,
            found,
            lambda d: key_of(str(d.properties["@service"]), str(d.properties["@api"]), d.name),
        )

    async def create(self, desired: Desired) -> Actual:
        p = desired.properties
        rg, service, api = str_prop(p, "@rg"), str_prop(p, "@service"), str_prop(p, "@api")
        body = {
            "properties": {
                k.removeprefix("properties."): v for k, v in p.items() if k.startswith("properties.")
            }
        }
        version = p.get("@api_version")
        with translating(desired.address):
            res = await self.ctx.clients.apim.api_operation.create_or_update(
                rg, service, api, desired.name, json_body(body), cls=_raw, **_sdk_version(version)
            )
        self.ctx.memo.clear()
        actual = self.actual_from(res, rg, service, api, version if isinstance(version, str) else None)
        return dataclasses.replace(actual, address=desired.address)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        return await self.create(desired)

    async def delete(self, actual: Actual) -> None:
        p = actual.properties
        rg, service, api = str_prop(p, "@rg"), str_prop(p, "@service"), str_prop(p, "@api")
        ops = self.ctx.clients.apim.api_operation
        version = _sdk_version(p.get("@api_version"))
        await delete_ignoring_missing(
            actual.address, lambda: ops.delete(rg, service, api, actual.name, if_match="*", **version)
        )
        self.ctx.memo.clear()


# ------------------------------------------------------------------------------- policies


class ApiPolicyProvider(_Base):
    """The policy of an API (``@operation`` absent) — see ``OperationPolicyProvider``."""

    kind = Kind.API_POLICY
    scoped_to_operation = False

    def desired(self, address: str, spec: Policy, resolved: Mapping[str, Any]) -> Desired:
        keys = address_parts(address)
        props: dict[str, Any] = {
            "@rg": self.ctx.rg,
            "@service": service_of(self.ctx),
            "@api": keys[0],
            "properties.value": render(spec, resolved, _named_value_names(self.ctx)),
        }
        if self.scoped_to_operation:
            props["@operation"] = keys[1]
        version = self.spec_api_version(keys[0])
        if version is not None:
            props["@api_version"] = version
        return Desired(address, self.kind, "policy", props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return diff_owned(desired.properties, actual.properties, compare={"properties.value": xml_equal})

    def _key(self, d: Desired | Actual) -> Key:
        p = d.properties
        parts = [str(p.get("@service")), str(p.get("@api"))]
        if self.scoped_to_operation:
            parts.append(str(p.get("@operation")))
        return key_of(*parts, "policy")

    def _actual(self, res: Any, props: Mapping[str, Any], owned: bool) -> Actual:
        p = wire(res).get("properties") or {}
        return Actual(
            "",
            self.kind,
            "policy",
            {**props, "properties.value": p.get("value")},
            {},
            owned,
            getattr(res, "id", None),
        )

    async def _parent_owned(self, rg: str, service: str, api: str, operation: str | None) -> bool | None:
        """None when the parent does not exist (nothing to read); else whether the lab owns it."""
        apis = {str(a["name"]).lower(): a for a in await self.apis(rg, service)}
        parent = apis.get(api.lower())
        if parent is None:
            return None
        parent_props = parent.get("properties") or {}
        owned = description_owned(parent_props.get("description"), self.ctx.lab)
        if operation is None:
            return owned
        version = api_version_for(parent_props.get("type"))
        ops = {
            str(o["name"]).lower(): o
            for o in await self.operations(rg, service, str(parent["name"]), version)
        }
        op = ops.get(operation.lower())
        if op is None:
            return None
        return owned and description_owned(
            (wire(op).get("properties") or {}).get("description"), self.ctx.lab
        )

    async def _get(self, rg: str, service: str, api: str, operation: str | None, version: Any) -> Any:
        apim = self.ctx.clients.apim
        kw = _sdk_version(version)
        if operation is None:
            return await get_or_none(
                f"policy of {api}",
                lambda: apim.api_policy.get(rg, service, api, "policy", format="rawxml", **kw),
            )
        return await get_or_none(
            f"policy of {api}/{operation}",
            lambda: apim.api_operation_policy.get(
                rg, service, api, operation, "policy", format="rawxml", **kw
            ),
        )

    async def _read_one(self, desired: Desired) -> tuple[Key, Actual] | None:
        p = desired.properties
        rg, service, api = str(p["@rg"]), str(p["@service"]), str(p["@api"])
        operation = str(p["@operation"]) if self.scoped_to_operation else None
        owned = await self._parent_owned(rg, service, api, operation)
        if owned is None:
            return None  # the parent does not exist: neither does the policy, no call needed
        res = await self._get(rg, service, api, operation, p.get("@api_version"))
        if res is None:
            return None
        loc = {k: v for k, v in p.items() if k.startswith("@") and k != "@gateway"}
        return self._key(desired), self._actual(res, loc, owned)

    def _policyless(self) -> list[Desired]:
        """Where lab.yaml has no policy: the spec's APIs (operations) without one. A policy read
        there is the lab's (its parent is) and no node names it, so the plan prunes it."""
        lab, service = self.ctx.lab_spec, service_of(self.ctx)
        if lab is None or not isinstance(service, str):
            return []
        where: list[dict[str, Any]] = []
        for api_key, api in lab.apim.apis.items():
            if self.scoped_to_operation:
                where += [
                    {"@api": api_key, "@operation": k}
                    for k, op in api.operations.items()
                    if op.policy is None
                ]
            elif api.policy is None:
                where.append({"@api": api_key})
        return [
            Desired("", self.kind, "policy", {"@rg": self.ctx.rg, "@service": service, **loc})
            for loc in where
        ]

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        todo = [
            d for d in addresses.values() if d is not None and isinstance(d.properties.get("@service"), str)
        ]
        todo += self._policyless()
        # Parents' lists first (memoised, one call each), so the policy GETs below run in parallel.
        for desired in todo:
            p = desired.properties
            await self.apis(str(p["@rg"]), str(p["@service"]))
        results = await gather(self.ctx, todo, self._read_one)
        return assign(self.kind, addresses, [r for r in results if r is not None], self._key)

    async def create(self, desired: Desired) -> Actual:
        p = desired.properties
        rg, service, api = str_prop(p, "@rg"), str_prop(p, "@service"), str_prop(p, "@api")
        body = json_body({"properties": {"value": p["properties.value"], "format": "rawxml"}})
        apim = self.ctx.clients.apim
        kw = _sdk_version(p.get("@api_version"))
        with translating(desired.address):
            if self.scoped_to_operation:
                operation = str_prop(p, "@operation")
                res = await apim.api_operation_policy.create_or_update(
                    rg, service, api, operation, "policy", body, **kw
                )
            else:
                res = await apim.api_policy.create_or_update(rg, service, api, "policy", body, **kw)
        self.ctx.memo.clear()
        loc = {k: v for k, v in p.items() if k.startswith("@") and k != "@gateway"}
        actual = self._actual(res, loc, True)
        if actual.properties.get("properties.value") is None:
            actual = dataclasses.replace(
                actual, properties={**actual.properties, "properties.value": p["properties.value"]}
            )
        return dataclasses.replace(actual, address=desired.address)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        return await self.create(desired)

    async def delete(self, actual: Actual) -> None:
        p = actual.properties
        rg, service, api = str_prop(p, "@rg"), str_prop(p, "@service"), str_prop(p, "@api")
        apim = self.ctx.clients.apim
        kw = _sdk_version(p.get("@api_version"))
        if self.scoped_to_operation:
            operation = str_prop(p, "@operation")
            await delete_ignoring_missing(
                actual.address,
                lambda: apim.api_operation_policy.delete(
                    rg, service, api, operation, "policy", if_match="*", **kw
                ),
            )
        else:
            await delete_ignoring_missing(
                actual.address, lambda: apim.api_policy.delete(rg, service, api, "policy", if_match="*", **kw)
            )
        self.ctx.memo.clear()


class OperationPolicyProvider(ApiPolicyProvider):
    kind = Kind.OPERATION_POLICY
    scoped_to_operation = True
