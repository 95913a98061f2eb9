"""What a caller may do, and which resource providers a subscription has registered.

Where it sits: ``emulator.arm.router`` answers

* ``GET /subscriptions/{s}/resourcegroups/{rg}/providers/Microsoft.Authorization/permissions``
  (``Permissions_ListForResourceGroup``, ``authorization-RoleDefinitionsCalls.json`` 2022-04-01)
  with ``permissions``: one ``Permission`` (actions, notActions, dataActions, notDataActions) per
  role the caller holds at the subscription or the group, from the role assignments the store
  holds for the ``oid`` of its token (verified first: ``emulator.arm.auth``);
* ``POST /subscriptions/{s}/providers/{namespace}/register`` and ``.../unregister``
  (``Providers_Register`` / ``Providers_Unregister``) with ``set_registered``; the provider's
  ``registrationState`` (``Providers_Get``) comes from ``registration_state``;

and ``emulator.arm.crud`` refuses a write to a namespace the subscription has not registered
with ``unregistered`` (409 ``MissingSubscriptionRegistration`` "The subscription is not
registered to use namespace 'Microsoft.App'. See https://aka.ms/rps-not-found for how to register
subscriptions.", ARM's answer, verbatim in e.g. Azure/azure-cli#11180 and the page it links).

The emulator's subscription starts with every namespace it serves registered (tests unregister
one to see the refusal). Its creator is ``OPERATOR``, the local operator's service principal
(``emulator.identity.OPERATOR``: the ``oid`` of the tokens prmlab gets as the local operator,
``orchestrator.local_credential.LocalCredential``): as the account that creates a subscription,
it holds Owner there without an assignment in the store. Anyone else holds what role assignments
give it.

Writes are authorized as ARM authorizes them (``write_refusal``, called by ``emulator.arm.crud``
for PUT/PATCH/DELETE of a resource and by ``router`` for a resource group): the caller's roles at
the resource, its group or the subscription must allow ``<type>/write`` (``/delete``), actions
minus notActions; else 403 ``AuthorizationFailed`` "The client '<upn or app id>' with object id
'<oid>' does not have authorization to perform action '<action>' over scope '<resource id>' or
the scope is invalid. If access was recently granted, please refresh your credentials." (ARM's
answer verbatim, e.g. Azure/ARO-RP#66; Learn, "Troubleshoot Azure RBAC"). Role assignments take
effect at once here (Azure's ARM caches them too: not emulated); reads and POST actions are not
checked.

Built-in roles (Learn, "Azure built-in roles",
https://learn.microsoft.com/azure/role-based-access-control/built-in-roles): their ids and
permissions below, the ones a lab's operator is told to hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from emulator.arm.errors import ArmError
from emulator.context import EmulatorContext
from emulator.identity import OPERATOR as OPERATOR  # re-exported: the subscription's Owner

ROLE_ASSIGNMENTS = "microsoft.authorization/roleassignments"
REGISTRATIONS = "emulator/providerregistrations"  # store kind: namespaces a subscription unregistered

_AUTHORIZATION_WRITES = ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write"]
ROLES: Final[Mapping[str, Mapping[str, list[str]]]] = {
    # Owner
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": {"actions": ["*"], "notActions": []},
    # Contributor: everything but granting access
    "b24988ac-6180-42a0-ab88-20f7382dd24c": {
        "actions": ["*"],
        "notActions": [*_AUTHORIZATION_WRITES, "Microsoft.Authorization/elevateAccess/Action"],
    },
    # Role Based Access Control Administrator
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": {
        "actions": [
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "*/read",
            "Microsoft.Support/*",
        ],
        "notActions": [],
    },
    # User Access Administrator
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": {
        "actions": ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        "notActions": [],
    },
    # Reader
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": {"actions": ["*/read"], "notActions": []},
}
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def _permission(role: str) -> dict[str, Any]:
    spec = ROLES[role]
    return {
        "actions": list(spec["actions"]),
        "notActions": list(spec["notActions"]),
        "dataActions": [],
        "notDataActions": [],
    }


def permissions(ctx: EmulatorContext, subscription: str, group_key: str, oid: str | None) -> dict[str, Any]:
    """``PermissionGetResult`` of ``oid`` on the resource group ``group_key`` (lower-cased id)."""
    roles: list[str] = []
    if oid == OPERATOR:
        roles.append(OWNER)
    subscription_key = f"/subscriptions/{subscription}".lower()
    for doc in ctx.store.list(ROLE_ASSIGNMENTS):
        props = doc.body.get("properties") or {}
        if oid is None or str(props.get("principalId", "")).lower() != oid.lower():
            continue
        scope = doc.key.split("/providers/microsoft.authorization/roleassignments/")[0]
        if scope not in (subscription_key, group_key):
            continue
        role = str(props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
        if role in ROLES and role not in roles:
            roles.append(role)
    return {"value": [_permission(role) for role in roles]}


def _key(subscription: str, namespace: str) -> str:
    return f"/subscriptions/{subscription}/providers/{namespace}".lower()


def registration_state(ctx: EmulatorContext, subscription: str, namespace: str) -> str:
    doc = ctx.store.get(REGISTRATIONS, _key(subscription, namespace))
    return "NotRegistered" if doc is not None else "Registered"


def set_registered(ctx: EmulatorContext, subscription: str, namespace: str, registered: bool) -> None:
    key = _key(subscription, namespace)
    if registered:
        ctx.store.delete(REGISTRATIONS, key)
    else:
        ctx.store.put(REGISTRATIONS, key, {"namespace": namespace})


def unregistered(ctx: EmulatorContext, subscription: str, namespace: str) -> ArmError | None:
    """ARM's refusal of a write to ``namespace`` when the subscription has not registered it."""
    if registration_state(ctx, subscription, namespace) == "Registered":
        return None
    return ArmError(
        409,
        "MissingSubscriptionRegistration",
        f"The subscription is not registered to use namespace '{namespace}'. See https://aka.ms/rps-not-found "
        "for how to register subscriptions.",
    )


def _matches(pattern: str, action: str) -> bool:
    """An action pattern of a role definition (``*`` any characters, case-insensitive)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, action, flags=re.IGNORECASE) is not None


def _role_allows(role: str, action: str) -> bool:
    """``actions`` minus ``notActions`` of one built-in role (Learn, "Understand Azure role
    definitions": NotActions subtract from the Actions of the same role)."""
    spec = ROLES.get(role)
    if spec is None:
        return False
    return any(_matches(p, action) for p in spec["actions"]) and not any(
        _matches(p, action) for p in spec["notActions"]
    )


def _in_scope(target_key: str, scope: str) -> bool:
    scope = scope.rstrip("/").lower()
    return target_key == scope or target_key.startswith(scope + "/")


def may(ctx: EmulatorContext, oid: str | None, target_id: str, action: str) -> bool:
    """Whether ``oid`` holds, at ``target_id`` or above (resource, group, subscription), a role
    whose permissions allow ``action``. The subscription's creator (``OPERATOR``) is its Owner."""
    if oid is None:
        return False
    if oid.lower() == OPERATOR.lower():
        return True
    target = target_id.lower()
    for doc in ctx.store.list(ROLE_ASSIGNMENTS):
        props = doc.body.get("properties") or {}
        if str(props.get("principalId", "")).lower() != oid.lower():
            continue
        scope = doc.key.split("/providers/microsoft.authorization/roleassignments/")[0]
        role = str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()
        if _in_scope(target, scope) and _role_allows(role, action):
            return True
    return False


def write_refusal(
    ctx: EmulatorContext, oid: str | None, client: str, target_id: str, type_name: str, *, delete: bool
) -> ArmError | None:
    """ARM's 403 for a write (PUT/PATCH) or delete the caller's roles do not allow, else None."""
    action = f"{type_name}/{'delete' if delete else 'write'}"
    if may(ctx, oid, target_id, action):
        return None
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{client}' with object id '{oid or ''}' does not have authorization to perform action "
        f"'{action}' over scope '{target_id}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.",
    )


def _client(claims: Mapping[str, Any]) -> str:
    """How ARM names the caller: a user's sign-in name, else (a service principal) its object id —
    the two ids are the same in ARM's answers to service principals (Azure/ARO-RP#66, #31)."""
    for name in ("upn", "unique_name", "preferred_username", "oid"):
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return "unknown"


def refusal_for(
    ctx: EmulatorContext, request: Any, target_id: str, type_name: str, *, delete: bool
) -> ArmError | None:
    """``write_refusal`` for the caller of ``request`` (its verified claims: ``router``)."""
    claims = getattr(request.state, "arm_claims", None)
    claims = claims if isinstance(claims, Mapping) else {}
    oid = claims.get("oid")
    return write_refusal(
        ctx, oid if isinstance(oid, str) else None, _client(claims), target_id, type_name, delete=delete
    )
