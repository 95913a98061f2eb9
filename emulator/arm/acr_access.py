"""Who may pull from a container registry the emulator holds: anonymous pull and the admin user.

Where it sits: ``emulator.arm.generic``'s registry ``prepare`` calls ``settle`` (the two
properties on a registry write) and its ``present`` calls ``present``; ``emulator.arm.acr``
registers ``list_credentials`` as the registry's ``listCredentials`` action;
``emulator.arm.image_pull`` asks ``anonymous`` and ``admin_accepts`` when a container app pulls.

**Anonymous pull** (Learn, "Make your container registry content publicly available",
https://learn.microsoft.com/azure/container-registry/anonymous-pull-access): off by default;
``properties.anonymousPullEnabled`` turns it on, at the Standard and Premium tiers only. A Basic
registry that asks for it is refused with ACR's 400 ``BadRequest`` "Anonymous pull is not
supported for SKU Managed_Basic. For more information on SKU tiers, please visit
https://aka.ms/acr/tiers." (verbatim as ARM answered it: MicrosoftDocs/azure-docs#94535 and the
docs fix MicrosoftDocs/azure-docs#101641). The property exists only at some api-versions:
``ANONYMOUS_PULL_VERSIONS`` (the previews from 2021-06-01-preview on: bicep-types-az
``generated/containerregistry/microsoft.containerregistry/2021-06-01-preview/types.md`` lists it
in RegistryProperties, Azure/azure-rest-api-specs#21603 cites it in 2022-02-01-preview, Learn's
template reference in 2023-01-01-preview; the stable ``2023-07-01/containerregistry.json``
(vendored) and ``2025-04-01/containerregistry.json`` (read) do not define it). At another
api-version a write leaves the stored value alone (the version's model does not carry it) and a
read does not show it; at one of those versions a PUT without it means ``false`` (a PUT
replaces, the default is off).

**Admin user** (Learn, "Authenticate with an Azure container registry", admin account,
https://learn.microsoft.com/azure/container-registry/container-registry-authentication#admin-account):
``adminUserEnabled`` (default ``false``, RegistryProperties); username = the registry name, two
passwords. ``POST …/listCredentials`` (Registries_ListCredentials, RegistryListCredentialsResult
``{username, passwords: [{name: password|password2, value}]}``) answers them; with the admin
user disabled ACR refuses with ``UnAuthorizedForCredentialOperations`` "Cannot perform
credential operations for <registry id> as admin user is disabled. Kindly enable admin user as
per docs: https://docs.microsoft.com/azure/container-registry/container-registry-authentication#admin-account"
(code: clients match on it, e.g. turbot/steampipe-plugin-azure; wording:
microsoft/azure-container-apps#268). The 400 status is not quoted by those sources: ACR answers
its other refusals of a request on a registry with 400. The passwords are generated once and
kept (``regenerateCredential`` is not served), stored under ``ADMIN_FIELD`` and never shown on
a GET. The username is compared without case (ACR names are case-insensitive: the login server
is lower-case).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from emulator.arm.errors import ArmError, json_response
from emulator.arm.types import Call, Doc
from emulator.store import Stored

ADMIN_FIELD = "adminPasswords"  # stored in properties, hidden by ``present``

ANONYMOUS_PULL_VERSIONS = frozenset(
    {
        "2021-06-01-preview",
        "2021-08-01-preview",
        "2021-12-01-preview",
        "2022-02-01-preview",
        "2023-01-01-preview",
        "2023-06-01-preview",
        "2023-08-01-preview",
        "2023-11-01-preview",
        "2024-11-01-preview",
        "2025-03-01-preview",
        "2025-05-01-preview",
    }
)
ANONYMOUS_PULL_TIERS = frozenset({"standard", "premium"})


def _knows_anonymous_pull(query: Mapping[str, str]) -> bool:
    return query.get("api-version", "") in ANONYMOUS_PULL_VERSIONS


def settle(call: Call, props: dict[str, Any], old: Mapping[str, Any], sku: str) -> None:
    """Fill ``anonymousPullEnabled`` and the admin passwords of a registry being written;
    refuse anonymous pull at a tier without it."""
    if _knows_anonymous_pull(call.query):
        props["anonymousPullEnabled"] = props.get("anonymousPullEnabled") is True
    else:
        props.pop("anonymousPullEnabled", None)  # not in this version's model: unchanged
        if "anonymousPullEnabled" in old:
            props["anonymousPullEnabled"] = old["anonymousPullEnabled"]
    if props.get("anonymousPullEnabled") is True and sku.lower() not in ANONYMOUS_PULL_TIERS:
        tier = "Managed_Basic" if sku.lower() == "basic" else sku
        raise ArmError(
            400,
            "BadRequest",
            f"Anonymous pull is not supported for SKU {tier}. For more information on SKU tiers, "
            "please visit https://aka.ms/acr/tiers.",
        )
    kept = old.get(ADMIN_FIELD)
    props[ADMIN_FIELD] = kept if _passwords(kept) else [secrets.token_urlsafe(32) for _ in range(2)]


def present(body: Doc, query: Mapping[str, str]) -> Doc:
    """The registry as a GET answers it: no admin passwords; ``anonymousPullEnabled`` only at
    the api-versions that define it (``false`` when never set)."""
    props = {k: v for k, v in (body.get("properties") or {}).items() if k != ADMIN_FIELD}
    if _knows_anonymous_pull(query):
        props["anonymousPullEnabled"] = props.get("anonymousPullEnabled") is True
    else:
        props.pop("anonymousPullEnabled", None)
    return {**body, "properties": props}


def _passwords(value: Any) -> list[str]:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(p, str) and p for p in value):
        return list(value)
    return []


def anonymous(registry: Stored) -> bool:
    """Whether the registry lets an unauthenticated client pull."""
    return (registry.body.get("properties") or {}).get("anonymousPullEnabled") is True


def admin_accepts(registry: Stored, username: str, password: str) -> bool:
    """Whether ``username``/``password`` are the registry's enabled admin credentials."""
    props = registry.body.get("properties") or {}
    if props.get("adminUserEnabled") is not True:
        return False
    if username.lower() != str(registry.body.get("name", "")).lower():
        return False
    return any(hmac.compare_digest(password.encode(), p.encode()) for p in _passwords(props.get(ADMIN_FIELD)))


async def list_credentials(call: Call, stored: Stored) -> Response:
    """``POST …/registries/{r}/listCredentials``: the admin user's name and passwords."""
    props = stored.body.get("properties") or {}
    if props.get("adminUserEnabled") is not True:
        raise ArmError(
            400,
            "UnAuthorizedForCredentialOperations",
            f"Cannot perform credential operations for {stored.body.get('id', '')} as admin user is "
            "disabled. Kindly enable admin user as per docs: "
            "https://docs.microsoft.com/azure/container-registry/container-registry-authentication#admin-account",
        )
    first, second = _passwords(props.get(ADMIN_FIELD)) or ["", ""]
    return json_response(
        200,
        {
            "username": stored.body.get("name", ""),
            "passwords": [{"name": "password", "value": first}, {"name": "password2", "value": second}],
        },
    )
