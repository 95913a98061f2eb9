"""A container app's image pull from a registry the emulator holds: the credentials it pulls with.

Where it sits: ``emulator.arm.generic`` calls ``refusal`` while preparing a container app PUT
(every PUT makes a revision, and a revision pulls its images). The runner starts the stored
app's process only after the PUT succeeded, so a refused pull starts nothing.

Azure Container Apps pulls an image of ``configuration.registries[].server`` with the token of
that entry's ``identity`` (a user-assigned identity's ARM id, or ``system``). The identity must
hold a role that may pull at the registry (or above) — AcrPull, AcrPush, or Owner /
Contributor / Reader (Learn, "Azure Container Registry roles and permissions",
https://learn.microsoft.com/azure/container-registry/container-registry-roles) — and the
assignment must have taken effect (``emulator.rbac``: propagation). Otherwise the PUT fails with
the registry's token refusal inside Container Apps' 400::

    InvalidParameterValueInContainerTemplate: The following field(s) are either invalid or
    missing. Field 'template.containers.<name>.image' is invalid with details: 'Invalid value:
    "<image>": GET https://<server>/oauth2/token?scope=repository%3A<repo>%3Apull&service=<server>:
    UNAUTHORIZED: authentication required, visit https://aka.ms/acr/authorization for more
    information.';.

(verbatim as users met it: Azure/container-apps-deploy-action#85 for the code and the wording,
microsoft/azure-container-apps#212 for the token URL; ACR's own answer is the
``UNAUTHORIZED: authentication required, visit https://aka.ms/acr/authorization`` part).

How a container app authenticates to the registry of an image is the ``configuration.registries``
entry whose ``server`` is the image's (REST spec ``RegistryCredentials``: ``server``,
``username``, ``passwordSecretRef``, ``identity``; vendored
``specification/app/resource-manager/Microsoft.App/stable/2024-03-01/ContainerApps.json``):

* no entry: an anonymous pull, refused (the same 400: ``az containerapp create -i
  <acr>.azurecr.io/…`` without ``--registry-server`` fails so, Azure/container-apps-deploy-action#50)
  unless the registry has anonymous pull on (``emulator.arm.acr_access``);
* ``identity``: the role above, in effect;
* ``username`` + ``passwordSecretRef``: the secret must be one of the app's
  ``configuration.secrets``, else 400 ``ContainerAppRegistriesPasswordSecretRefNotFound``
  "PasswordSecretRef '<ref>' defined for registry server '<server>' not found" (code: the 400 of
  piizei/terraform-container-apps#2; wording as deployments quote it); the pair must be the
  registry's enabled admin user, else the same UNAUTHORIZED 400 (microsoft/azure-container-apps#212
  met it with a username/passwordSecretRef entry). An entry with neither is an anonymous pull.

Checked for the ``template.containers`` of a registry of the store; an image of a registry the
emulator does not hold is not checked (nothing to ask). Init containers are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from emulator import rbac
from emulator.arm import acr_access
from emulator.arm.errors import ArmError
from emulator.context import EmulatorContext
from emulator.store import Stored

REGISTRIES = "microsoft.containerregistry/registries"
IDENTITIES = "microsoft.managedidentity/userassignedidentities"

PULL_ROLES = frozenset(
    {
        "7f951dda-4ed3-4680-a7ca-43fe172d538d",  # AcrPull
        "8311e382-0749-4cb8-b61a-304f252e45ec",  # AcrPush
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
        "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",  # Reader
    }
)


def _registry(ctx: EmulatorContext, server: str) -> Stored | None:
    """The registry of the store whose login server is ``server``."""
    server = server.lower()
    for doc in ctx.store.list(REGISTRIES):
        if str((doc.body.get("properties") or {}).get("loginServer", "")).lower() == server:
            return doc
    return None


def _principal(ctx: EmulatorContext, identity: str, app_identity: Mapping[str, Any] | None) -> str | None:
    if identity.lower() == "system":
        value = (app_identity or {}).get("principalId")
        return value if isinstance(value, str) else None
    doc = ctx.store.get(IDENTITIES, identity.lower())
    value = (doc.body.get("properties") or {}).get("principalId") if doc is not None else None
    return value if isinstance(value, str) else None


def _unauthorized(container: str, image: str, server: str) -> ArmError:
    repo = image[len(server) + 1 :].split("@", 1)[0].rsplit(":", 1)[0]
    token_url = (
        f"https://{server}/oauth2/token?scope=repository%3A{quote(repo, safe='')}%3Apull&service={server}"
    )
    return ArmError(
        400,
        "InvalidParameterValueInContainerTemplate",
        "The following field(s) are either invalid or missing. "
        f"Field 'template.containers.{container}.image' is invalid with details: "
        f'\'Invalid value: "{image}": GET {token_url}: UNAUTHORIZED: authentication required, '
        "visit https://aka.ms/acr/authorization for more information.';.",
    )


def _secret_values(config: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for secret in config.get("secrets") or []:
        if isinstance(secret, Mapping) and isinstance(secret.get("name"), str):
            value = secret.get("value")
            out[secret["name"]] = value if isinstance(value, str) else ""
    return out


def _entries(config: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    registries = config.get("registries")
    if not isinstance(registries, list):
        return []
    return [e for e in registries if isinstance(e, Mapping) and isinstance(e.get("server"), str)]


def _may_pull(
    ctx: EmulatorContext,
    registry: Stored,
    entry: Mapping[str, Any] | None,
    secrets: Mapping[str, str],
    app_identity: Mapping[str, Any] | None,
) -> bool:
    who = entry.get("identity") if entry is not None else None
    if isinstance(who, str) and who:
        principal = _principal(ctx, who, app_identity)
        return principal is not None and rbac.holds(ctx, principal, registry.key, PULL_ROLES)
    username = entry.get("username") if entry is not None else None
    ref = entry.get("passwordSecretRef") if entry is not None else None
    if isinstance(username, str) and username and isinstance(ref, str) and ref:
        return acr_access.admin_accepts(registry, username, secrets.get(ref, ""))
    return acr_access.anonymous(registry)


def refusal(
    ctx: EmulatorContext, properties: Mapping[str, Any], identity: Mapping[str, Any] | None
) -> ArmError | None:
    """The 400 of the first registry entry whose password secret is missing, else of the first
    container whose image its registry does not let this app pull (yet)."""
    config = properties.get("configuration") or {}
    config = config if isinstance(config, Mapping) else {}
    secrets = _secret_values(config)
    entries = _entries(config)
    for entry in entries:
        ref = entry.get("passwordSecretRef")
        if isinstance(ref, str) and ref and ref not in secrets:
            return ArmError(
                400,
                "ContainerAppRegistriesPasswordSecretRefNotFound",
                f"PasswordSecretRef '{ref}' defined for registry server '{entry['server']}' not found",
            )
    template = properties.get("template") or {}
    containers = template.get("containers") if isinstance(template, Mapping) else None
    for container in containers if isinstance(containers, list) else []:
        image = container.get("image") if isinstance(container, Mapping) else None
        if not isinstance(image, str) or "/" not in image:
            continue
        server = image.split("/", 1)[0]
        registry = _registry(ctx, server)
        if registry is None:
            continue  # not a registry the emulator holds
        matching = [e for e in entries if str(e["server"]).lower() == server.lower()]
        chosen = matching[0] if matching else None
        if not _may_pull(ctx, registry, chosen, secrets, identity):
            return _unauthorized(str(container.get("name", "")), image, server)
    return None
