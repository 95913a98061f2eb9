"""A container app's image pull from a registry the emulator holds, through a managed identity.

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

Checked only for a registry of the store named by a ``registries`` entry with an identity; an
image of a registry the emulator does not hold, or pulled with admin credentials, is not
checked (the emulator has neither such registries nor admin passwords).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from emulator import rbac
from emulator.arm.errors import ArmError
from emulator.context import EmulatorContext

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


def _registry_key(ctx: EmulatorContext, server: str) -> str | None:
    """The store key of the registry whose login server is ``server``."""
    server = server.lower()
    for doc in ctx.store.list(REGISTRIES):
        if str((doc.body.get("properties") or {}).get("loginServer", "")).lower() == server:
            return doc.key
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


def refusal(
    ctx: EmulatorContext, properties: Mapping[str, Any], identity: Mapping[str, Any] | None
) -> ArmError | None:
    """The 400 of the first container whose image its registry identity may not pull yet."""
    config = properties.get("configuration") or {}
    registries = config.get("registries") if isinstance(config, Mapping) else None
    template = properties.get("template") or {}
    containers = template.get("containers") if isinstance(template, Mapping) else None
    if not isinstance(registries, list) or not isinstance(containers, list):
        return None
    for entry in registries:
        if not isinstance(entry, Mapping):
            continue
        server, who = entry.get("server"), entry.get("identity")
        if not isinstance(server, str) or not isinstance(who, str) or not who:
            continue
        registry = _registry_key(ctx, server)
        if registry is None:
            continue
        principal = _principal(ctx, who, identity)
        allowed = principal is not None and rbac.holds(ctx, principal, registry, PULL_ROLES)
        for container in containers:
            image = container.get("image") if isinstance(container, Mapping) else None
            if isinstance(image, str) and image.lower().startswith(server.lower() + "/") and not allowed:
                return _unauthorized(str(container.get("name", "")), image, image[: len(server)])
    return None
