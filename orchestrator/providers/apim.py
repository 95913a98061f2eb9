"""Providers for API Management: the service, named values, backends, loggers and diagnostics
(APIs, operations and policies are in ``apim_apis``).

Flow: reads are one list per collection (``list_by_resource_group`` for services,
``list_by_service`` for each child collection), shared through the read memo; writes send the
REST shape as a JSON body through the SDK (``IO[bytes]``), so fields newer than the SDK's models
still reach the target. Ownership: the service carries the ARM tag ``prmlab-lab``; named values
carry an APIM tag; backends and loggers carry the mark in their ``description``; a diagnostic is
owned when its logger is. Deleting the service purges its soft-deleted copy (the name stays
taken otherwise) and is refused while the service holds APIs the lab does not own.

Secret named values are compared by a salted digest kept in an APIM tag: the value is never read
back, printed or stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import PermanentError
from orchestrator.kinds import Kind
from orchestrator.providers.base import (
    OWNER_TAG,
    arm_owned,
    arm_tags,
    description_owned,
    diff_owned,
    digest_matches,
    find_digest,
    json_body,
    secret_digest_tag,
    secret_values,
    spec_dict,
    wire,
    with_mark,
)
from orchestrator.providers.common import (
    Context,
    Key,
    assign,
    collect,
    delete_ignoring_missing,
    get_or_none,
    key_of,
    str_prop,
)
from orchestrator.providers.errors import translating
from orchestrator.resolve import substitute
from orchestrator.resource import UNKNOWN, Actual, Desired, FieldChange, Secret

BUILTIN_ECHO_API = "echo-api"


def named_value_tag(lab: str) -> str:
    """APIM tags allow letters, digits, ``-`` ``_`` ``.`` only: no colon here."""
    return f"{OWNER_TAG}-{lab}"


def service_of(ctx: Context, spec: Mapping[str, Any]) -> Any:
    """The APIM service a child lives in: the spec's own ``service`` or the lab's service."""
    return spec.get("service") or ctx.apim_service or UNKNOWN


def _loc(desired: Desired | Actual) -> tuple[str, str]:
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


class ApimServiceProvider:
    kind = Kind.APIM_SERVICE

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired:
        data = substitute(spec_dict(spec), resolved)
        sku = data.get("sku") or {}
        if isinstance(sku, str):
            sku = {"name": sku}
        lab = self.ctx.lab
        props: dict[str, Any] = {
            "@rg": data.get("resource_group") or self.ctx.rg,
            "location": data.get("location") or self.ctx.location,
            "sku.name": sku.get("name", "BasicV2"),
            "sku.capacity": int(data.get("capacity", sku.get("capacity", 1))),
            "properties.publisherEmail": data.get("publisher_email"),
            "properties.publisherName": data.get("publisher_name"),
            "identity.type": "SystemAssigned",
        }
        if lab:
            props["tags"] = arm_tags(lab, data.get("tags"))
        return Desired(address, self.kind, str(data["name"]), props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        def same_location(want: Any, have: Any) -> bool:
            return bool(_norm_location(want) == _norm_location(have))

        def same_sku(want: Any, have: Any) -> bool:
            return isinstance(want, str) and isinstance(have, str) and want.lower() == have.lower()

        compare = {"location": same_location, "sku.name": same_sku}
        return diff_owned(desired.properties, actual.properties, compare=compare, replace=("location",))

    def _actual(self, res: Any, lab: str) -> tuple[Key, Actual]:
        body = wire(res)
        rg = str(res.id).split("/")[4] if res.id else self.ctx.rg
        props = {
            "@rg": rg,
            "location": _norm_location(body.get("location")),
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
        actual = Actual("", self.kind, res.name, props, outputs, arm_owned(res.tags, lab), res.id)
        return key_of(res.name), actual

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        found = [self._actual(s, lab_name) for s in await list_services(self.ctx)]
        return assign(self.kind, addresses, found, lambda d: key_of(d.name))

    def _body(self, desired: Desired) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for path, value in desired.properties.items():
            if not path.startswith("@"):
                _set(body, path, value)
        body["location"] = desired.properties["location"]
        return body

    async def create(self, desired: Desired) -> Actual:
        rg = str_prop(desired.properties, "@rg")
        with translating(desired.address):
            poller = await self.ctx.clients.apim.api_management_service.begin_create_or_update(
                rg, desired.name, json_body(self._body(desired))
            )
            res = await poller.result()
        self.ctx.memo.clear()
        return _readdress(self._actual(res, self.ctx.lab)[1], desired.address)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        return await self.create(desired)

    async def delete(self, actual: Actual) -> None:
        rg = str(actual.properties.get("@rg") or self.ctx.rg)
        client = self.ctx.clients.apim
        # Deleting the service deletes every API in it: refuse while it holds APIs the lab does
        # not own (APIM's own sample ``echo-api``, created with classic tiers, does not count).
        apis = await collect(actual.address, lambda: client.api.list_by_service(rg, actual.name))
        foreign = sorted(
            str(a.name)
            for a in apis
            if str(a.name) != BUILTIN_ECHO_API
            and not description_owned((wire(a).get("properties") or {}).get("description"), self.ctx.lab)
        )
        if foreign:
            raise PermanentError(
                actual.address,
                f"not deleted: it holds APIs this lab does not own ({', '.join(foreign)}); delete or move them first",
            )

        async def delete() -> None:
            poller = await client.api_management_service.begin_delete(rg, actual.name)
            await poller.result()

        await delete_ignoring_missing(actual.address, delete)

        # APIM keeps a deleted service soft-deleted for 48 h and refuses its name until purged.
        async def purge() -> None:
            poller = await client.deleted_services.begin_purge(actual.name, actual.properties["location"])
            await poller.result()

        await delete_ignoring_missing(actual.address, purge)
        self.ctx.memo.clear()


def _norm_location(value: Any) -> Any:
    return value.replace(" ", "").lower() if isinstance(value, str) else value


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = body
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _readdress(actual: Actual, address: str) -> Actual:
    return dataclasses.replace(actual, address=address)


# ------------------------------------------------------------------------------- children


class _ApimChild:
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
                _set(body, path, value)
        return body

    async def create(self, desired: Desired) -> Actual:
        rg, service = _loc(desired)
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
        rg, service = _loc(actual)
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


def _base_props(rg: str, service: Any) -> dict[str, Any]:
    """The locator keys of an APIM child (never diffed)."""
    return {"@rg": rg, "@service": service}


class NamedValueProvider(_ApimChild):
    kind = Kind.NAMED_VALUE
    operations_attr = "named_value"

    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired:
        data = substitute(spec_dict(spec), resolved)
        lab = self.ctx.lab
        name = str(data.get("name") or address.rsplit(".", 1)[-1])
        props = _base_props(data.get("resource_group") or self.ctx.rg, service_of(self.ctx, data))
        value = data.get("value")
        # A Key Vault reference is always a secret named value in APIM.
        secret = bool(data.get("secret")) or isinstance(value, Secret) or bool(data.get("key_vault"))
        if secret and isinstance(value, str):
            value = Secret(value)
        props.update(
            {
                "properties.displayName": data.get("display_name") or name,
                "properties.secret": secret,
                "properties.tags": [named_value_tag(lab)] if lab else [],
            }
        )
        if data.get("tags"):
            props["properties.tags"] = [*props["properties.tags"], *data["tags"]]
        key_vault = data.get("key_vault")
        if key_vault:
            props["properties.keyVault.secretIdentifier"] = key_vault.get("secret_id")
            identity = key_vault.get("identity")
            if identity:
                # The spec names the identity by key; its client id is read when writing.
                identities = getattr(self.ctx.lab_spec, "managed_identities", None) or {}
                mi_name = str(identities[identity].name) if identity in identities else str(identity)
                props["@kv_identity_id"] = arm_id(
                    self.ctx, "Microsoft.ManagedIdentity/userAssignedIdentities", mi_name
                )
        else:
            props["properties.value"] = value
        return Desired(address, self.kind, name, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        want = dict(desired.properties)
        value = want.pop("properties.value", None)
        want_tags = want.pop("properties.tags", [])
        changes = list(diff_owned(want, actual.properties))
        have_tags = [
            t for t in actual.properties.get("properties.tags") or [] if not t.startswith("prmlab-sha256-")
        ]
        if sorted(want_tags) != sorted(have_tags) and not set(want_tags) <= set(have_tags):
            changes.append(FieldChange("properties.tags", have_tags, want_tags))
        if value is UNKNOWN:
            changes.append(
                FieldChange("properties.value", actual.properties.get("properties.value"), UNKNOWN)
            )
        elif isinstance(value, Secret):
            digest = actual.properties.get("@digest")
            if not isinstance(digest, str) or not digest_matches(digest, value.reveal()):
                changes.append(FieldChange("properties.value", Secret("?"), value))
        elif value is not None and value != actual.properties.get("properties.value"):
            old = actual.properties.get("properties.value")
            if actual.properties.get("properties.secret"):
                old = Secret("?")
            changes.append(FieldChange("properties.value", old, value))
        return tuple(sorted(changes, key=lambda c: c.path))

    async def create(self, desired: Desired) -> Actual:
        identity_id = desired.properties.get("@kv_identity_id")
        if isinstance(identity_id, str):
            from orchestrator.providers.identity import MANAGED_IDENTITY

            resources = self.ctx.clients.resources
            identity = await get_or_none(
                desired.address,
                lambda: resources.resources.get_by_id(identity_id, api_version=MANAGED_IDENTITY.api_version),
            )
            client_id = (
                (wire(identity).get("properties") or {}).get("clientId") if identity is not None else None
            )
            if not client_id:
                raise PermanentError(desired.address, f"managed identity {identity_id} does not exist")
            desired = Desired(
                desired.address,
                desired.kind,
                desired.name,
                {**desired.properties, "properties.keyVault.identityClientId": client_id},
            )
        return await super().create(desired)

    def body(self, desired: Desired) -> dict[str, Any]:
        body = super().body(desired)
        value = desired.properties.get("properties.value")
        if isinstance(value, Secret):
            tags = list(body["properties"].get("tags") or [])
            body["properties"]["tags"] = [*tags, secret_digest_tag(value.reveal())]
        return body

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        body = wire(item)
        p = body.get("properties") or {}
        tags = list(p.get("tags") or [])
        secret = bool(p.get("secret"))
        props: dict[str, Any] = {
            **_base_props(rg, service),
            "properties.displayName": p.get("displayName"),
            "properties.secret": secret,
            "properties.tags": tags,
            "@digest": find_digest(tags),
        }
        if (p.get("keyVault") or {}).get("secretIdentifier"):
            props["properties.keyVault.secretIdentifier"] = p["keyVault"]["secretIdentifier"]
        # A secret's value is never returned by a list: keep only what a plain value shows.
        props["properties.value"] = None if secret else p.get("value")
        owned = bool(lab) and named_value_tag(lab) in tags
        return Actual("", self.kind, str(item.name), props, {}, owned, item.id)


class BackendProvider(_ApimChild):
    kind = Kind.BACKEND
    operations_attr = "backend"

    async def list_backends(self, rg: str, service: str) -> list[Any]:
        """The service's backends (memoised: the API provider reads them too)."""
        return await self._list(rg, service)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        updated = await super().update(desired, actual)
        old, new = actual.properties.get("properties.url"), updated.properties.get("properties.url")
        if old and new and old != new:
            await self._follow(desired, str(old), str(new))
        return updated

    async def _follow(self, desired: Desired, old: str, new: str) -> None:
        """APIs of this lab whose ``serviceUrl`` is this backend's old URL move with it, in the
        same run (else they would keep forwarding to the old server until the next one)."""
        rg, service = _loc(desired)
        apim = self.ctx.clients.apim
        apis = await collect(desired.address, lambda: apim.api.list_by_service(rg, service))
        for api in apis:
            p = wire(api).get("properties") or {}
            if p.get("serviceUrl") == old and description_owned(p.get("description"), self.ctx.lab):
                with translating(desired.address):
                    await apim.api.update(
                        rg, service, str(api.name), "*", json_body({"properties": {"serviceUrl": new}})
                    )
        self.ctx.memo.clear()

    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired:
        data = substitute(spec_dict(spec), resolved)
        lab = self.ctx.lab
        name = str(data.get("name") or address.rsplit(".", 1)[-1])
        props = _base_props(data.get("resource_group") or self.ctx.rg, service_of(self.ctx, data))
        props.update(
            {
                "properties.url": data.get("url"),
                "properties.protocol": data.get("protocol") or "http",
                "properties.description": with_mark(data.get("description"), lab),
            }
        )
        tls = data.get("tls") or {}
        chain = data.get("validate_certificate_chain", tls.get("validate_certificate_chain"))
        cname = data.get("validate_certificate_name", tls.get("validate_certificate_name"))
        if chain is not None:
            props["properties.tls.validateCertificateChain"] = bool(chain)
        if cname is not None:
            props["properties.tls.validateCertificateName"] = bool(cname)
        return Desired(address, self.kind, name, props)

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        p = wire(item).get("properties") or {}
        tls = p.get("tls") or {}
        props = {
            **_base_props(rg, service),
            "properties.url": p.get("url"),
            "properties.protocol": p.get("protocol"),
            "properties.description": p.get("description"),
            "properties.tls.validateCertificateChain": tls.get("validateCertificateChain"),
            "properties.tls.validateCertificateName": tls.get("validateCertificateName"),
        }
        owned = description_owned(p.get("description"), lab)
        return Actual("", self.kind, str(item.name), props, {"url": p.get("url")}, owned, item.id)


class LoggerProvider(_ApimChild):
    kind = Kind.APIM_LOGGER
    operations_attr = "logger"

    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired:
        data = substitute(spec_dict(spec), resolved)
        lab = self.ctx.lab
        name = str(data.get("name") or address.rsplit(".", 1)[-1])
        props = _base_props(data.get("resource_group") or self.ctx.rg, service_of(self.ctx, data))
        props.update(
            {
                "properties.loggerType": data.get("logger_type") or "applicationInsights",
                "properties.description": with_mark(data.get("description"), lab),
            }
        )
        insights = _app_insights_name(self.ctx)
        if insights:
            props["properties.resourceId"] = arm_id(self.ctx, "Microsoft.Insights/components", insights)
        return Desired(address, self.kind, name, props)

    async def _credentials(self, desired: Desired) -> dict[str, Any]:
        """The Application Insights instrumentation key, read when writing (never diffed:
        APIM keeps logger credentials as a hidden named value and returns a reference)."""
        rid = desired.properties.get("properties.resourceId")
        if not isinstance(rid, str):
            return {}
        from orchestrator.providers.monitoring import APP_INSIGHTS

        resources = self.ctx.clients.resources
        component = await get_or_none(
            desired.address, lambda: resources.resources.get_by_id(rid, api_version=APP_INSIGHTS.api_version)
        )
        if component is None:
            return {}
        key = (wire(component).get("properties") or {}).get("InstrumentationKey")
        return {"instrumentationKey": key} if key else {}

    async def create(self, desired: Desired) -> Actual:
        credentials = await self._credentials(desired)
        if credentials:
            desired = Desired(
                desired.address,
                desired.kind,
                desired.name,
                {**desired.properties, "@credentials": credentials},
            )
        return await super().create(desired)

    def body(self, desired: Desired) -> dict[str, Any]:
        body = super().body(desired)
        credentials = desired.properties.get("@credentials")
        if credentials:
            body["properties"]["credentials"] = {
                k: (v.reveal() if isinstance(v, Secret) else v) for k, v in credentials.items()
            }
        return body

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        p = wire(item).get("properties") or {}
        props = {
            **_base_props(rg, service),
            "properties.loggerType": p.get("loggerType"),
            "properties.description": p.get("description"),
            "properties.resourceId": p.get("resourceId"),
        }
        owned = description_owned(p.get("description"), lab)
        return Actual("", self.kind, str(item.name), props, {"id": item.id}, owned, item.id)


class DiagnosticProvider(_ApimChild):
    kind = Kind.APIM_DIAGNOSTIC
    operations_attr = "diagnostic"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._owned_loggers: set[tuple[str, str]] = set()

    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired:
        data = substitute(spec_dict(spec), resolved)
        rg = data.get("resource_group") or self.ctx.rg
        service = service_of(self.ctx, data)
        name = str(data.get("name") or "applicationinsights")
        logger = _logger_name(self.ctx)
        props = _base_props(rg, service)
        logger_id = (
            UNKNOWN
            if service is UNKNOWN
            else f"{self.ctx.rg_id(rg)}/providers/Microsoft.ApiManagement/service/{service}/loggers/{logger}"
        )
        props.update(
            {
                "properties.loggerId": logger_id,
                "properties.alwaysLog": "allErrors" if data.get("always_log_errors", True) else None,
                "properties.logClientIp": bool(data.get("log_client_ip", True)),
                "properties.sampling.samplingType": "fixed",
                "properties.sampling.percentage": float(data.get("sampling_percentage", 100)),
                "properties.verbosity": data.get("verbosity") or "information",
            }
        )
        return Desired(address, self.kind, name, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        def same_logger(want: Any, have: Any) -> bool:
            # APIM answers with the full ARM id or ``/loggers/<name>``: compare the logger name.
            return isinstance(want, str) and isinstance(have, str) and _last(want) == _last(have)

        return diff_owned(desired.properties, actual.properties, compare={"properties.loggerId": same_logger})

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        # A diagnostic has no description: it is owned when the logger it points at is owned.
        owned_loggers: set[tuple[str, str]] = set()
        loggers = LoggerProvider(self.ctx)
        rg = self.ctx.rg
        for service in await service_names(self.ctx, addresses, lab_name):
            for item in await loggers._list(rg, service):
                if loggers.actual_from(item, rg, service, lab_name).owned:
                    owned_loggers.add((service.lower(), str(item.name).lower()))
        self._owned_loggers = owned_loggers
        return await super().read(lab_name, addresses)

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        p = wire(item).get("properties") or {}
        sampling = p.get("sampling") or {}
        props = {
            **_base_props(rg, service),
            "properties.loggerId": p.get("loggerId"),
            "properties.alwaysLog": p.get("alwaysLog"),
            "properties.sampling.samplingType": sampling.get("samplingType"),
            "properties.sampling.percentage": sampling.get("percentage"),
            "properties.verbosity": p.get("verbosity"),
            "properties.logClientIp": p.get("logClientIp"),
        }
        owned_loggers = self._owned_loggers
        owned = (service.lower(), _last(str(p.get("loggerId") or "")).lower()) in owned_loggers
        return Actual("", self.kind, str(item.name), props, {}, owned, item.id)

    async def create(self, desired: Desired) -> Actual:
        actual = await super().create(desired)
        return dataclasses.replace(actual, owned=True)


def _app_insights_name(ctx: Context) -> str | None:
    insights = getattr(getattr(ctx.lab_spec, "monitoring", None), "app_insights", None)
    return None if insights is None else str(insights.name)


def _logger_name(ctx: Context) -> str:
    logger = getattr(getattr(ctx.lab_spec, "monitoring", None), "apim_logger", None)
    return "appinsights-logger" if logger is None else str(logger.name)


def arm_id(ctx: Context, resource_type: str, name: str) -> str:
    namespace, _, kind = resource_type.partition("/")
    return f"{ctx.rg_id()}/providers/{namespace}/{kind}/{name}"


def _last(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]
