"""The names Azure refuses when a resource is created, with each provider's refusal.

Where it sits: ``emulator.arm.crud`` asks ``refusal(addr)`` before a PUT creates a resource (an
existing resource keeps its name), so the emulator refuses what Azure refuses instead of storing
a name no real subscription could hold. Resource groups, storage accounts, tables and API
Management services are checked where they are created (``router``, ``storage``,
``apim_service``), with their own codes.

The rules: Learn, "Naming rules and restrictions for Azure resources"
(https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules), the
row of each namespace; where the provider's REST spec states a pattern (registries
``^[a-zA-Z0-9]*$`` 5-50 in ``containerregistry.json``) it agrees. The refusals:

* Microsoft.App/containerApps: 400 ``ContainerAppInvalidName`` "Invalid ContainerApp name 'X'. A
  name must consist of lower case alphanumeric characters or '-', start with an alphabetic
  character, and end with an alphanumeric character and cannot have '--'. The length must not be
  more than 32 characters." (verbatim in Azure/azure-cli#27933);
* Microsoft.App/managedEnvironments: 400 ``ManagedEnvironmentInvalidName`` "The environment name X
  is invalid." (Azure/azure-cli-extensions#5555);
* Microsoft.OperationalInsights/workspaces: 400 ``InvalidParameter`` "Workspace name must start and
  end with an alphanumeric character, and may contain only alphanumeric and hyphen characters."
  (Azure/AzureMonitorStarterPacks#173); a length outside Learn's 4-63 "The workspace name must be
  between 4 and 63 characters." (the portal's sentence, as Azure/terraform-azurerm-avm-res-
  operationalinsights-workspace#72 quotes it: the API's is not published);
* the other types: their providers' wording is not published, so ARM's generic refusal of a
  resource name, 400 ``InvalidResourceName`` "Resource name X is invalid. ..." (the form ARM
  answers, e.g. F5Networks/f5-azure-arm-templates#110) with the type's rule in words.

API Management entities: the REST spec's path parameters, the rule the service enforces on the
wire (``apimanagement.json`` ``parameters``, 2024-05-01, Azure/azure-rest-api-specs
``specification/apimanagement/resource-manager/Microsoft.ApiManagement/stable/2024-05-01/
apimanagement.json``): ``namedValueId`` at most 256 characters matching ``^[^*#&+:<>?]+$``;
``apiId`` (``ApiIdRevParameter``, the one the API PUT takes) 1-256 with the same pattern;
``backendId`` and ``operationId`` 1-80. Refused as APIM refuses its own validation failures: 400
``ValidationError`` "One or more fields contain incorrect values:" with a ``details`` entry whose
``target`` is the parameter (the envelope of ``emulator.arm.refusals``; the per-field sentence is
not published, so it states the spec's rule). Learn's row for these ("1-80 alphanumerics and
hyphens, start with a letter") is stricter than the spec and than Azure's own examples (API and
named value ids such as ``5600b57e7e8880006a040001``, starting with a digit, in
``ApiManagementCreateApiPolicy``): the emulator keeps the spec's rule, ``prmlab validate`` the
stricter Learn one (``orchestrator.spec.naming``), so a name validate accepts Azure accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from emulator.arm.errors import ArmError
from emulator.arm.ids import ArmAddress


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    min_len: int
    max_len: int
    words: str  # the rule, for the generic refusal


_APP = _Rule(re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?"), 2, 32, "")
_ENVIRONMENT = _Rule(re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?"), 2, 60, "")
_WORKSPACE = _Rule(re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"), 4, 63, "")
_GENERIC: Final[dict[str, _Rule]] = {
    "microsoft.managedidentity/userassignedidentities": _Rule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*"),
        3,
        128,
        "3-128 letters, digits, hyphens and underscores, starting with a letter or digit",
    ),
    "microsoft.containerregistry/registries": _Rule(
        re.compile(r"[A-Za-z0-9]+"), 5, 50, "5-50 letters and digits"
    ),
    "microsoft.insights/components": _Rule(
        re.compile(r"[^%&\\?/\x00-\x1f\x7f]*[^%&\\?/\x00-\x1f\x7f. ]"),
        1,
        260,
        "1-260 characters without % & \\ ? / or control characters, not ending with a space or period",
    ),
}


_APIM_CHARS = re.compile(r"[^*#&+:<>?]+")
# kind -> (path parameter, min length, max length, character rule?)
_APIM: Final[dict[str, tuple[str, int, int, bool]]] = {
    "microsoft.apimanagement/service/namedvalues": ("namedValueId", 1, 256, True),
    "microsoft.apimanagement/service/apis": ("apiId", 1, 256, True),
    "microsoft.apimanagement/service/backends": ("backendId", 1, 80, False),
    "microsoft.apimanagement/service/apis/operations": ("operationId", 1, 80, False),
}


def _apim_refusal(rule: tuple[str, int, int, bool], name: str) -> ArmError | None:
    param, low, high, chars = rule
    if not low <= len(name) <= high:
        problem = (
            f"'{param}' must be between {low} and {high} characters long; '{name[:300]}' has {len(name)}."
        )
    elif chars and _APIM_CHARS.fullmatch(name) is None:
        problem = f"'{param}' must not contain any of the characters * # & + : < > ?; '{name}' does."
    else:
        return None
    details = [{"code": "ValidationError", "target": param, "message": problem}]
    return ArmError(400, "ValidationError", "One or more fields contain incorrect values:", details)


def _fits(rule: _Rule, name: str) -> bool:
    return rule.min_len <= len(name) <= rule.max_len and rule.pattern.fullmatch(name) is not None


def refusal(addr: ArmAddress) -> ArmError | None:
    """The error Azure answers for creating ``addr`` under its name, or None (a valid name, or a
    type checked elsewhere)."""
    kind, name = addr.kind, addr.name
    if kind == "microsoft.app/containerapps":
        if _fits(_APP, name) and "--" not in name:
            return None
        return ArmError(
            400,
            "ContainerAppInvalidName",
            f"Invalid ContainerApp name '{name}'. A name must consist of lower case alphanumeric characters or "
            "'-', start with an alphabetic character, and end with an alphanumeric character and cannot have "
            "'--'. The length must not be more than 32 characters.",
        )
    if kind == "microsoft.app/managedenvironments":
        if _fits(_ENVIRONMENT, name) and "--" not in name:
            return None
        return ArmError(400, "ManagedEnvironmentInvalidName", f"The environment name {name} is invalid.")
    if kind == "microsoft.operationalinsights/workspaces":
        if _fits(_WORKSPACE, name):
            return None
        if not 4 <= len(name) <= 63:
            return ArmError(
                400, "InvalidParameter", "The workspace name must be between 4 and 63 characters."
            )
        return ArmError(
            400,
            "InvalidParameter",
            "Workspace name must start and end with an alphanumeric character, and may contain only "
            "alphanumeric and hyphen characters.",
        )
    apim = _APIM.get(kind)
    if apim is not None:
        return _apim_refusal(apim, name)
    rule = _GENERIC.get(kind)
    if rule is None or _fits(rule, name):
        return None
    return ArmError(
        400, "InvalidResourceName", f"Resource name {name} is invalid. The name must be {rule.words}."
    )
