"""Provider for Azure role assignments: a built-in role granted to a lab principal on a lab resource.

Where it sits: ``orchestrator.graph`` adds a ``role_assignment`` node wherever a resource needs
another one's data (the server's identity pulls from the registry: AcrPull; API Management's
system identity reads and writes the gateway-mode client store: Storage Table Data Contributor).
The node's spec is a ``graph.RoleAssignment`` naming the principal and the scope by node
address; this module turns them into ARM ids.

Role assignments are extension resources (not in the resource group listing): one GET by id,
with a deterministic name (a UUID derived from the lab and the node) so a retry cannot create a
second one; they carry the ownership mark in their ``description``. The principal id is read
from the principal's resource at create time (``properties.principalId`` of a user-assigned
identity, ``identity.principalId`` of a service's system-assigned identity).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import PermanentError
from orchestrator.kinds import Kind
from orchestrator.providers.arm import resource_id
from orchestrator.providers.base import (
    description_mark,
    description_owned,
    diff_owned,
    json_body,
    stable_uuid,
    unflatten,
    wire,
)
from orchestrator.providers.common import (
    Context,
    Key,
    assign,
    delete_ignoring_missing,
    get_or_none,
    global_name,
    key_of,
)
from orchestrator.providers.containers import CONTAINER_REGISTRY
from orchestrator.providers.errors import translating
from orchestrator.providers.identity import MANAGED_IDENTITY
from orchestrator.providers.storage import STORAGE_ACCOUNT
from orchestrator.resource import Actual, Desired, FieldChange

if TYPE_CHECKING:
    from orchestrator.graph import RoleAssignment

ROLE_ASSIGNMENT_API = "2022-04-01"
APIM_API = "2024-05-01"  # the service is written by azure-mgmt-apimanagement; read here by id

# Built-in role definition ids (the same in every tenant).
BUILTIN_ROLES = {
    "acrpull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "key vault secrets user": "4633458b-17de-408a-b874-0445c86b69e6",
    "monitoring metrics publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "storage table data contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "storage table data reader": "76199698-9eea-4c19-bc75-cec21354c6b6",
}


def role_definition_id(subscription_id: str, role: str) -> str:
    guid = BUILTIN_ROLES.get(role.lower(), role)
    if not re.fullmatch(r"[0-9a-fA-F-]{36}", guid):
        raise ValueError(
            f"unknown role {role!r}: use a built-in name ({', '.join(BUILTIN_ROLES)}) or a role id"
        )
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _principal_of(body: Mapping[str, Any]) -> str | None:
    """The principal id of an identity resource, or of a resource's system-assigned identity."""
    props = body.get("properties") or {}
    if isinstance(props, Mapping) and props.get("principalId"):
        return str(props["principalId"])
    identity = body.get("identity") or {}
    if isinstance(identity, Mapping) and identity.get("principalId"):
        return str(identity["principalId"])
    return None


class RoleAssignmentProvider:
    kind = Kind.ROLE_ASSIGNMENT

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _arm_id(self, address: str) -> tuple[str, str]:
        """(ARM id, api-version for a GET) of the resource a node address names (or an ARM id)."""
        if address.startswith("/"):
            return address, ROLE_ASSIGNMENT_API
        kind, _, key = address.partition(".")
        lab = self.ctx.lab_spec
        sub, rg = self.ctx.subscription_id, self.ctx.rg
        if kind == Kind.RESOURCE_GROUP:
            return self.ctx.rg_id(), ROLE_ASSIGNMENT_API
        if kind == Kind.MANAGED_IDENTITY:
            identities = getattr(lab, "managed_identities", None) or {}
            name = str(identities[key].name) if key in identities else key
            return resource_id(sub, rg, MANAGED_IDENTITY.resource_type, name), MANAGED_IDENTITY.api_version
        if kind == Kind.CONTAINER_REGISTRY and lab is not None and lab.server and lab.server.registry:
            registry = global_name(lab.server.registry.name, address)
            return resource_id(
                sub, rg, CONTAINER_REGISTRY.resource_type, registry
            ), CONTAINER_REGISTRY.api_version
        if kind == Kind.APIM_SERVICE and lab is not None:
            service = global_name(lab.apim.service.name, address)
            return resource_id(sub, rg, "Microsoft.ApiManagement/service", service), APIM_API
        if kind == Kind.STORAGE_ACCOUNT and lab is not None and lab.authorization.client_store is not None:
            account = global_name(lab.authorization.client_store.storage_account, address)
            return resource_id(sub, rg, STORAGE_ACCOUNT.resource_type, account), STORAGE_ACCOUNT.api_version
        raise PermanentError(address, f"role assignments cannot name a {kind}")

    def desired(self, address: str, spec: RoleAssignment, resolved: Mapping[str, Any]) -> Desired:
        scope, _ = self._arm_id(spec.scope)
        principal, principal_api = self._arm_id(spec.principal)
        name = stable_uuid(self.ctx.lab, address)
        props = {
            "@id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
            "@principal": principal,
            "@principal_api": principal_api,
            "properties.roleDefinitionId": role_definition_id(self.ctx.subscription_id, spec.role),
            "properties.scope": scope,
            "properties.description": description_mark(self.ctx.lab),
        }
        return Desired(address, self.kind, name, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        # A role assignment cannot be changed in place: any difference replaces it.
        return diff_owned(
            desired.properties, actual.properties, replace=("properties.roleDefinitionId", "properties.scope")
        )

    def _actual(self, res: Any) -> Actual:
        body = wire(res)
        p = body.get("properties") or {}
        props = {
            "@id": body.get("id"),
            "properties.roleDefinitionId": p.get("roleDefinitionId"),
            "properties.scope": p.get("scope"),
            "properties.description": p.get("description"),
            "properties.principalId": p.get("principalId"),
        }
        owned = description_owned(p.get("description"), self.ctx.lab)
        return Actual(
            "",
            self.kind,
            str(body.get("name")),
            props,
            {"resource_id": body.get("id")},
            owned,
            body.get("id"),
        )

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        resources = self.ctx.clients.resources
        found: list[tuple[Key, Actual]] = []
        for desired in addresses.values():
            if desired is None:
                continue
            rid = str(desired.properties["@id"])
            res = await get_or_none(desired.address, _getter(resources, rid, ROLE_ASSIGNMENT_API))
            if res is not None:
                found.append((key_of(desired.name), self._actual(res)))
        return assign(self.kind, addresses, found, lambda d: key_of(d.name))

    async def create(self, desired: Desired) -> Actual:
        resources = self.ctx.clients.resources
        principal_id = desired.properties.get("@principal")
        if not isinstance(principal_id, str):
            raise PermanentError(desired.address, "the role assignment names no principal")
        api = str(desired.properties.get("@principal_api") or ROLE_ASSIGNMENT_API)
        holder = await get_or_none(desired.address, _getter(resources, principal_id, api))
        principal = _principal_of(wire(holder)) if holder is not None else None
        if not principal:
            raise PermanentError(
                desired.address,
                f"{principal_id} does not exist or has no managed identity to grant the role to",
            )
        body = unflatten(desired.properties)
        # ``properties.scope`` is read-only (RoleAssignmentProperties, Microsoft.Authorization
        # 2022-04-01, emulator/contracts/specs): the scope is the id's prefix, never sent.
        body["properties"].pop("scope", None)
        body["properties"]["principalId"] = principal
        body["properties"]["principalType"] = "ServicePrincipal"
        rid = str(desired.properties["@id"])
        with translating(desired.address):
            poller = await resources.resources.begin_create_or_update_by_id(
                rid, json_body(body), api_version=ROLE_ASSIGNMENT_API
            )
            res = await poller.result()
        return dataclasses.replace(self._actual(res), address=desired.address, owned=True)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        await self.delete(actual)
        return await self.create(desired)

    async def delete(self, actual: Actual) -> None:
        resources = self.ctx.clients.resources
        rid = str(actual.handle or actual.properties.get("@id"))

        async def delete() -> None:
            poller = await resources.resources.begin_delete_by_id(rid, api_version=ROLE_ASSIGNMENT_API)
            await poller.result()

        await delete_ignoring_missing(actual.address, delete)


def _getter(resources: Any, rid: str, api_version: str) -> Any:
    async def get() -> Any:
        return await resources.resources.get_by_id(rid, api_version=api_version)

    return get
