"""Providers for the MCP server's hosting: container registry, Container Apps environment, the
container app, and the role assignment that lets the server's identity pull from the registry.

Flow: see ``arm.py``. The container app is written whole from lab.yaml — image, env, identity,
ingress, scale — so nothing is ever set out of band (the original lab's ``az containerapp
update`` reset the image on every redeploy). Secret env values go into ``configuration.secrets``
(referenced by ``secretRef``) and are compared through a salted digest in an ARM tag, because
ARM never returns them.

Role assignments are extension resources (not in the resource group listing): one GET by id,
with a deterministic name (a UUID derived from the lab and the node) so a retry cannot create a
second one; they carry the ownership mark in their ``description``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.errors import PermanentError
from orchestrator.providers.acr_build import SourceArchive, ensure_image, pack_source
from orchestrator.providers.arm import (
    CASE_INSENSITIVE_PATHS,
    ArmKind,
    ArmResourceProvider,
    _same_location,
    resource_id,
    same_ignoring_case,
)
from orchestrator.providers.base import (
    contains_unknown,
    description_mark,
    description_owned,
    diff_owned,
    digest_matches,
    json_body,
    resolve,
    secret_digest_tag,
    spec_dict,
    stable_uuid,
    unflatten,
    wire,
)
from orchestrator.providers.common import Context, Key, assign, delete_ignoring_missing, get_or_none, key_of
from orchestrator.providers.errors import translating
from orchestrator.providers.identity import MANAGED_IDENTITY
from orchestrator.resource import UNKNOWN, Actual, Desired, FieldChange, Secret

SECRETS_TAG = "prmlab-secrets"


def _registry_outputs(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"login_server": (body.get("properties") or {}).get("loginServer")}


def _environment_outputs(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"default_domain": (body.get("properties") or {}).get("defaultDomain")}


def _app_outputs(body: Mapping[str, Any]) -> dict[str, Any]:
    ingress = ((body.get("properties") or {}).get("configuration") or {}).get("ingress") or {}
    fqdn = ingress.get("fqdn")
    return {"fqdn": fqdn, "url": f"https://{fqdn}" if fqdn else None}


CONTAINER_REGISTRY = ArmKind(
    "container_registry", "Microsoft.ContainerRegistry/registries", "2023-07-01", _registry_outputs
)
CONTAINER_ENVIRONMENT = ArmKind(
    "container_environment", "Microsoft.App/managedEnvironments", "2024-03-01", _environment_outputs
)
CONTAINER_APP = ArmKind("container_app", "Microsoft.App/containerApps", "2024-03-01", _app_outputs)
ROLE_ASSIGNMENT_API = "2022-04-01"

# Built-in role definition ids (the same in every tenant).
BUILTIN_ROLES = {
    "acrpull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "key vault secrets user": "4633458b-17de-408a-b874-0445c86b69e6",
    "monitoring metrics publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}


class ContainerRegistryProvider(ArmResourceProvider):
    spec_kind = CONTAINER_REGISTRY

    def build(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        data = spec_dict(spec)
        return str(data["name"]), {
            "sku": {"name": data.get("sku", "Basic")},
            "properties": {"adminUserEnabled": False},
        }


class ContainerEnvironmentProvider(ArmResourceProvider):
    spec_kind = CONTAINER_ENVIRONMENT

    def build(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        data = spec_dict(spec)
        return str(data["name"]), {"properties": {}}


def secret_name(env_name: str) -> str:
    """Container Apps secret names: lower-case letters, digits and '-'."""
    return re.sub(r"[^a-z0-9-]", "-", env_name.lower()).strip("-") or "secret"


def _identity_id(ctx: Context, key: str | None) -> str | None:
    identities = getattr(ctx.lab_spec, "managed_identities", None) or {}
    if key is None:
        return None
    name = str(identities[key].name) if key in identities else key
    return resource_id(ctx.subscription_id, ctx.rg, MANAGED_IDENTITY.resource_type, name)


class ContainerAppProvider(ArmResourceProvider):
    """The server's container app; with ``server.source`` and a registry its image is built by
    ACR (``acr_build``) right before the app is written, tagged with the source's digest."""

    spec_kind = CONTAINER_APP

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._archives: dict[Path, SourceArchive] = {}

    def _archive(self, source: Path) -> SourceArchive:
        if source not in self._archives:
            self._archives[source] = pack_source(source)
        return self._archives[source]

    def build(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        data = resolve(spec_dict(spec), resolved)
        name = str(data["name"])
        registry = data.get("registry")
        environment = (data.get("environment") or {}).get("name")
        if environment is None:
            environment = getattr(
                getattr(getattr(self.ctx.lab_spec, "server", None), "environment", None), "name", None
            )
        if registry is None:
            lab_registry = getattr(getattr(self.ctx.lab_spec, "server", None), "registry", None)
            registry = None if lab_registry is None else {"name": lab_registry.name}
        identity_id = _identity_id(self.ctx, data.get("identity"))
        login_server = f"{str(registry['name']).lower()}.azurecr.io" if registry else None
        source = data.get("source")
        archive: SourceArchive | None = None
        source_dir: Path | None = None
        if isinstance(source, str) and login_server and not data.get("image"):
            base = getattr(self.ctx.lab_spec, "base_dir", None) or Path.cwd()
            source_dir = (Path(base) / source).resolve()
            archive = self._archive(source_dir)
        if archive is not None:
            image = f"{login_server}/{archive.tag}"
        else:
            image = data.get("image") or (
                f"{login_server}/mcp-server:latest" if login_server else "mcp-server:latest"
            )
        env: list[dict[str, Any]] = []
        secrets: list[dict[str, Any]] = []
        for env_name, value in (data.get("env") or {}).items():
            if isinstance(value, Mapping) and "value" in value:
                value = value["value"] if not value.get("secret") else Secret(_text(value["value"]))
            if isinstance(value, Secret):
                secrets.append({"name": secret_name(env_name), "value": value})
                env.append({"name": env_name, "secretRef": secret_name(env_name)})
            else:
                env.append({"name": env_name, "value": value})
        scale = data.get("scale") or {}
        configuration: dict[str, Any] = {
            "ingress": {"external": True, "targetPort": int(data.get("port", 8000)), "transport": "auto"},
            "secrets": secrets,
        }
        if login_server and identity_id:
            configuration["registries"] = [{"server": login_server, "identity": identity_id}]
        body: dict[str, Any] = {
            "properties": {
                "managedEnvironmentId": resource_id(
                    self.ctx.subscription_id,
                    self.ctx.rg,
                    CONTAINER_ENVIRONMENT.resource_type,
                    str(environment),
                ),
                "configuration": configuration,
                "template": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "env": env,
                            "resources": {
                                "cpu": float(data.get("cpu", 0.5)),
                                "memory": data.get("memory", "1Gi"),
                            },
                        }
                    ],
                    "scale": {
                        "minReplicas": int(scale.get("min_replicas", 1)),
                        "maxReplicas": int(scale.get("max_replicas", 3)),
                    },
                },
            }
        }
        if identity_id:
            body["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {identity_id: {}}}
        if archive is not None and source_dir is not None and registry is not None:
            # Locators (never diffed): what ``_build_image`` needs before the app is written.
            body["@source"] = str(source_dir)
            body["@registry_id"] = resource_id(
                self.ctx.subscription_id, self.ctx.rg, CONTAINER_REGISTRY.resource_type, str(registry["name"])
            )
        return name, body

    async def _build_image(self, desired: Desired) -> None:
        source, registry_id = desired.properties.get("@source"), desired.properties.get("@registry_id")
        if isinstance(source, str) and isinstance(registry_id, str):
            path = Path(source)
            await ensure_image(desired.address, self.ctx.clients, registry_id, path, self._archive(path))

    async def create(self, desired: Desired) -> Actual:
        await self._build_image(desired)
        return await super().create(desired)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        await self._build_image(desired)
        return await super().update(desired, actual)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        want = dict(desired.properties)
        secrets = want.pop("properties.configuration.secrets", []) or []
        tags = dict(want.pop("tags", {}) or {})
        have_tags = {k: v for k, v in (actual.properties.get("tags") or {}).items() if k != SECRETS_TAG}
        identities = want.pop("identity.userAssignedIdentities", None)
        compare = {"location": _same_location, **dict.fromkeys(CASE_INSENSITIVE_PATHS, same_ignoring_case)}
        changes = list(diff_owned(want, actual.properties, compare=compare, replace=("location",)))
        if any(have_tags.get(k) != v for k, v in tags.items()):
            changes.append(FieldChange("tags", have_tags, tags))
        if identities is not None:
            have_ids = {
                str(k).lower() for k in (actual.properties.get("identity.userAssignedIdentities") or {})
            }
            if {str(k).lower() for k in identities} != have_ids:
                changes.append(
                    FieldChange("identity.userAssignedIdentities", sorted(have_ids), sorted(identities))
                )
        have_names = sorted(
            str(s.get("name")) for s in actual.properties.get("properties.configuration.secrets") or []
        )
        want_names = sorted(str(s["name"]) for s in secrets)
        digest = (actual.properties.get("tags") or {}).get(SECRETS_TAG)
        if contains_unknown(secrets):
            changes.append(FieldChange("properties.configuration.secrets", "(sensitive)", UNKNOWN))
        elif want_names != have_names or (secrets and not digest_matches(digest, _secrets_text(secrets))):
            changes.append(
                FieldChange("properties.configuration.secrets", Secret("?"), Secret(_secrets_text(secrets)))
            )
        return tuple(sorted(changes, key=lambda c: c.path))

    def body(self, desired: Desired) -> dict[str, Any]:
        body = super().body(desired)
        secrets = (body.get("properties") or {}).get("configuration", {}).get("secrets") or []
        if secrets:
            body["tags"] = {**body.get("tags", {}), SECRETS_TAG: secret_digest_tag(_secrets_text(secrets))}
        return body


def _text(value: Any) -> str:
    return value.reveal() if isinstance(value, Secret) else str(value)


def _secrets_text(secrets: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{s['name']}={_text(s['value'])}" for s in sorted(secrets, key=lambda s: str(s["name"]))
    )


# ------------------------------------------------------------------------------- role assignments


def role_definition_id(subscription_id: str, role: str) -> str:
    guid = BUILTIN_ROLES.get(role.lower(), role)
    if not re.fullmatch(r"[0-9a-fA-F-]{36}", guid):
        raise ValueError(
            f"unknown role {role!r}: use a built-in name ({', '.join(BUILTIN_ROLES)}) or a role id"
        )
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


class RoleAssignmentProvider:
    kind = "role_assignment"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _scope_id(self, scope: str) -> str:
        """A scope given as a node address (``container_registry.main``) or an ARM id."""
        if scope.startswith("/"):
            return scope
        kind = scope.split(".", 1)[0]
        lab = self.ctx.lab_spec
        if kind == "container_registry" and lab is not None and lab.server and lab.server.registry:
            return resource_id(
                self.ctx.subscription_id,
                self.ctx.rg,
                CONTAINER_REGISTRY.resource_type,
                lab.server.registry.name,
            )
        if kind == "resource_group":
            return self.ctx.rg_id()
        raise PermanentError(scope, f"role assignments on {kind} are not supported")

    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired:
        data = (
            dataclasses.asdict(spec)
            if dataclasses.is_dataclass(spec) and not isinstance(spec, type)
            else spec_dict(spec)
        )
        scope = self._scope_id(str(data["scope"]))
        name = stable_uuid(self.ctx.lab, address)
        props = {
            "@id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
            "@identity_id": _identity_id(self.ctx, data.get("identity")),
            "properties.roleDefinitionId": role_definition_id(self.ctx.subscription_id, str(data["role"])),
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
        identity_id = desired.properties.get("@identity_id")
        if not isinstance(identity_id, str):
            raise PermanentError(desired.address, "the role assignment names no managed identity")
        identity = await get_or_none(
            desired.address,
            lambda: resources.resources.get_by_id(identity_id, api_version=MANAGED_IDENTITY.api_version),
        )
        principal = (
            (wire(identity).get("properties") or {}).get("principalId") if identity is not None else None
        )
        if not principal:
            raise PermanentError(desired.address, f"managed identity {identity_id} does not exist")
        body = unflatten(desired.properties)
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
