"""Microsoft.Storage in the emulated ARM: storage accounts and their tables.

Where it sits: registers ``TypeSpec``s that ``emulator.arm.crud`` runs (driven by
``azure-mgmt-resource``'s generic client, api-version 2023-05-01 and friends); the Table
service data plane (``emulator.storage``) reads these documents from the store.

* ``Microsoft.Storage/storageAccounts`` (tracked): the name is 3–24 lower-case letters and digits
  (400 ``AccountNameInvalid`` with Azure's text) and unique across the emulator (409
  ``StorageAccountAlreadyTaken``: the data-plane URL names the account only). A create answers
  202 + ``Azure-AsyncOperation`` and no body (due at once; the SDK poller follows it), an update
  200: ``StorageAccounts_Create`` documents 200/202 (storage.json 2023-05-01). Filled
  in and kept across updates: ``provisioningState``, ``creationTime``, ``primaryLocation``,
  ``statusOfPrimary``, ``primaryEndpoints`` (``table`` = ``emulator.storage.table_endpoint``,
  the others on the same path scheme, served by nobody), ``sku.tier``; ``minimumTlsVersion``,
  ``allowSharedKeyAccess``, ``allowBlobPublicAccess``, ``supportsHttpsTrafficOnly`` are kept as
  sent. No ``listKeys``: the emulator has no account keys (Shared Key is never accepted).
* ``.../storageAccounts/{a}/tableServices/default``: created with the account (GET answers it
  from the start), PUT sets ``properties.cors`` (200, ``TableServices_SetServiceProperties``);
  any other name than ``default`` is 400.
* ``.../storageAccounts/{a}/tableServices/default/tables/{t}``: ``tableServices/default`` is a
  fixed singleton (any other name is 400); a create answers 200 (``Table_Create`` documents 200
  only); the name must match ``^[A-Za-z][A-Za-z0-9]{2,62}$``
  (400 ``InvalidResourceName`` / ``OutOfRangeInput``, the Table service's codes) and is
  case-insensitive (the store key is lower-cased); the account must exist (404
  ``ParentResourceNotFound``). Body ``properties.tableName``.

Deleting an account deletes its tables (``crud.delete_tree``: their keys are under the account's)
and role assignments scoped to it; the data plane deletes the entities of every deleted table or
account (it listens to the ``delete`` events, see ``emulator.storage``).
"""

from __future__ import annotations

import time
from typing import Any

from emulator.arm import lro
from emulator.arm.errors import ArmError
from emulator.arm.ids import ArmAddress
from emulator.arm.types import Call, Doc, TypeSpec, register
from emulator.storage_names import (
    ACCOUNTS,
    TABLES,
    account_name_error,
    service_endpoint,
    table_name_error,
)

_TYPE_ACCOUNTS = "Microsoft.Storage/storageAccounts"
_TYPE_TABLE_SERVICES = "Microsoft.Storage/storageAccounts/tableServices"
_TYPE_TABLES = "Microsoft.Storage/storageAccounts/tableServices/tables"
TABLE_SERVICES = "microsoft.storage/storageaccounts/tableservices"
_ENDPOINT_SERVICES = ("blob", "queue", "table", "file", "dfs", "web")
_TIERS = {"standard": "Standard", "premium": "Premium"}
_ACCESS_TIER_KINDS = {"storagev2", "blobstorage"}


def _old_props(call: Call) -> dict[str, Any]:
    return dict((call.existing.body.get("properties") or {}) if call.existing else {})


def _taken_elsewhere(call: Call) -> bool:
    name = call.addr.name.lower()
    return any(
        doc.key != call.addr.key and str(doc.body.get("name", "")).lower() == name
        for doc in call.ctx.store.list(ACCOUNTS)
    )


async def _prepare_account(call: Call, base: Doc) -> Doc:
    name = call.addr.name
    problem = account_name_error(name)
    if problem is not None:
        raise ArmError(400, "AccountNameInvalid", problem)
    if _taken_elsewhere(call):
        raise ArmError(
            409, "StorageAccountAlreadyTaken", f"The storage account named {name} is already taken."
        )
    base["location"] = str(base["location"]).replace(" ", "").lower()
    if call.existing is not None:
        old_location = call.existing.body.get("location")
        if old_location and old_location != base["location"]:
            raise ArmError(
                409,
                "InvalidResourceLocation",
                f"The resource '{name}' already exists in location '{old_location}' in resource group "
                f"'{call.addr.resource_group}'. A resource with the same name cannot be created in location "
                f"'{base['location']}'. Please select a new resource name.",
            )
    sku = base.get("sku") or (call.existing.body.get("sku") if call.existing else None)
    if not isinstance(sku, dict) or not isinstance(sku.get("name"), str) or not sku["name"]:
        raise ArmError(
            400, "InvalidRequestContent", "The request content was invalid: 'sku.name' is required."
        )
    sku = {**sku, "tier": _TIERS.get(sku["name"].split("_", 1)[0].lower(), "Standard")}
    base["sku"] = sku
    kind = base.get("kind") or (call.existing.body.get("kind") if call.existing else None) or "StorageV2"
    base["kind"] = kind
    old = _old_props(call)
    props = dict(base["properties"])
    for gone in (
        "provisioningState",
        "creationTime",
        "primaryEndpoints",
        "primaryLocation",
        "statusOfPrimary",
    ):
        props.pop(gone, None)
    props.setdefault("supportsHttpsTrafficOnly", True)
    props.setdefault("allowBlobPublicAccess", False)
    props.setdefault("minimumTlsVersion", "TLS1_0")
    if str(kind).lower() in _ACCESS_TIER_KINDS:
        props.setdefault("accessTier", old.get("accessTier", "Hot"))
    props.setdefault(
        "networkAcls",
        {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [], "defaultAction": "Allow"},
    )
    props["provisioningState"] = "Succeeded"
    props["creationTime"] = old.get("creationTime") or lro.iso(time.time())
    endpoints: dict[str, Any] = {
        service: service_endpoint(call.ctx.base_url, name.lower(), service) for service in _ENDPOINT_SERVICES
    }
    # routingPreference.publish*Endpoints: Azure adds the routing-specific endpoint sets
    # (examples/StorageAccountCreate.json: microsoft routing for every service, internet routing
    # for web, dfs, blob and file); the emulator has one route, so the same URLs
    preference = props.get("routingPreference")
    routing: dict[str, Any] = preference if isinstance(preference, dict) else {}
    if routing.get("publishMicrosoftEndpoints"):
        endpoints["microsoftEndpoints"] = {s: endpoints[s] for s in _ENDPOINT_SERVICES}
    if routing.get("publishInternetEndpoints"):
        endpoints["internetEndpoints"] = {s: endpoints[s] for s in ("blob", "file", "dfs", "web")}
    props["primaryEndpoints"] = endpoints
    props["primaryLocation"] = base["location"]
    props["statusOfPrimary"] = "available"
    base["properties"] = props
    _ensure_table_service(call)
    return base


def _ensure_table_service(call: Call) -> None:
    """Every account has its Table service ``default`` (Azure creates it with the account; GET
    ``.../tableServices/default`` answers it from the start, ``TableServices_GetServiceProperties``)."""
    addr = call.addr
    key = f"{addr.key}/tableservices/default"
    if call.ctx.store.get(TABLE_SERVICES, key) is None:
        service_id = f"{addr.id}/tableServices/default"
        doc = {
            "id": service_id,
            "name": "default",
            "type": _TYPE_TABLE_SERVICES,
            "properties": {"cors": {"corsRules": []}},
        }
        call.ctx.store.put(TABLE_SERVICES, key, doc, parent=addr.key)


async def _prepare_table_service(call: Call, base: Doc) -> Doc:
    """``TableServices_SetServiceProperties``: only ``properties.cors`` is settable (table.json)."""
    props = base.get("properties") or {}
    base["properties"] = {"cors": props.get("cors") or {"corsRules": []}}
    return base


def _table_address_error(addr: ArmAddress) -> ArmError | None:
    """``tableServices`` must be ``default``."""
    service = addr.names[1] if len(addr.names) > 1 else ""
    if service.lower() != "default":
        return ArmError(
            400,
            "InvalidRequestContent",
            f"The table service name '{service}' is not valid: the only table service is 'default'.",
        )
    return None


async def _prepare_table(call: Call, base: Doc) -> Doc:
    addr = call.addr
    wrong = _table_address_error(addr)
    if wrong is not None:
        raise wrong
    account = ArmAddress(
        addr.subscription, addr.resource_group, addr.scope, addr.namespace, addr.types[:1], addr.names[:1]
    )
    await lro.settle(call.ctx, account.key)
    if call.ctx.store.get(ACCOUNTS, account.key) is None:
        raise ArmError(
            404,
            "ParentResourceNotFound",
            f"Can not perform requested operation on nested resource. Parent resource '{account.id}' not found.",
        )
    problem = table_name_error(addr.name)
    if problem is not None:
        raise ArmError(400, *problem)
    name = call.existing.body.get("name", addr.name) if call.existing else addr.name
    base["name"] = name
    props: Doc = {"tableName": name}
    # stored access policies (TableProperties.signedIdentifiers): kept and answered as Azure does
    # (examples/TableOperationPutOrPatchAcls.json); the emulated data plane signs no SAS, so
    # nothing applies them
    acl = (base.get("properties") or {}).get("signedIdentifiers")
    if acl is not None:
        props["signedIdentifiers"] = acl
    base["properties"] = props
    return base


def register_all() -> None:
    register(
        TypeSpec(
            ACCOUNTS,
            _TYPE_ACCOUNTS,
            tracked=True,
            prepare=_prepare_account,
            create_lro_seconds=lambda settings: 0.0,
            list_at_subscription=True,
        )
    )
    # ``tableServices/default`` is created with its account (``_ensure_table_service``); a table's
    # parent check is still done in its ``prepare`` (accounts stored before that kept working).
    register(
        TypeSpec(TABLE_SERVICES, _TYPE_TABLE_SERVICES, prepare=_prepare_table_service, singleton="default")
    )
    register(TypeSpec(TABLES, _TYPE_TABLES, prepare=_prepare_table, check_parents=False))
