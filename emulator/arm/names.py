"""Global names: API Management services, container registries and storage accounts.

Where it sits: ``emulator.arm.router`` answers ``POST /subscriptions/{s}/providers/{namespace}/
checkNameAvailability`` with ``check``; the types' ``prepare`` hooks refuse a create whose name is
taken (``apim_service._check_new_service``: 409 ``ServiceAlreadyExists``; ``storage``: 409
``StorageAccountAlreadyTaken``; registries: ``registry_taken`` here, 409 ``AlreadyInUse``). Their
names are DNS names (``<name>.azure-api.net``, ``<name>.azurecr.io``, ``<name>.*.core.windows.net``)
and so unique across Azure: here across every subscription, resource group and lab the emulator's
store holds (an APIM service soft-deleted in the subscription holds its name until purged).

The three operations and their shapes are the vendored contracts (``emulator/contracts/specs``:
``ApiManagementService_CheckNameAvailability`` ``{name}`` -> ``{nameAvailable, message, reason:
Valid|Invalid|AlreadyExists}``; ``Registries_CheckNameAvailability`` ``{name, type}`` ->
``{nameAvailable, reason, message}``; ``StorageAccounts_CheckNameAvailability`` ``{name, type}`` ->
``{nameAvailable, reason: AccountNameInvalid|AlreadyExists, message}``); the request body is
validated against them like any write. The messages:

* storage: "The storage account named X is already taken." and the ``AccountNameInvalid`` text of
  ``emulator.storage_names`` (Azure's, as Terraform and azure-cli users quote them);
* registries: the create's refusal "The registry DNS name X.azurecr.io is already in use. You can
  check if the name is already claimed using following API: https://docs.microsoft.com/en-us/rest/
  api/containerregistry/registries/checknameavailability" (code ``AlreadyInUse``, verbatim in
  Azure/azure-cli#13951 and MicrosoftDocs/azure-dev-docs#1303); the check's "The registry X is
  already in use." (the spec's ``RegistryCheckNameNotAvailable`` example);
* API Management: "Api service already exists: X" (``ServiceAlreadyExists``, as
  microsoft/vscode-apimanagement#177 quotes the create's refusal); the check's message follows the
  spec's own description of ``message`` ("explain that <resourceName> is already in use"; for
  ``Invalid`` "the reason why ... and the resource naming requirements").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from emulator.context import EmulatorContext
from emulator.storage_names import ACCOUNTS, account_name_error

SERVICES = "microsoft.apimanagement/service"
DELETED_SERVICES = "microsoft.apimanagement/locations/deletedservices"
REGISTRIES = "microsoft.containerregistry/registries"

_APIM_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?$")
_REGISTRY_NAME = re.compile(r"^[A-Za-z0-9]{5,50}$")  # RegistryNameCheckRequest.name: 5-50, ^[a-zA-Z0-9]*$


def _holders(ctx: EmulatorContext, kind: str, name: str, except_key: str | None = None) -> list[str]:
    lname = name.lower()
    return [
        doc.key
        for doc in ctx.store.list(kind)
        if doc.key != except_key and str(doc.body.get("name", "")).lower() == lname
    ]


def registry_taken(ctx: EmulatorContext, name: str, except_key: str) -> bool:
    return bool(_holders(ctx, REGISTRIES, name, except_key))


def registry_in_use_message(name: str) -> str:
    return (
        f"The registry DNS name {name.lower()}.azurecr.io is already in use. You can check if the name is "
        "already claimed using following API: "
        "https://docs.microsoft.com/en-us/rest/api/containerregistry/registries/checknameavailability"
    )


def _apim(ctx: EmulatorContext, subscription: str, name: str) -> dict[str, Any]:
    if not _APIM_NAME.fullmatch(name):
        return {
            "nameAvailable": False,
            "reason": "Invalid",
            "message": f"'{name}' is not a valid service name: 1-50 letters, digits and hyphens, starting with "
            "a letter and ending with a letter or digit.",
        }
    soft_deleted = [
        key
        for key in _holders(ctx, DELETED_SERVICES, name)
        if key.startswith(f"/subscriptions/{subscription}/".lower())
    ]
    if _holders(ctx, SERVICES, name) or soft_deleted:
        return {"nameAvailable": False, "reason": "AlreadyExists", "message": f"{name} is already in use."}
    return {"nameAvailable": True, "reason": "Valid", "message": ""}


def _registry(ctx: EmulatorContext, name: str) -> dict[str, Any]:
    if not _REGISTRY_NAME.fullmatch(name):
        return {
            "nameAvailable": False,
            "reason": "Invalid",
            "message": "The registry name must be 5-50 alphanumeric characters.",
        }
    if _holders(ctx, REGISTRIES, name):
        return {
            "nameAvailable": False,
            "reason": "AlreadyExists",
            "message": f"The registry {name} is already in use.",
        }
    return {"nameAvailable": True}


def _storage(ctx: EmulatorContext, name: str) -> dict[str, Any]:
    problem = account_name_error(name)
    if problem is not None:
        return {"nameAvailable": False, "reason": "AccountNameInvalid", "message": problem}
    if _holders(ctx, ACCOUNTS, name):
        return {
            "nameAvailable": False,
            "reason": "AlreadyExists",
            "message": f"The storage account named {name} is already taken.",
        }
    return {"nameAvailable": True}


NAMESPACES = frozenset({"microsoft.apimanagement", "microsoft.containerregistry", "microsoft.storage"})


def check(ctx: EmulatorContext, subscription: str, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The checkNameAvailability answer of ``namespace`` (one of ``NAMESPACES``) for ``body``
    (already validated against the vendored contract)."""
    name = str(body.get("name", ""))
    ns = namespace.lower()
    if ns == "microsoft.apimanagement":
        return _apim(ctx, subscription, name)
    if ns == "microsoft.containerregistry":
        return _registry(ctx, name)
    return _storage(ctx, name)
