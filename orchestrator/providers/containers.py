"""Providers for the MCP server's hosting: container registry, Container Apps environment, the
container app (the role assignment that lets the server's identity pull from the registry is
``rbac.py``'s).

Flow: see ``arm.py``. The container app is written whole from lab.yaml — image, env, identity,
ingress, scale — so nothing is ever set out of band (the original lab's ``az containerapp
update`` reset the image on every redeploy). Secret env values go into ``configuration.secrets``
(referenced by ``secretRef``) and are compared through a salted digest in an ARM tag, because
ARM never returns them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.errors import NotInEffectError, PermanentError
from orchestrator.kinds import Kind
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
    diff_owned,
    digest_matches,
    secret_digest_tag,
)
from orchestrator.providers.common import Context, global_name
from orchestrator.providers.identity import MANAGED_IDENTITY
from orchestrator.resolve import contains_unknown, substitute
from orchestrator.resource import UNKNOWN, Actual, Desired, FieldChange, Secret
from orchestrator.spec.refs import the_scope
from orchestrator.spec.values import EnvVar, Ref

if TYPE_CHECKING:
    from orchestrator.spec.models import ContainerEnvironment, ContainerRegistry, Lab, Server

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
    Kind.CONTAINER_REGISTRY, "Microsoft.ContainerRegistry/registries", "2023-07-01", _registry_outputs
)
CONTAINER_ENVIRONMENT = ArmKind(
    Kind.CONTAINER_ENVIRONMENT, "Microsoft.App/managedEnvironments", "2024-03-01", _environment_outputs
)
CONTAINER_APP = ArmKind(Kind.CONTAINER_APP, "Microsoft.App/containerApps", "2024-03-01", _app_outputs)


class ContainerRegistryProvider(ArmResourceProvider):
    spec_kind = CONTAINER_REGISTRY

    def build(
        self, address: str, spec: ContainerRegistry, resolved: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        return global_name(spec.name, address), {
            "sku": {"name": spec.sku},
            "properties": {"adminUserEnabled": False},
        }


class ContainerEnvironmentProvider(ArmResourceProvider):
    spec_kind = CONTAINER_ENVIRONMENT

    def build(
        self, address: str, spec: ContainerEnvironment, resolved: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        return spec.name, {"properties": {}}


def secret_name(env_name: str) -> str:
    """Container Apps secret names: lower-case letters, digits and '-'."""
    return re.sub(r"[^a-z0-9-]", "-", env_name.lower()).strip("-") or "secret"


def _identity_id(ctx: Context, key: str | None) -> str | None:
    identities = ctx.lab_spec.managed_identities if ctx.lab_spec is not None else {}
    if key is None:
        return None
    name = str(identities[key].name) if key in identities else key
    return resource_id(ctx.subscription_id, ctx.rg, MANAGED_IDENTITY.resource_type, name)


REQUIRED_SCOPE_ENV = "REQUIRED_SCOPE"


def required_scope(lab: Lab | None, spec: Server) -> str | None:
    """The scope the MCP server requires in tokens, from the lab: the one the server's app
    registration exposes (the app whose ``client_id`` the server's environment names; its
    ``entra.apps.<k>.scope``). None when lab.yaml sets ``REQUIRED_SCOPE`` itself or names no app
    with a scope. The engine puts it in the server's environment, so a renamed scope reaches the
    server in the same reconcile as the app registration, the policies and the PRM."""
    if lab is None or REQUIRED_SCOPE_ENV in spec.env:
        return None
    for item in spec.env.values():
        value = item.value if isinstance(item, EnvVar) else item
        if isinstance(value, Ref) and value.output == "client_id" and value.address.startswith("entra.apps."):
            app = lab.entra.apps.get(value.address.split(".")[2])
            if app is not None and app.scopes:
                return the_scope(app)
    return None


def _environment(
    spec: Server, resolved: Mapping[str, Any], lab: Lab | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(container env, app secrets): a secret value goes into ``secrets`` and the env names it;
    ``REQUIRED_SCOPE`` is set from the lab (``required_scope``)."""
    env: list[dict[str, Any]] = []
    secrets: list[dict[str, Any]] = []
    scope = required_scope(lab, spec)
    if scope is not None:
        env.append({"name": REQUIRED_SCOPE_ENV, "value": scope})
    for env_name, item in spec.env.items():
        if isinstance(item, EnvVar):
            value = substitute(item.value, resolved)
            value = Secret(_text(value)) if item.secret else value
        else:
            value = substitute(item, resolved)
        if isinstance(value, Secret):
            secrets.append({"name": secret_name(env_name), "value": value})
            env.append({"name": env_name, "secretRef": secret_name(env_name)})
        else:
            env.append({"name": env_name, "value": value})
    return env, secrets


def pulled_without_identity(properties: Mapping[str, Any]) -> list[str]:
    """The images of the container app whose registry server has no ``configuration.registries``
    entry with an ``identity`` (pure). Container Apps pulls those anonymously, so ACR's
    UNAUTHORIZED for them is final, not a role assignment propagating (emulator.arm.image_pull)."""
    entries = properties.get("properties.configuration.registries") or []
    with_identity = {
        str(e.get("server", "")).lower() for e in entries if isinstance(e, Mapping) and e.get("identity")
    }
    containers = properties.get("properties.template.containers") or []
    images = [c.get("image") for c in containers if isinstance(c, Mapping)]
    return [
        i
        for i in images
        if isinstance(i, str) and "/" in i and i.split("/", 1)[0].lower() not in with_identity
    ]


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

    def build(self, address: str, spec: Server, resolved: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        registry = global_name(spec.registry.name, address) if spec.registry is not None else None
        identity_id = _identity_id(self.ctx, spec.identity)
        login_server = self.ctx.clients.settings.endpoints.login_server(registry) if registry else None
        image, source_dir = self._image(spec, login_server)
        env, secrets = _environment(spec, resolved, self.ctx.lab_spec)
        configuration: dict[str, Any] = {
            "ingress": {"external": True, "targetPort": spec.port, "transport": "auto"},
            "secrets": secrets,
        }
        if login_server and identity_id:
            configuration["registries"] = [{"server": login_server, "identity": identity_id}]
        environment_id = resource_id(
            self.ctx.subscription_id, self.ctx.rg, CONTAINER_ENVIRONMENT.resource_type, spec.environment.name
        )
        container = {
            "name": spec.name,
            "image": image,
            "env": env,
            "resources": {"cpu": spec.cpu, "memory": spec.memory},
        }
        scale = {"minReplicas": spec.scale.min_replicas, "maxReplicas": spec.scale.max_replicas}
        body: dict[str, Any] = {
            "properties": {
                "managedEnvironmentId": environment_id,
                "configuration": configuration,
                "template": {"containers": [container], "scale": scale},
            }
        }
        if identity_id:
            body["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {identity_id: {}}}
        if source_dir is not None and registry is not None:
            # Locators (never diffed): what ``_build_image`` needs before the app is written.
            body["@source"] = str(source_dir)
            body["@registry_id"] = resource_id(
                self.ctx.subscription_id, self.ctx.rg, CONTAINER_REGISTRY.resource_type, registry
            )
        return spec.name, body

    def _image(self, spec: Server, login_server: str | None) -> tuple[str, Path | None]:
        """(image, source folder): with ``source``, a registry and no ``image``, the image ACR
        builds from the source (tagged with its digest); else ``image`` or the registry's default."""
        if spec.source is not None and login_server and not spec.image:
            base = self.ctx.lab_spec.base_dir if self.ctx.lab_spec is not None else Path.cwd()
            source_dir = (Path(base) / spec.source).resolve()
            return f"{login_server}/{self._archive(source_dir).tag}", source_dir
        default = f"{login_server}/mcp-server:latest" if login_server else "mcp-server:latest"
        return spec.image or default, None

    async def _build_image(self, desired: Desired) -> None:
        source, registry_id = desired.properties.get("@source"), desired.properties.get("@registry_id")
        if isinstance(source, str) and isinstance(registry_id, str):
            path = Path(source)
            await ensure_image(desired.address, self.ctx.clients, registry_id, path, self._archive(path))

    async def create(self, desired: Desired) -> Actual:
        await self._build_image(desired)
        try:
            return await super().create(desired)
        except NotInEffectError as exc:
            anonymous = pulled_without_identity(desired.properties)
            if not anonymous:
                raise  # the identity's AcrPull is propagating: probed again
            raise PermanentError(
                desired.address,
                f"{exc.cause} (the image {anonymous[0]} is pulled without credentials: no registry "
                "identity for its server, and the registry refuses anonymous pulls; use the lab's "
                "registry (server.registry) or a public image)",
            ) from exc

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
