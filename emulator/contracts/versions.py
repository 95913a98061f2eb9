"""The api-versions Azure serves per resource type, and ARM's answer to any other.

Where it sits: under ``emulator.contracts``; ``emulator.arm.crud`` calls ``check`` for every
request to a typed resource. The table is ``specs/api-versions.json`` (each type with the page
it was taken from). A type that is not in the table is not checked; every type the emulator
serves is in it (tests/emulator/contracts/test_versions.py fails otherwise), and every type the
engine sends (tests/orchestrator/providers/test_contracts.py ``check_versions``).

ARM answers an api-version a provider's type does not have with 400 ``NoRegisteredProviderFound``:
"No registered resource provider found for location '<loc>' and API version '<v>' for type
'<type>'. The supported api-versions are '<a, b, ...>'. The supported locations are '<...>'."
(verbatim from ARM as quoted in Azure/azure-cli#28496 and #28368 and
pulumi/pulumi-azure-nextgen#170; the type is the last segment(s) after the namespace).

The types ARM serves itself (``Microsoft.Resources``: resource groups) are refused by ARM's front
door, not by a provider: 400 ``InvalidApiVersionParameter``, "The api-version '<v>' is invalid. The
supported versions are '<a,b,...>'." (verbatim as ARM answered the resource-management clients in
Azure/azure-sdk-for-net#3160, Azure/azure-sdk-for-python#975, ansible-collections/azure#1739:
the list comma-separated without spaces, no location).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from emulator.contracts.loader import SPECS_DIR

VERSIONS_FILE = SPECS_DIR / "api-versions.json"
# What the emulator answers as "supported locations" (it serves every region name).
LOCATIONS = "westeurope, eastus, uksouth, ukwest, swedencentral"
# The namespace of the types ARM serves itself (its front door refuses their api-versions).
ARM_NAMESPACE = "microsoft.resources"


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    code: str
    message: str


@cache
def table() -> dict[str, tuple[str, ...]]:
    """Lower-cased full resource type -> the api-versions Azure serves, newest first."""
    data = json.loads(VERSIONS_FILE.read_text(encoding="utf-8"))
    return {t.lower(): tuple(v["versions"]) for t, v in data["types"].items()}


def supported(resource_type: str) -> tuple[str, ...] | None:
    """The versions of ``Namespace/type[/child...]`` (``None``: the type is not in the table)."""
    return table().get(resource_type.lower())


def check(resource_type: str, api_version: str, location: str | None = None) -> Refusal | None:
    """ARM's refusal of ``api_version`` for ``resource_type``, or ``None`` when it is served
    (or the type is not in the table)."""
    versions = supported(resource_type)
    if versions is None or api_version in versions:
        return None
    namespace, _, short = resource_type.partition("/")
    if namespace.lower() == ARM_NAMESPACE:
        return Refusal(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{api_version}' is invalid. The supported versions are '{','.join(versions)}'.",
        )
    short = short or resource_type
    where = (location or "global").replace(" ", "").lower()
    return Refusal(
        400,
        "NoRegisteredProviderFound",
        f"No registered resource provider found for location '{where}' and API version '{api_version}' "
        f"for type '{short}'. The supported api-versions are '{', '.join(versions)}'. "
        f"The supported locations are '{LOCATIONS}'.",
    )
