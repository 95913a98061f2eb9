"""Azure's naming rules for every resource a lab creates, and the lab's derived global names (pure).

Part of the spec. ``models`` gives every Azure name field (and every map key that becomes an Azure
name) ``name_check(kind)`` and ``name_schema(kind)``, so ``prmlab validate`` refuses a name Azure would
refuse, at its line and column, saying which rule it breaks; the JSON Schema carries the same
rule as ``minLength`` / ``maxLength`` / ``pattern``. The engine fills the global names lab.yaml
leaves out with ``default_name`` (``spec.defaults``).

The rules: Learn, "Naming rules and restrictions for Azure resources"
(https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules), one
row per resource type (the anchor is the namespace, e.g. ``#microsoftapp``); where the provider's
REST spec (``emulator/contracts/specs``) states a pattern it agrees (storage account
``^[a-z0-9]+$`` 3-24, registry ``^[a-zA-Z0-9]*$`` 5-50, table ``^[A-Za-z][A-Za-z0-9]{2,62}$``,
resource group ``^[-\\w\\._\\(\\)]+$`` 1-90). Consecutive hyphens: Learn's Microsoft.App row
does not list it, Container Apps refuses it ("cannot have '--'", its name rule as
PSRule.Rules.Azure ``Azure.ContainerApp.Name`` quotes it: "Can not contain consecutive hyphens").

Global names (``RULES[...].scope == "global"``): API Management services, container registries and
storage accounts are DNS names (``<name>.azure-api.net``, ``<name>.azurecr.io``,
``<name>.table.core.windows.net``), unique across all of Azure. A lab that omits one gets
``default_name``: a readable prefix from the lab's name and ``unique_string(subscription,
resource group, lab)`` — 13 characters, as Bicep's ``uniqueString(subscription().subscriptionId,
resourceGroup().name, ...)`` gives, but documented here: the first 13 base-32 digits (a-z, 2-7)
of the SHA-256 of the ``/``-joined, lower-cased parts. Stable for the same subscription, group and
lab; different for anyone else's.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pydantic import AfterValidator, WithJsonSchema

LEARN: Final = "https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"


@dataclass(frozen=True, slots=True)
class NameRule:
    """One row of Learn's table."""

    what: str  # "a container app name"
    anchor: str  # Learn's section: microsoftapp, microsoftstorage, ...
    scope: str  # "global", "resource group", "service", "storage account", "subscription"
    min_len: int
    max_len: int
    chars: str  # a regex character class body of the allowed characters
    chars_words: str
    start: str | None = None  # class body the first character must be in
    start_words: str = ""
    end: str | None = None  # class body the last character must be in
    end_words: str = ""
    no_double_hyphen: bool = False
    no_trailing: str = ""  # characters a name may not end with (resource group: '.')
    unicode_letters: bool = False  # letters and digits as .NET's Char.IsLetterOrDigit (resource groups)

    @property
    def source(self) -> str:
        return f"{LEARN}#{self.anchor}"

    def pattern(self) -> str:
        """The whole rule as one (ECMA-compatible) regex, for the JSON Schema."""
        body = f"[{self.chars}]"
        head = "(?!.*--)" if self.no_double_hyphen else ""
        if self.start is None and self.end is None:
            core = f"{body}{{{self.min_len},{self.max_len}}}"
        else:
            first = f"[{self.start}]" if self.start else body
            last = f"[{self.end}]" if self.end else body
            middle_max = max(self.max_len - 2, 0)
            middle_min = max(self.min_len - 2, 0)
            single = first if self.min_len <= 1 else None
            core = f"{first}{body}{{{middle_min},{middle_max}}}{last}"
            if single is not None:
                core = f"(?:{single}|{core})"
        tail = f"(?<![{_class_escape(self.no_trailing)}])" if self.no_trailing else ""
        return f"^{head}{core}{tail}$"


def _class_escape(chars: str) -> str:
    """``chars`` as members of a regex character class, valid in Python and in ECMAScript's ``u``
    mode (VS Code's YAML extension compiles the schema's patterns so): only the characters that
    mean something inside a class are escaped - ``re.escape`` also escapes a space, and ``\\ `` is
    an invalid escape under ``u``."""
    return "".join(f"\\{c}" if c in "\\]^-[" else c for c in chars)


_ALNUM = "A-Za-z0-9"
_LETTER = "A-Za-z"

RULES: Final[dict[str, NameRule]] = {
    # Microsoft.Resources/resourcegroups: 1-90; underscores, hyphens, periods, parentheses and
    # letters or digits (Char.IsLetterOrDigit); can't end with period.
    "resource_group": NameRule(
        "a resource group name", "microsoftresources", "subscription", 1, 90,
        r"_.()-", "letters, digits, '_', '-', '.', '(' and ')'",
        no_trailing=".", unicode_letters=True,
    ),
    # Microsoft.ManagedIdentity/userAssignedIdentities: 3-128; alphanumerics, hyphens and
    # underscores; start with letter or number.
    "managed_identity": NameRule(
        "a user-assigned identity name", "microsoftmanagedidentity", "resource group", 3, 128,
        f"{_ALNUM}_-", "letters, digits, '-' and '_'",
        start=_ALNUM, start_words="a letter or digit",
    ),
    # Microsoft.OperationalInsights/workspaces: 4-63; alphanumerics and hyphens; start and end
    # with alphanumeric.
    "log_analytics_workspace": NameRule(
        "a Log Analytics workspace name", "microsoftoperationalinsights", "resource group", 4, 63,
        f"{_ALNUM}-", "letters, digits and '-'",
        start=_ALNUM, start_words="a letter or digit", end=_ALNUM, end_words="a letter or digit",
    ),
    # Microsoft.Insights/components: 1-260; can't use %&\?/ or control characters; can't end with
    # space or period.
    "app_insights": NameRule(
        "an Application Insights component name", "microsoftinsights", "resource group", 1, 260,
        r"^%&\\?/\x00-\x1f\x7f", "any character except % & \\ ? / and control characters",
        no_trailing=" .",
    ),
    # Microsoft.ApiManagement/service: global, 1-50; alphanumerics and hyphens; start with letter
    # and end with alphanumeric.
    "apim_service": NameRule(
        "an API Management service name", "microsoftapimanagement", "global", 1, 50,
        f"{_ALNUM}-", "letters, digits and '-'",
        start=_LETTER, start_words="a letter", end=_ALNUM, end_words="a letter or digit",
    ),
    # Microsoft.ApiManagement service / apis, apis / operations, backends, loggers, properties
    # (named values), products, subscriptions: 1-80; alphanumerics and hyphens; start with letter,
    # end with alphanumeric.
    **{
        kind: NameRule(
            what, "microsoftapimanagement", "service", 1, 80,
            f"{_ALNUM}-", "letters, digits and '-'",
            start=_LETTER, start_words="a letter", end=_ALNUM, end_words="a letter or digit",
        )
        for kind, what in (
            ("apim_api", "an API name"),
            ("apim_operation", "an API operation name"),
            ("apim_backend", "an APIM backend name"),
            ("apim_logger", "an APIM logger name"),
            ("apim_named_value", "an APIM named value name"),
            ("apim_product", "an APIM product name"),
            ("apim_subscription", "an APIM subscription name"),
        )
    },
    # Microsoft.ContainerRegistry/registries: global, 5-50, alphanumerics.
    "container_registry": NameRule(
        "a container registry name", "microsoftcontainerregistry", "global", 5, 50,
        _ALNUM, "letters and digits",
    ),
    # Microsoft.App/containerApps: 2-32; lowercase letters, numbers and hyphens; start with letter
    # and end with alphanumeric; no '--'.
    "container_app": NameRule(
        "a container app name", "microsoftapp", "resource group", 2, 32,
        "a-z0-9-", "lower-case letters, digits and '-'",
        start="a-z", start_words="a lower-case letter", end="a-z0-9", end_words="a lower-case letter or digit",
        no_double_hyphen=True,
    ),
    # Microsoft.App/managedEnvironments: 2-60; as container apps (Container Apps' own rule for an
    # environment: lower case alphanumerics or '-', start with a letter, end alphanumeric, no '--').
    "container_environment": NameRule(
        "a Container Apps environment name", "microsoftapp", "resource group", 2, 60,
        "a-z0-9-", "lower-case letters, digits and '-'",
        start="a-z", start_words="a lower-case letter", end="a-z0-9", end_words="a lower-case letter or digit",
        no_double_hyphen=True,
    ),
    # Microsoft.Storage/storageAccounts: global, 3-24, lowercase letters and numbers.
    "storage_account": NameRule(
        "a storage account name", "microsoftstorage", "global", 3, 24, "a-z0-9", "lower-case letters and digits",
    ),
    # Microsoft.Storage table: 3-63; alphanumerics; start with letter.
    "storage_table": NameRule(
        "a table name", "microsoftstorage", "storage account", 3, 63, _ALNUM, "letters and digits",
        start=_LETTER, start_words="a letter",
    ),
}  # fmt: skip

GLOBAL_KINDS: Final = tuple(k for k, r in RULES.items() if r.scope == "global")


# .NET's Char.IsLetterOrDigit: these Unicode categories (Learn's resource group row lists them)
_LETTER_OR_DIGIT: Final = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd"})


def _allowed(rule: NameRule, ch: str) -> bool:
    if rule.unicode_letters and unicodedata.category(ch) in _LETTER_OR_DIGIT:
        return True
    return re.fullmatch(f"[{rule.chars}]", ch, flags=re.ASCII) is not None


def problems(rule: NameRule, name: str) -> list[str]:
    """Every part of ``rule`` that ``name`` breaks, in words (empty: the name is valid)."""
    found: list[str] = []
    if not rule.min_len <= len(name) <= rule.max_len:
        found.append(f"is {len(name)} characters long (allowed: {rule.min_len}-{rule.max_len})")
    bad = sorted({ch for ch in name if not _allowed(rule, ch)})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad[:5])
        found.append(f"has {shown} (allowed: {rule.chars_words})")
    if name and rule.start and not re.fullmatch(f"[{rule.start}]", name[0]):
        found.append(f"must start with {rule.start_words}")
    if name and rule.end and not re.fullmatch(f"[{rule.end}]", name[-1]):
        found.append(f"must end with {rule.end_words}")
    if rule.no_double_hyphen and "--" in name:
        found.append("must not contain '--'")
    if name and rule.no_trailing and name[-1] in rule.no_trailing:
        found.append(f"must not end with {' or '.join(repr(c) for c in rule.no_trailing)}")
    return found


def explain(kind: str, name: str) -> str | None:
    """One sentence for a name Azure refuses, naming the rule and its source; None when valid."""
    rule = RULES[kind]
    found = problems(rule, name)
    if not found:
        return None
    return f"{rule.what} {'; '.join(found)} (Azure's naming rules: {rule.source})"


def _validator(kind: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        message = explain(kind, value)
        if message is not None:
            raise ValueError(message)
        return value

    return check


def name_check(kind: str) -> AfterValidator:
    """Pydantic metadata: refuse a name Azure refuses for ``kind``, saying why (``explain``)."""
    return AfterValidator(_validator(kind))


def name_schema(kind: str) -> WithJsonSchema:
    """Pydantic metadata: the JSON Schema of ``kind``'s names (length, pattern, description)."""
    rule = RULES[kind]
    schema: dict[str, Any] = {
        "type": "string",
        "minLength": rule.min_len,
        "maxLength": rule.max_len,
        "description": f"{rule.what[0].upper()}{rule.what[1:]}: {rule.min_len}-{rule.max_len} {rule.chars_words}"
        + (f", starting with {rule.start_words}" if rule.start else "")
        + (f", ending with {rule.end_words}" if rule.end else "")
        + (", no '--'" if rule.no_double_hyphen else "")
        + f" ({rule.source})",
    }
    if not rule.unicode_letters:
        schema["pattern"] = rule.pattern()
    return WithJsonSchema(schema)


# ------------------------------------------------------------------ derived global names


def unique_string(*parts: str) -> str:
    """13 lower-case base-32 characters (a-z, 2-7), stable for the same ``parts`` (compared
    without case, as Azure compares ids)."""
    digest = hashlib.sha256("/".join(p.lower() for p in parts).encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:13]


def _slug(text: str, allowed: str) -> str:
    return "".join(ch for ch in text.lower() if re.fullmatch(f"[{allowed}]", ch))


def default_name(kind: str, lab: str, uniq: str) -> str:
    """The global name a lab gets when lab.yaml leaves it out: a prefix of the kind (``apim-``,
    ``cr``, ``st``), the lab's name as far as it fits, and ``uniq`` (``unique_string``)."""
    rule = RULES[kind]
    if kind == "apim_service":
        room = rule.max_len - len("apim--") - len(uniq)
        stem = re.sub(r"-{2,}", "-", _slug(lab, "a-z0-9-")).strip("-")[:room].strip("-")
        name = f"apim-{stem}-{uniq}" if stem else f"apim-{uniq}"
    elif kind == "container_registry":
        room = rule.max_len - len("cr") - len(uniq)
        name = f"cr{_slug(lab, 'a-z0-9')[:room]}{uniq}"
    elif kind == "storage_account":
        room = rule.max_len - len("st") - len(uniq)
        name = f"st{_slug(lab, 'a-z0-9')[:room]}{uniq}"
    else:
        raise KeyError(f"{kind} is not a global name")
    assert explain(kind, name) is None, name
    return name
