"""Microsoft.ApiManagement ``service`` as the emulated ARM serves it (the parent of every APIM
entity, ``emulator.arm.apim``).

Create is a long-running operation (``ArmSettings.apim_create_seconds``): 201 +
``Azure-AsyncOperation``, ``provisioningState`` ``Created`` -> ``Succeeded``. A free 127.0.0.1
port becomes ``properties.gatewayUrl`` (the gateway sub-app listens on it). Names are unique per
subscription. Delete soft-deletes (``locations/{loc}/deletedservices/{name}``); re-creating the
name fails with ``ServiceAlreadyExistsInSoftDeletedState`` until purged (``DELETE`` on the
deleted service: a long-running operation of the same duration). ``managed_identity`` serves the
other tracked types too (``generic``); ports come from ``local_ports``. Answers carry what the service
examples carry: ``systemData`` (created/last modified by and when), the default ``customProperties``,
the default proxy hostname next to custom ones, additional locations' read-only fields; delete
answers 202 with the service (``targetProvisioningState: Deleting``), purge 202 with the deleted
service.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from emulator.arm import local_ports, lro
from emulator.arm.crud import delete_tree, publish
from emulator.arm.errors import ArmError, json_response, validation_error
from emulator.arm.ids import ArmAddress
from emulator.arm.types import Call, Doc, TypeSpec, register
from emulator.context import EmulatorContext
from emulator.store import Stored

NS = "Microsoft.ApiManagement"
SERVICE = "microsoft.apimanagement/service"
DELETED = "microsoft.apimanagement/locations/deletedservices"
_SOFT_DELETE_RETENTION_S = 48 * 3600
SUBSCRIPTIONS = "microsoft.apimanagement/service/subscriptions"
USERS = "microsoft.apimanagement/service/users"
GROUPS = "microsoft.apimanagement/service/groups"


def properties_of(base: Doc) -> dict[str, Any]:
    props: dict[str, Any] = base["properties"]
    return props


def require_properties(props: Mapping[str, Any], *names: str) -> None:
    for name in names:
        value = props.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise validation_error(f"'{name}' is required.", name)


def location_slug(location: str) -> str:
    return location.replace(" ", "").lower()


def deleted_service_id(subscription: str, location: str, name: str) -> str:
    return f"/subscriptions/{subscription}/providers/{NS}/locations/{location_slug(location)}/deletedservices/{name}"


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
    props = properties_of(base)
    sku = base.get("sku") or (existing.body.get("sku") if existing else None)
    if not isinstance(sku, dict) or not sku.get("name"):
        raise validation_error("'sku.name' is required.", "sku")
    if existing is not None:
        _check_tier_change(str((existing.body.get("sku") or {}).get("name", "")), str(sku["name"]))
    base["sku"] = {"name": sku["name"], "capacity": int(sku.get("capacity", 1))}
    require_properties(props, "publisherEmail", "publisherName")
    now = lro.iso(time.time())
    if existing is None:
        _check_new_service(ctx, addr)
        generated = _generated_properties(ctx, f"https://127.0.0.1:{local_ports.port_for(ctx, addr.id)}")
        sent = {k: v for k, v in props.items() if k not in _SERVER_OWNED}
        props = {**generated, **sent}
        props["hostnameConfigurations"] = [
            *generated["hostnameConfigurations"],
            *(h for h in sent.get("hostnameConfigurations") or [] if isinstance(h, dict)),
        ]
        props["customProperties"] = {**_CUSTOM_PROPERTY_DEFAULTS, **(sent.get("customProperties") or {})}
        created = {"createdBy": call.caller[0], "createdByType": call.caller[1], "createdAt": now}
    else:
        old = dict(existing.body.get("properties") or {})
        if isinstance(props.get("customProperties"), dict):
            # "Not specifying any of these properties on PATCH operation will reset omitted
            # properties' values to their defaults" (ApiManagementServiceBaseProperties.customProperties)
            props["customProperties"] = {**_CUSTOM_PROPERTY_DEFAULTS, **props["customProperties"]}
        props = {**old, **props, **{k: old[k] for k in _KEPT_ON_UPDATE if k in old}}
        was = existing.body.get("systemData") or {}
        created = {k: was[k] for k in ("createdBy", "createdByType", "createdAt") if k in was}
    props["additionalLocations"] = [
        _additional_location(loc, str(props.get("gatewayUrl") or ""))
        for loc in props.get("additionalLocations") or []
        if isinstance(loc, dict)
    ]
    base["properties"] = props
    if "identity" in base:
        base["identity"] = managed_identity(
            ctx, base["identity"], existing.body.get("identity") if existing else None
        )
    base["etag"] = f"AAAAAA{secrets.token_hex(4)}="
    # ARM's systemData, all six fields, as the service examples answer them
    base["systemData"] = {
        **created,
        "lastModifiedBy": call.caller[0],
        "lastModifiedByType": call.caller[1],
        "lastModifiedAt": now,
    }
    return base


# The read-only properties of ApiManagementServiceBaseProperties that the emulator fills: never
# taken from a request (ARM ignores read-only properties on a write).
_SERVER_OWNED = frozenset(
    {
        "provisioningState",
        "targetProvisioningState",
        "createdAtUtc",
        "gatewayUrl",
        "gatewayRegionalUrl",
        "portalUrl",
        "managementApiUrl",
        "scmUrl",
        "developerPortalUrl",
        "publicIPAddresses",
        "privateIPAddresses",
        "outboundPublicIPAddresses",
        "platformVersion",
    }
)
# customProperties APIM reports for a new service: "For all the settings except Http2 the default
# value is True if the service was created on or before April 1, 2018 and False otherwise.
# Http2 setting's default value is False." (ApiManagementServiceBaseProperties.customProperties);
# the keys are those of the ApiManagementCreateService example's answer.
_CUSTOM_PROPERTY_DEFAULTS = {
    f"Microsoft.WindowsAzure.ApiManagement.Gateway.{name}": "False"
    for name in (
        "Security.Protocols.Tls10",
        "Security.Protocols.Tls11",
        "Security.Protocols.Ssl30",
        "Security.Ciphers.TripleDes168",
        "Security.Backend.Protocols.Tls10",
        "Security.Backend.Protocols.Tls11",
        "Security.Backend.Protocols.Ssl30",
        "Protocols.Server.Http2",
    )
}


def _additional_location(loc: dict[str, Any], gateway: str) -> dict[str, Any]:
    """An additional location with the read-only fields AdditionalLocation defines (the emulated
    service has one gateway: every region answers on it)."""
    return {
        **loc,
        "publicIPAddresses": ["127.0.0.1"],
        "gatewayRegionalUrl": gateway,
        "platformVersion": "stv2",
    }


# what an update never changes (the service's URLs and its provisioning record)
_KEPT_ON_UPDATE = (
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
)


# Which tier changes APIM makes in place (Learn, "Upgrade and scale an Azure API Management
# instance", https://learn.microsoft.com/azure/api-management/upgrade-and-scale): "You can upgrade
# and downgrade to and from classic tiers (Developer, Basic, Standard and Premium)" and "to and
# from v2 tiers (Basic v2 and Standard v2)"; "Currently, you cannot upgrade from or downgrade to
# the Consumption tier"; a classic instance does not become a v2 one ("API Management v2 tiers",
# https://learn.microsoft.com/azure/api-management/v2-service-tiers-overview: the v2 tiers are for
# newly created instances). The orchestrator plans such a change as a replacement
# (``orchestrator.providers.apim_tiers``); this is the refusal of the in-place attempt.
_CLASSIC_TIERS = frozenset({"developer", "basic", "standard", "premium"})
_V2_IN_PLACE = frozenset({"basicv2", "standardv2"})


def _check_tier_change(old: str, new: str) -> None:
    a, b = old.lower(), new.lower()
    if not a or a == b or {a, b} <= _CLASSIC_TIERS or {a, b} <= _V2_IN_PLACE:
        return
    # Azure's exact answer to this request is not published; 400 "NotSupported" is the code APIM
    # answers for an operation its tier does not allow (e.g. migrateToStv2, Azure/azure-cli#26294)
    raise ArmError(
        400,
        "NotSupported",
        f"Changing the SKU of an existing service from '{old}' to '{new}' is not supported: the "
        "classic tiers change among themselves, Basic v2 and Standard v2 between each other, "
        "and the Consumption tier not at all. Create a new service in the new tier.",
    )


def _check_new_service(ctx: EmulatorContext, addr: ArmAddress) -> None:
    """A new service's name: not soft-deleted in the subscription, not taken, well-formed."""
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


def _generated_properties(ctx: EmulatorContext, gateway: str) -> dict[str, Any]:
    """The read-only properties APIM fills in on create; the gateway listens on ``gateway``."""
    return {
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


def _builtin_children(service: Mapping[str, Any]) -> list[tuple[str, str, Doc]]:
    """(kind, type tail, body) of what APIM creates inside every new service (module doc)."""
    sid = str(service["id"])
    now = lro.iso(time.time())
    email = str((service.get("properties") or {}).get("publisherEmail") or "")

    def doc(tail: str, name: str, props: dict[str, Any]) -> Doc:
        return {
            "id": f"{sid}/{tail}/{name}",
            "type": f"Microsoft.ApiManagement/service/{tail}",
            "name": name,
            "properties": props,
        }

    groups = {
        "administrators": (
            "Administrators",
            "Administrators is a built-in group containing the admin email "
            "account provided at the time of service creation. Its membership is managed by the system.",
        ),
        "developers": (
            "Developers",
            "Developers is a built-in group. Its membership is managed by the system. "
            "Signed-in users fall into this group.",
        ),
        "guests": (
            "Guests",
            "Guests is a built-in group. Its membership is managed by the system. "
            "Unauthenticated users visiting the developer portal fall into this group.",
        ),
    }
    children: list[tuple[str, str, Doc]] = [
        (
            GROUPS,
            "groups",
            doc(
                "groups",
                name,
                {"displayName": display, "description": text, "builtIn": True, "type": "system"},
            ),
        )
        for name, (display, text) in groups.items()
    ]
    children.append(
        (
            USERS,
            "users",
            doc(
                "users",
                "1",
                {
                    "firstName": "Administrator",
                    "lastName": "",
                    "email": email,
                    "state": "active",
                    "registrationDate": now,
                    "identities": [{"provider": "Azure", "id": email}],
                },
            ),
        )
    )
    children.append(
        (
            SUBSCRIPTIONS,
            "subscriptions",
            doc(
                "subscriptions",
                "master",
                {
                    "ownerId": f"{sid}/users/1",
                    "scope": f"{sid}/",
                    "displayName": "Built-in all-access subscription",
                    "state": "active",
                    "createdDate": now,
                    "allowTracing": False,
                    "primaryKey": secrets.token_hex(16),
                    "secondaryKey": secrets.token_hex(16),
                },
            ),
        )
    )
    return children


async def _finish_service_create(ctx: EmulatorContext, op: dict[str, Any]) -> None:
    doc = ctx.store.get(SERVICE, op["resourceKey"])
    if doc is None:
        return
    for kind, _tail, child in _builtin_children(doc.body):
        key = str(child["id"]).lower()
        if ctx.store.get(kind, key) is None:
            ctx.store.put(kind, key, child, parent=doc.key)
            await publish(ctx, "put", kind, key)
    body = dict(doc.body)
    props = dict(body.get("properties") or {})
    props["provisioningState"] = "Succeeded"
    props["targetProvisioningState"] = ""
    body["properties"] = props
    ctx.store.put(SERVICE, doc.key, body, parent=doc.parent)
    await publish(ctx, "put", SERVICE, doc.key)


async def _delete_service(call: Call, stored: Stored) -> Response:
    """202 with the service as it is being deleted (ApiManagementService_Delete's 202 schema is
    ApiManagementServiceResource; the example answers ``targetProvisioningState: Deleting``)."""
    ctx, addr = call.ctx, call.addr
    body = dict(stored.body)
    body["properties"] = {**(body.get("properties") or {}), "targetProvisioningState": "Deleting"}
    await soft_delete_service(ctx, stored)
    op = lro.start(ctx, "noop", addr.kind, addr.key, 0)
    return json_response(202, body, lro.lro_headers(ctx, op, call.settings.retry_after_ms))


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
    # DeletedServices_Purge answers 202 with the DeletedServiceContract being purged
    return json_response(202, stored.body, lro.lro_headers(ctx, op, call.settings.retry_after_ms))


async def _finish_purge(ctx: EmulatorContext, op: dict[str, Any]) -> None:
    ctx.store.delete(DELETED, op["resourceKey"])
    await publish(ctx, "delete", DELETED, op["resourceKey"])


def register_service() -> None:
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
