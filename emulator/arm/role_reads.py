"""Who holds which role, read: ``RoleAssignments_ListForSubscription``, ``RoleDefinitions_Get``
and ``RoleDefinitions_List`` (``authorization-RoleAssignmentsCalls.json`` /
``authorization-RoleDefinitionsCalls.json`` 2022-04-01, vendored).

Where it sits: ``emulator.arm.router`` hands it

* ``GET /subscriptions/{s}/providers/Microsoft.Authorization/roleAssignments`` — the role
  assignments the store holds (``emulator.arm.generic`` writes them) that apply to the
  subscription, paged with ``nextLink`` (``$skipToken``, as the spec's ``PaginationSkipToken``),
  narrowed by ``$filter`` as ARM narrows it (Learn, "List Azure role assignments using the REST
  API", its filter table):

  - none: every assignment at, above or below the subscription;
  - ``atScope()``: at or above it only (not its resource groups and resources);
  - ``principalId eq '{id}'``: that principal's (user, group or service principal), at, above or
    below;
  - ``assignedTo('{id}')``: a user's or service principal's, and those of the groups it belongs
    to (transitively); the emulator holds no group memberships, so only its own;
  - ``atScope() and assignedTo('{id}')``: both.

  Anything else is ARM's 400 ``UnsupportedQuery`` "The filter '<f>' is not supported. Supported
  filters are either 'atScope()' or 'principalId eq '{value}' or assignedTo('{value}')'."
  (verbatim in Azure/azure-rest-api-specs#28255, code ``UnsupportedQuery`` as quoted by
  turbot/steampipe-plugin-azure; compound filters such as ``atScope() and principalId eq '…'``
  are refused too, Azure/azure-powershell#20433);

* ``GET /subscriptions/{s}[/resourceGroups/{rg}]/providers/Microsoft.Authorization/roleDefinitions/{id}``
  (``RoleDefinitions_Get``; the SDK's ``get_by_id`` of a role definition id is the same request)
  and ``.../roleDefinitions`` (``RoleDefinitions_List``, paged; no ``$filter``): the built-in
  roles of ``emulator.arm.authz.ROLES`` in the spec's ``RoleDefinition`` shape (example
  ``GetRoleDefinitionByName.json``), ``type`` ``BuiltInRole``, assignable at ``/``. An id it does
  not hold is ARM's 404 ``RoleDefinitionDoesNotExist`` "The specified role definition with ID
  '<id>' does not exist." (ARM's answer as autorest quotes it:
  ``authorization.RoleDefinitionsClient#Get: ... Status=404 Code="RoleDefinitionDoesNotExist"``).

The subscription's creator (``authz.OPERATOR``) is its Owner without an assignment in the store
(``emulator.arm.authz``); the list shows that as the role assignment Azure makes for a
subscription's creator: Owner at the subscription, a fixed name (``OPERATOR_ASSIGNMENT``). It is
listed, not stored (a GET of its id is 404). Reads are not authorized here, as every ARM read of
the emulator (``emulator.arm.authz``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

from emulator.arm import authz
from emulator.arm.errors import ArmError
from emulator.context import EmulatorContext

ROLE_DEFINITIONS_TYPE: Final = "Microsoft.Authorization/roleDefinitions"
ROLE_ASSIGNMENTS_TYPE: Final = "Microsoft.Authorization/roleAssignments"
_LINK_SAFE: Final = "$'()"  # nextLink keeps $skipToken / $filter's quotes and parentheses readable
_SEPARATOR: Final = "/providers/microsoft.authorization/roleassignments/"
# the operator's Owner assignment at the subscription (listed, not stored): a fixed GUID
OPERATOR_ASSIGNMENT: Final = str(uuid.uuid5(uuid.NAMESPACE_URL, "prmlab-emulator/operator-owner"))

# Learn, "Azure built-in roles": the names and descriptions of the roles authz.ROLES holds
_BUILT_IN: Final[Mapping[str, tuple[str, str]]] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": (
        "Owner",
        "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
    ),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": (
        "Contributor",
        "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, "
        "manage assignments in Azure Blueprints, or share image galleries.",
    ),
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": (
        "Role Based Access Control Administrator",
        "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you "
        "to manage access using other ways, such as Azure Policy.",
    ),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": (
        "User Access Administrator",
        "Lets you manage user access to Azure resources.",
    ),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": (
        "Reader",
        "View all resources, but does not allow you to make any changes.",
    ),
}

_QUOTED = r"'((?:[^']|'')*)'"
_AT_SCOPE = r"atScope\(\)"
_ASSIGNED_TO = rf"assignedTo\({_QUOTED}\)"
_FILTERS: Final = (
    (re.compile(rf"^\s*{_AT_SCOPE}\s*$", re.IGNORECASE), "at"),
    (re.compile(rf"^\s*{_ASSIGNED_TO}\s*$", re.IGNORECASE), "to"),
    (re.compile(rf"^\s*{_AT_SCOPE}\s+and\s+{_ASSIGNED_TO}\s*$", re.IGNORECASE), "at+to"),
    (re.compile(rf"^\s*principalId\s+eq\s+{_QUOTED}\s*$", re.IGNORECASE), "principal"),
)


@dataclass(frozen=True, slots=True)
class AssignmentFilter:
    """A role assignment list's ``$filter``, parsed."""

    at_scope: bool = False  # at or above the scope only
    principal: str | None = None  # only this principal's
    with_groups: bool = False  # and its groups' (assignedTo)


def parse_filter(text: str | None) -> AssignmentFilter:
    """``$filter`` of a role assignment list, or ARM's 400 ``UnsupportedQuery`` (module docstring)."""
    if text is None or not text.strip():
        return AssignmentFilter()
    for pattern, form in _FILTERS:
        m = pattern.match(text)
        if m is None:
            continue
        value = m.group(1).replace("''", "'") if m.groups() else None
        if form == "at":
            return AssignmentFilter(at_scope=True)
        if form == "principal":
            return AssignmentFilter(principal=value)
        return AssignmentFilter(at_scope=form == "at+to", principal=value, with_groups=True)
    raise ArmError(
        400,
        "UnsupportedQuery",
        f"The filter '{text}' is not supported. Supported filters are either 'atScope()' or "
        "'principalId eq '{value}' or assignedTo('{value}')'.",
    )


def _scope_of(key: str) -> str:
    return key.split(_SEPARATOR)[0]


def operator_assignment(subscription: str) -> dict[str, Any]:
    """The Owner assignment of the subscription's creator (listed, not stored)."""
    scope = f"/subscriptions/{subscription}"
    return {
        "properties": {
            "roleDefinitionId": f"{scope}/providers/{ROLE_DEFINITIONS_TYPE}/{authz.OWNER}",
            "principalId": authz.OPERATOR,
            "principalType": "ServicePrincipal",
            "scope": scope,
        },
        "id": f"{scope}/providers/{ROLE_ASSIGNMENTS_TYPE}/{OPERATOR_ASSIGNMENT}",
        "type": ROLE_ASSIGNMENTS_TYPE,
        "name": OPERATOR_ASSIGNMENT,
    }


def assignments_for_subscription(
    ctx: EmulatorContext, subscription: str, flt: AssignmentFilter
) -> list[dict[str, Any]]:
    """The role assignments that apply to ``subscription`` under ``flt``, in a stable order."""
    sub_key = f"/subscriptions/{subscription}".lower()
    found: list[tuple[str, dict[str, Any]]] = [(sub_key + _SEPARATOR, operator_assignment(subscription))]
    for doc in ctx.store.list(authz.ROLE_ASSIGNMENTS):
        scope = _scope_of(doc.key)
        if scope != sub_key and not scope.startswith(sub_key + "/"):
            continue  # another subscription's
        found.append((doc.key, doc.body))
    out = []
    for key, body in sorted(found, key=lambda kv: kv[0]):
        scope = _scope_of(key)
        if flt.at_scope and scope != sub_key:  # below the subscription (the emulator has nothing above)
            continue
        principal = str((body.get("properties") or {}).get("principalId", ""))
        if flt.principal is not None and principal.lower() != flt.principal.lower():
            continue
        out.append(body)
    return out


def role_definition(scope: str, role_id: str) -> dict[str, Any] | None:
    """The built-in role ``role_id`` as read at ``scope`` (``RoleDefinition``), or None."""
    key = role_id.lower()
    if key not in authz.ROLES or key not in _BUILT_IN:
        return None
    name, description = _BUILT_IN[key]
    spec = authz.ROLES[key]
    return {
        "properties": {
            "roleName": name,
            "type": "BuiltInRole",
            "description": description,
            "assignableScopes": ["/"],
            "permissions": [
                {
                    "actions": list(spec["actions"]),
                    "notActions": list(spec["notActions"]),
                    "dataActions": [],
                    "notDataActions": [],
                }
            ],
        },
        "id": f"{scope}/providers/{ROLE_DEFINITIONS_TYPE}/{key}",
        "type": ROLE_DEFINITIONS_TYPE,
        "name": key,
    }


def role_definitions(scope: str) -> list[dict[str, Any]]:
    return [d for d in (role_definition(scope, r) for r in sorted(_BUILT_IN)) if d is not None]


def no_role_definition(role_id: str) -> ArmError:
    return ArmError(
        404,
        "RoleDefinitionDoesNotExist",
        f"The specified role definition with ID '{role_id}' does not exist.",
    )


def page(items: list[dict[str, Any]], query: Mapping[str, str], size: int, url: str) -> dict[str, Any]:
    """One page of ``items`` (``$skipToken`` = offset) and its ``nextLink`` (``url`` + the query)."""
    token = query.get("$skipToken", query.get("$skiptoken", "0"))
    if not token.isdigit():
        raise ArmError(400, "InvalidParameter", f"The $skipToken '{token}' is not valid.")
    offset = int(token)
    body: dict[str, Any] = {"value": items[offset : offset + size]}
    if offset + size < len(items):
        q = {k: v for k, v in query.items() if k.lower() != "$skiptoken"}
        q["$skipToken"] = str(offset + size)
        body["nextLink"] = f"{url}?{urlencode(q, safe=_LINK_SAFE, quote_via=quote)}"
    return body
