"""What a policy template may be given, and how each kind of value is written into XML.

Sits between the reconcile engine (which resolves lab.yaml's references and named-value
tokens) and the Jinja environment (``environment.py``). A template variable is one of:

* a literal: ``str``, ``int``, ``float``, ``bool``, or a list / mapping of those;
* an already-resolved reference value (a literal, as above);
* a :class:`NamedValueRef` — an APIM named value, written into the XML as ``{{Name}}`` so
  that APIM substitutes it;
* :data:`orchestrator.resource.UNKNOWN` — a value known only after apply (dry-run plans,
  ``prmlab render``), written as ``(known after apply)``;
* ``None`` — means "not given": the variable is left undefined (optional variables are
  tested with ``is defined`` in the template; a required one then fails as undefined).

Literals are refused (by variable name) when APIM would read them as something else: ``{{``
or ``}}`` (a named-value reference), a leading ``@(`` / ``@{`` (a C# policy expression),
control characters (header injection), or a ``Secret`` (secrets go through secret named
values, never into policy XML).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.resource import UNKNOWN, Secret

KNOWN_AFTER_APPLY = "(known after apply)"

# APIM named-value display names: letters, digits, '.', '-', '_' (at most 256 characters).
_NAMED_VALUE_NAME = re.compile(r"[A-Za-z0-9._-]{1,256}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class NamedValueRef:
    """A reference to an APIM named value; renders as ``{{Name}}`` for APIM to substitute."""

    name: str

    def __post_init__(self) -> None:
        if not _NAMED_VALUE_NAME.fullmatch(self.name):
            raise ValueError(
                f"{self.name!r} is not a valid APIM named value name "
                "(letters, digits, '.', '-', '_'; at most 256 characters)"
            )

    @property
    def token(self) -> str:
        return "{{" + self.name + "}}"

    def __str__(self) -> str:
        return self.token

    def __html__(self) -> str:
        # The name is restricted to characters that need no XML escaping.
        return self.token


def is_named_value_name(name: str) -> bool:
    """True when ``name`` is a valid APIM named-value name."""
    return _NAMED_VALUE_NAME.fullmatch(name) is not None


def is_unknown(value: object) -> bool:
    return value is UNKNOWN


class ValueRefusedError(Exception):
    """A variable value cannot be written into policy XML (message names the variable)."""


def check_variables(variables: Mapping[str, object]) -> dict[str, object]:
    """Drop ``None`` values and refuse values APIM would misread; returns the checked mapping."""
    checked: dict[str, object] = {}
    for name, value in variables.items():
        if value is None:
            continue
        _check_value(name, value)
        checked[name] = value
    return checked


def _check_value(where: str, value: object) -> None:
    if value is UNKNOWN or isinstance(value, NamedValueRef | bool | int | float):
        return
    if isinstance(value, Secret):
        raise ValueRefusedError(
            f"variable {where!r} is a secret: reference it through a secret named value "
            "({named_value: Name}); secrets are never written into policy XML"
        )
    if isinstance(value, str):
        _check_string(where, value)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if item is None:
                raise ValueRefusedError(f"variable '{where}[{index}]' is null")
            _check_value(f"{where}[{index}]", item)
        return
    if isinstance(value, Mapping):
        if "named_value" in value or "ref" in value:
            raise ValueRefusedError(
                f"variable {where!r} is an unconverted lab.yaml token or reference ({dict(value)!r}); "
                "convert it with orchestrator.render.policy_variables (named values become NamedValueRef, "
                "references their resolved value)"
            )
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueRefusedError(f"variable {where!r} has a non-string key {key!r}")
            _check_string(f"{where}.{key}", key)
            if item is None:
                raise ValueRefusedError(f"variable '{where}.{key}' is null")
            _check_value(f"{where}.{key}", item)
        return
    raise ValueRefusedError(
        f"variable {where!r} has unsupported type {type(value).__name__} "
        "(expected a string, number, boolean, list, mapping or a named-value token)"
    )


def _check_string(where: str, value: str) -> None:
    if "{{" in value or "}}" in value:
        raise ValueRefusedError(
            f"variable {where!r} contains '{{{{' or '}}}}', which APIM would read as a named-value "
            "reference; to reference a named value use a named-value token ({named_value: Name})"
        )
    if value.startswith(("@(", "@{")):
        raise ValueRefusedError(
            f"variable {where!r} starts with '@(' or '@{{', which APIM would run as a policy expression"
        )
    if _CONTROL.search(value):
        raise ValueRefusedError(f"variable {where!r} contains a control character (newline, tab, ...)")


def finalize(value: Any) -> Any:
    """Jinja ``finalize``: how a value printed by ``[[ ... ]]`` becomes text (before escaping)."""
    if value is UNKNOWN:
        return KNOWN_AFTER_APPLY
    if isinstance(value, NamedValueRef):
        return value  # autoescape calls __html__: {{Name}} as is
    if isinstance(value, bool):
        # APIM attributes are lower-case booleans ("true"/"false"), not Python's "True".
        return "true" if value else "false"
    if value is None:
        raise ValueRefusedError("a template printed a null value")
    if isinstance(value, Secret):
        raise ValueRefusedError("a template printed a secret value")
    return value
