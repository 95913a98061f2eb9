"""Microsoft.ApiManagement as the emulated ARM serves it (api-version 2024-05-01 and others).

Where it sits: registers one ``TypeSpec`` per APIM resource type with ``emulator.arm.types``;
``emulator.arm.crud`` runs the shared flow. What APIM does differently lives here:

* ``service`` — create is a long-running operation (``ArmSettings.apim_create_seconds``):
  201 + ``Azure-AsyncOperation``, ``provisioningState`` ``Created`` -> ``Succeeded``. A free
  127.0.0.1 port becomes ``properties.gatewayUrl`` (the gateway sub-app listens on it). Names
  are unique per subscription. Delete soft-deletes (``locations/{loc}/deletedservices/{name}``);
  re-creating the name fails with ``ServiceAlreadyExistsInSoftDeletedState`` until purged
  (``DELETE`` on the deleted service: a long-running operation of the same duration).
* ``namedValues`` — secret values are hidden on GET/list; ``POST .../listValue`` reveals them.
* policies (service, API, operation) and ``policyFragments`` — stored as ``check_policy``
  reformats them; a bad document or a ``{{name}}`` without a named value (matched on
  ``displayName``) or an ``include-fragment`` of a missing fragment is refused with APIM's
  400 ``ValidationError`` envelope. GET echoes ``format`` (``rawxml`` / ``xml``).
* ``apis`` — ``path`` unique per service; ``type`` defaults to ``http`` (``mcp`` kept as sent);
  writes to one API or its children never overlap (409 ``PessimisticConcurrencyConflict``).
* ``loggers`` — credentials are moved into a secret named value ``Logger-Credentials--<id>``
  and answered as ``{{Logger-Credentials--<id>}}``, as APIM does.
* ``diagnostics`` (service and API) — ``loggerId`` must name an existing logger.

Store shape: ``kind`` = lower-cased type, ``key`` = lower-cased id, ``parent`` = parent id; body
= the GET JSON with secrets included (named value ``value``).
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from lxml import etree
from starlette.responses import Response

from emulator import ports
from emulator.arm import lro
from emulator.arm.crud import delete_tree, publish
from emulator.arm.errors import ArmError, json_response, validation_error
from emulator.arm.ids import ArmAddress
from emulator.arm.types import Call, Doc, TypeSpec, register
from emulator.context import EmulatorContext
from emulator.gateway import check
from emulator.store import Stored

NS = "Microsoft.ApiManagement"
SERVICE = "microsoft.apimanagement/service"
DELETED = "microsoft.apimanagement/locations/deletedservices"
NAMED_VALUES = "microsoft.apimanagement/service/namedvalues"
FRAGMENTS = "microsoft.apimanagement/service/policyfragments"
LOGGERS = "microsoft.apimanagement/service/loggers"
APIS = "microsoft.apimanagement/service/apis"
TAGS = "microsoft.apimanagement/service/tags"

_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_FRAGMENT_REF = re.compile(r"<include-fragment\s+fragment-id\s*=\s*[\"']([^\"']+)[\"']")
_SOFT_DELETE_RETENTION_S = 48 * 3600


def _service_addr(addr: ArmAddress) -> ArmAddress:
    return ArmAddress(
        addr.subscription, addr.resource_group, addr.scope, addr.namespace, addr.types[:1], addr.names[:1]
    )


def _service_key(addr: ArmAddress) -> str:
    return _service_addr(addr).key


def _props(base: Doc) -> dict[str, Any]:
    props: dict[str, Any] = base["properties"]
    return props


def _require(props: Mapping[str, Any], *names: str) -> None:
    for name in names:
        value = props.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise validation_error(f"'{name}' is required.", name)


def _keep(props: dict[str, Any], existing: Stored | None, *names: str) -> None:
    """Server-generated properties survive a PUT that does not send them."""
    if existing is None:
        return
    old = existing.body.get("properties") or {}
    for name in names:
        if name in old and name not in props:
            props[name] = old[name]


def location_slug(location: str) -> str:
    return location.replace(" ", "").lower()


# ============================================================================ service


def deleted_service_id(subscription: str, location: str, name: str) -> str:
    return f"/subscriptions/{subscription}/providers/{NS}/locations/{location_slug(location)}/deletedservices/{name}"


def taken_ports(ctx: EmulatorContext) -> set[int]:
    taken: set[int] = set()
    for kind, path in ((SERVICE, ("properties", "gatewayUrl")), ("microsoft.app/containerapps", ())):
        for doc in ctx.store.list(kind):
            if path:
                url = str(doc.body.get("properties", {}).get("gatewayUrl") or "")
            else:
                url = str(
                    ((doc.body.get("properties") or {}).get("configuration") or {})
                    .get("ingress", {})
                    .get("fqdn")
                    or ""
                )
            tail = url.rsplit(":", 1)[-1]
            if tail.isdigit():
                taken.add(int(tail))
    return taken


def managed_identity(ctx: EmulatorContext, identity: Any, old: Any) -> Any:
    """Fill ``principalId`` / ``tenantId`` (system) and user-assigned identity ids, as ARM does."""
    if not isinstance(identity, dict):
        return identity
    out = dict(identity)
    kind = str(out.get("type", "None"))
    old_identity = old if isinstance(old, dict) else {}
    if "SystemAssigned" in kind:
        out["principalId"] = old_identity.get("principalId") or str(uuid.uuid4())
        out["tenantId"] = ctx.tenant_id
    else:
        out.pop("principalId", None)
        out.pop("tenantId", None)
    uai = out.get("userAssignedIdentities")
    if isinstance(uai, dict):
        filled: dict[str, Any] = {}
        for rid in uai:
            doc = ctx.store.get("microsoft.managedidentity/userassignedidentities", rid.lower())
            if doc is None:
                raise ArmError(
                    400,
                    "InvalidUserAssignedIdentity",  # what ARM answers for a missing identity
                    f"The user-assigned identity '{rid}' was not found.",
                )
            p = doc.body.get("properties") or {}
            filled[rid] = {"principalId": p.get("principalId"), "clientId": p.get("clientId")}
        out["userAssignedIdentities"] = filled
    return out


async def _prepare_service(call: Call, base: Doc) -> Doc:
    ctx, addr, existing = call.ctx, call.addr, call.existing
    props = _props(base)
    sku = base.get("sku") or (existing.body.get("sku") if existing else None)
    if not isinstance(sku, dict) or not sku.get("name"):
        raise validation_error("'sku.name' is required.", "sku")
    base["sku"] = {"name": sku["name"], "capacity": int(sku.get("capacity", 1))}
    _require(props, "publisherEmail", "publisherName")
    if existing is None:
        lname = addr.name.lower()
        for doc in ctx.store.list(DELETED):
            if doc.body.get("name", "").lower() == lname and doc.key.startswith(
                f"/subscriptions/{addr.subscription}".lower()
            ):
                raise ArmError(
                    409,
                    "ServiceAlreadyExistsInSoftDeletedState",
                    f"Api service {addr.name} was soft-deleted. In order to create the new service with the same "
                    "name, you have to either undelete the service or purge it. See https://aka.ms/apimsoftdelete.",
                )
        for doc in ctx.store.list(SERVICE):
            if doc.body.get("name", "").lower() == lname:
                raise ArmError(409, "ServiceAlreadyExists", f"Api service already exists: {addr.name}")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,48}[A-Za-z0-9]", addr.name):
            raise validation_error(f"Service name '{addr.name}' is invalid.", "name")
        port = ports.allocate_port(taken_ports(ctx))
        gateway = f"https://127.0.0.1:{port}"
        generated: dict[str, Any] = {
            "notificationSenderEmail": "apimgmt-noreply@mail.windowsazure.com",
            "provisioningState": "Created",
            "targetProvisioningState": "Activating",
            "createdAtUtc": lro.iso(time.time()),
            "gatewayUrl": gateway,
            "gatewayRegionalUrl": gateway,
            "portalUrl": f"{gateway}/portal",
            "developerPortalUrl": f"{gateway}/developer",
            "managementApiUrl": ctx.base_url,
            "scmUrl": f"{gateway}/scm",
            "hostnameConfigurations": [
                {
                    "type": "Proxy",
                    "hostName": "127.0.0.1",
                    "negotiateClientCertificate": False,
                    "defaultSslBinding": True,
                    "certificateSource": "BuiltIn",
                }
            ],
            "publicIPAddresses": ["127.0.0.1"],
            "privateIPAddresses": None,
            "virtualNetworkType": "None",
            "disableGateway": False,
            "natGatewayState": "Disabled",
            "apiVersionConstraint": {},
            "publicNetworkAccess": "Enabled",
            "platformVersion": "stv2",
            "developerPortalStatus": "Enabled",
            "legacyPortalStatus": "Disabled",
        }
        props = {**generated, **{k: v for k, v in props.items() if k not in generated}}
    else:
        old = dict(existing.body.get("properties") or {})
        props = {**old, **props}
        for name in (
            "gatewayUrl",
            "gatewayRegionalUrl",
            "portalUrl",
            "developerPortalUrl",
            "managementApiUrl",
            "scmUrl",
            "createdAtUtc",
            "provisioningState",
            "targetProvisioningState",
            "publicIPAddresses",
        ):
            if name in old:
                props[name] = old[name]
    base["properties"] = props
    if "identity" in base:
        base["identity"] = managed_identity(
            ctx, base["identity"], existing.body.get("identity") if existing else None
        )
    base["etag"] = f"AAAAAA{secrets.token_hex(4)}="
    base["systemData"] = {"lastModifiedAt": lro.iso(time.time())}
    return base


async def _finish_service_create(ctx: EmulatorContext, op: dict[str, Any]) -> None:
    doc = ctx.store.get(SERVICE, op["resourceKey"])
    if doc is None:
        return
    body = dict(doc.body)
    props = dict(body.get("properties") or {})
    props["provisioningState"] = "Succeeded"
    props["targetProvisioningState"] = ""
    body["properties"] = props
    ctx.store.put(SERVICE, doc.key, body, parent=doc.parent)
    await publish(ctx, "put", SERVICE, doc.key)


async def _delete_service(call: Call, stored: Stored) -> Response:
    ctx, addr = call.ctx, call.addr
    await soft_delete_service(ctx, stored)
    op = lro.start(ctx, "noop", addr.kind, addr.key, 0)
    return json_response(202, None, lro.lro_headers(ctx, op, call.settings.retry_after_ms))


async def soft_delete_service(ctx: EmulatorContext, stored: Stored) -> None:
    """Move a service to ``deletedservices`` and delete it with everything under it."""
    body = stored.body
    location = str(body.get("location") or "")
    sub = str(body["id"]).split("/")[2]
    did = deleted_service_id(sub, location, str(body["name"]))
    now = time.time()
    deleted = {
        "id": did,
        "name": body["name"],
        "type": "Microsoft.ApiManagement/deletedservices",
        "location": location,
        "properties": {
            "serviceId": body["id"],
            "scheduledPurgeDate": lro.iso(now + _SOFT_DELETE_RETENTION_S),
            "deletionDate": lro.iso(now),
        },
    }
    ctx.store.put(DELETED, did.lower(), deleted, parent=did.rsplit("/", 2)[0].lower())
    await delete_tree(ctx, SERVICE, stored.key)
    await publish(ctx, "put", DELETED, did.lower())


async def _purge(call: Call, stored: Stored) -> Response:
    ctx = call.ctx
    if lro.is_pending(ctx, stored.key, "apim.purge"):
        raise ArmError(409, "Conflict", "A purge of this service is already in progress.")
    op = lro.start(ctx, "apim.purge", DELETED, stored.key, call.settings.apim_create_seconds)
    return json_response(202, None, lro.lro_headers(ctx, op, call.settings.retry_after_ms))


async def _finish_purge(ctx: EmulatorContext, op: dict[str, Any]) -> None:
    ctx.store.delete(DELETED, op["resourceKey"])
    await publish(ctx, "delete", DELETED, op["resourceKey"])


# ============================================================================ named values


def named_value_names(ctx: EmulatorContext, service_key: str) -> list[str]:
    """Display names of a service's named values (what ``{{...}}`` in a policy refers to)."""
    names = []
    for doc in ctx.store.list(NAMED_VALUES, parent=service_key):
        props = doc.body.get("properties") or {}
        names.append(str(props.get("displayName") or doc.body.get("name")))
    return names


async def _prepare_named_value(call: Call, base: Doc) -> Doc:
    props = _props(base)
    _require(props, "displayName")
    display = str(props["displayName"])
    if not _NAME_RE.fullmatch(display) or len(display) > 256:
        raise validation_error(
            "'displayName' may contain only letters, digits, '.', '-' and '_'.", "displayName"
        )
    if "keyVault" not in props:
        _keep(props, call.existing, "value")
        _require(props, "value")
    if not isinstance(props.get("secret", False), bool):
        raise validation_error("'secret' must be a boolean.", "secret")
    props.setdefault("secret", False)
    props.setdefault("tags", [])
    service_key = _service_key(call.addr)
    for doc in call.ctx.store.list(NAMED_VALUES, parent=service_key):
        other = (doc.body.get("properties") or {}).get("displayName", "")
        if doc.key != call.addr.key and str(other).lower() == display.lower():
            raise validation_error(
                f"A named value with displayName '{display}' already exists.", "displayName"
            )
    return base


def _present_named_value(body: Doc, query: Mapping[str, str]) -> Doc:
    props = body.get("properties") or {}
    if not props.get("secret"):
        return body
    return {**body, "properties": {k: v for k, v in props.items() if k != "value"}}


async def _list_value(call: Call, stored: Stored) -> Response:
    value = (stored.body.get("properties") or {}).get("value")
    return json_response(200, {"value": value}, {"ETag": stored.etag})


# ============================================================================ policies


def _fragment_ids(ctx: EmulatorContext, service_key: str) -> set[str]:
    return {str(d.body.get("name", "")).lower() for d in ctx.store.list(FRAGMENTS, parent=service_key)}


def _policy_value(call: Call, base: Doc, *, fragment: bool) -> str:
    props = _props(base)
    value = props.get("value")
    fmt = str(props.get("format") or "xml")
    if fmt not in ("xml", "rawxml"):
        raise validation_error(
            f"Policy format '{fmt}' is not supported by the local emulator (use 'xml' or 'rawxml').", "format"
        )
    if not isinstance(value, str) or not value.strip():
        raise validation_error("'value' is required.", "value")
    service_key = _service_key(call.addr)
    names = named_value_names(call.ctx, service_key)
    known_fragments = _fragment_ids(call.ctx, service_key)
    for ref in _FRAGMENT_REF.findall(value):
        if ref.lower() not in known_fragments:
            raise validation_error(
                f"Policy fragment '{ref}' referenced by the policy does not exist.", "representation"
            )
    try:
        if fragment:
            return _check_fragment(value, names)
        return check.check_policy(value, names)
    except check.PolicyRejectedError as exc:
        raise ArmError(
            400,
            exc.code,
            exc.message,
            [{"code": exc.code, "target": "representation", "message": exc.message}],
        ) from exc


def _check_fragment(value: str, names: list[str]) -> str:
    native = getattr(check, "check_fragment", None)
    if callable(native):
        return str(native(value, names))
    wrapped = check.check_policy(f"<policies>{value}</policies>", names)
    root = etree.fromstring(wrapped.encode())
    if len(root) != 1 or root[0].tag != "fragment":
        found = root[0].tag if len(root) else "nothing"
        raise check.PolicyRejectedError(
            "ValidationError", f"Root element must be 'fragment', found '{found}'."
        )
    frag = root[0]
    frag.tail = None
    etree.indent(frag, space="\t")
    return etree.tostring(frag, encoding="unicode")


async def _prepare_policy(call: Call, base: Doc) -> Doc:
    value = _policy_value(call, base, fragment=False)
    base["properties"] = {"value": value, "format": "xml"}
    return base


async def _prepare_fragment(call: Call, base: Doc) -> Doc:
    value = _policy_value(call, base, fragment=True)
    props = _props(base)
    base["properties"] = {
        "value": value,
        "format": "xml",
        "description": props.get("description"),
        "provisioningState": "Succeeded",
    }
    return base


def _present_policy(body: Doc, query: Mapping[str, str]) -> Doc:
    fmt = query.get("format", "xml")
    if fmt not in ("xml", "rawxml"):
        fmt = "xml"
    props = dict(body.get("properties") or {})
    props["format"] = fmt
    return {**body, "properties": props}


# ============================================================================ apis, operations


async def _prepare_api(call: Call, base: Doc) -> Doc:
    props = _props(base)
    existing = call.existing
    if existing is None:
        _require(props, "displayName")
    else:
        old = dict(existing.body.get("properties") or {})
        props = {**old, **props}
        base["properties"] = props
    if "path" not in props or not isinstance(props["path"], str):
        raise validation_error("'path' is required.", "path")
    path = props["path"].strip("/")
    props["path"] = path
    service_key = _service_key(call.addr)
    for doc in call.ctx.store.list(APIS, parent=service_key):
        other = str((doc.body.get("properties") or {}).get("path", "")).strip("/").lower()
        if doc.key != call.addr.key and other == path.lower():
            raise validation_error(
                f"Cannot create API '{call.addr.name}' with the same path '{path}' as API "
                f"'{doc.body.get('name')}'. Path must be unique across all APIs.",
                "path",
            )
    if "type" not in props:
        props["type"] = props.get("apiType") or "http"
    props.setdefault("protocols", ["https"])
    props.setdefault("subscriptionRequired", True)
    props.setdefault("isCurrent", True)
    props.setdefault("apiRevision", "1")
    props.setdefault(
        "subscriptionKeyParameterNames", {"header": "Ocp-Apim-Subscription-Key", "query": "subscription-key"}
    )
    for transient in ("format", "value", "wsdlSelector", "soapApiType", "translateRequiredQueryParameters"):
        props.pop(transient, None)
    return base


async def _prepare_operation(call: Call, base: Doc) -> Doc:
    props = _props(base)
    _require(props, "displayName", "method", "urlTemplate")
    props["method"] = str(props["method"]).upper()
    props.setdefault("templateParameters", [])
    props.setdefault("responses", [])
    return base


async def _delete_api(call: Call, stored: Stored) -> Response:
    await delete_tree(call.ctx, call.addr.kind, call.addr.key)
    op = lro.start(call.ctx, "noop", call.addr.kind, call.addr.key, 0)
    return json_response(202, None, lro.lro_headers(call.ctx, op, call.settings.retry_after_ms))


# ============================================================================ others


async def _prepare_backend(call: Call, base: Doc) -> Doc:
    props = _props(base)
    _require(props, "url", "protocol")
    return base


async def _prepare_logger(call: Call, base: Doc) -> Doc:
    props = _props(base)
    _require(props, "loggerType")
    creds = props.get("credentials")
    if isinstance(creds, dict):
        service = _service_addr(call.addr)
        hidden: dict[str, Any] = {}
        for name, value in creds.items():
            if isinstance(value, str) and not value.startswith("{{"):
                nv_id = secrets.token_hex(12)
                display = f"Logger-Credentials--{nv_id}"
                nv_addr = ArmAddress(
                    service.subscription,
                    service.resource_group,
                    service.scope,
                    NS,
                    (*service.types, "namedValues"),
                    (*service.names, nv_id),
                )
                call.ctx.store.put(
                    NAMED_VALUES,
                    nv_addr.key,
                    {
                        "id": nv_addr.id,
                        "type": "Microsoft.ApiManagement/service/namedValues",
                        "name": nv_id,
                        "properties": {"displayName": display, "value": value, "secret": True, "tags": []},
                    },
                    parent=service.key,
                )
                hidden[name] = "{{" + display + "}}"
            else:
                hidden[name] = value
        props["credentials"] = hidden
    props.setdefault("isBuffered", True)
    return base


async def _prepare_diagnostic(call: Call, base: Doc) -> Doc:
    props = _props(base)
    _require(props, "loggerId")
    logger_name = str(props["loggerId"]).rstrip("/").rsplit("/", 1)[-1].lower()
    service_key = _service_key(call.addr)
    if call.ctx.store.get(LOGGERS, f"{service_key}/loggers/{logger_name}") is None:
        raise validation_error(f"Logger '{props['loggerId']}' was not found.", "loggerId")
    return base


async def _prepare_tag(call: Call, base: Doc) -> Doc:
    _require(_props(base), "displayName")
    return base


async def _prepare_tag_link(call: Call, base: Doc) -> Doc:
    """``apis/{api}/tags/{tag}`` links an existing service tag; answers the tag contract."""
    tag = call.ctx.store.get(TAGS, f"{_service_key(call.addr)}/tags/{call.addr.name.lower()}")
    if tag is None:
        raise ArmError(404, "ResourceNotFound", "Tag not found.")
    base["properties"] = {"displayName": (tag.body.get("properties") or {}).get("displayName")}
    return base


def _child(kind_tail: str, type_tail: str, **kw: Any) -> TypeSpec:
    return TypeSpec(
        kind=f"microsoft.apimanagement/service/{kind_tail}".lower(),
        type_name=f"Microsoft.ApiManagement/service/{type_tail}",
        apim=True,
        **kw,
    )


def register_all() -> None:
    register(
        TypeSpec(
            kind=SERVICE,
            type_name="Microsoft.ApiManagement/service",
            tracked=True,
            prepare=_prepare_service,
            create_lro_seconds=lambda s: s.apim_create_seconds,
            lro_finish_action="apim.create",
            delete=_delete_service,
            apim=True,
            list_at_subscription=True,
        )
    )
    register(
        TypeSpec(
            kind=DELETED,
            type_name="Microsoft.ApiManagement/deletedservices",
            delete=_purge,
            delete_missing_404=True,
            apim=True,
            check_parents=False,
        )
    )
    register(
        TypeSpec(
            kind="microsoft.apimanagement/deletedservices",
            type_name="Microsoft.ApiManagement/deletedservices",
            apim=True,
            list_kind=DELETED,
        )
    )
    lro.register("apim.create", _finish_service_create)
    lro.register("apim.purge", _finish_purge)
    api_child = {"api_scoped": True}
    for spec in (
        _child(
            "namedValues",
            "namedValues",
            prepare=_prepare_named_value,
            present=_present_named_value,
            actions={"listValue": _list_value},
        ),
        _child("backends", "backends", prepare=_prepare_backend),
        _child("loggers", "loggers", prepare=_prepare_logger),
        _child("diagnostics", "diagnostics", prepare=_prepare_diagnostic),
        _child("tags", "tags", prepare=_prepare_tag),
        _child("policies", "policies", prepare=_prepare_policy, present=_present_policy, singleton="policy"),
        _child("policyFragments", "policyFragments", prepare=_prepare_fragment, present=_present_policy),
        _child("apis", "apis", prepare=_prepare_api, delete=_delete_api, **api_child),
        _child("apis/operations", "apis/operations", prepare=_prepare_operation, **api_child),
        _child(
            "apis/policies",
            "apis/policies",
            prepare=_prepare_policy,
            present=_present_policy,
            singleton="policy",
            **api_child,
        ),
        _child(
            "apis/operations/policies",
            "apis/operations/policies",
            prepare=_prepare_policy,
            present=_present_policy,
            singleton="policy",
            **api_child,
        ),
        _child("apis/diagnostics", "apis/diagnostics", prepare=_prepare_diagnostic, **api_child),
        _child("apis/tags", "apis/tags", prepare=_prepare_tag_link, **api_child),
        _child("apis/operations/tags", "apis/operations/tags", prepare=_prepare_tag_link, **api_child),
    ):
        register(spec)
