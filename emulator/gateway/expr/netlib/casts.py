"""Casts and type tests of policy expressions: ``(T)x``, ``x is T``, ``x as T``.

The built-in types (``string``, ``int``, ``DateTime``, …, with their .NET aliases) are checked
here; a library or context-model class is castable when it says so (``NET_CASTABLE``) and is
named by its ``NET_TYPE`` (``JObject``, ``Jwt``, ``Uri``, ``IResponse``, …). Which names the
PUT-time check accepts is ``expr.surface.CASTABLE``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.values import Char, EvalError, NetObject, invalid_cast, null_reference

_BUILT_IN: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str) and not isinstance(v, Char),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, float),
    "bool": lambda v: isinstance(v, bool),
    "char": lambda v: isinstance(v, Char),
    "object": lambda v: v is not None,
    "DateTime": lambda v: isinstance(v, datetime),
    "TimeSpan": lambda v: isinstance(v, timedelta),
    "Guid": lambda v: isinstance(v, uuid.UUID),
}
_ALIASES = {
    "String": "string", "Int32": "int", "Int64": "long", "Double": "double", "float": "double", "Single": "double",
    "decimal": "double", "Decimal": "double", "Boolean": "bool", "Object": "object", "Char": "char", "byte": "int",
}  # fmt: skip
BUILT_IN_NAMES = frozenset(_BUILT_IN) | frozenset(_ALIASES) | {"byte[]", "string[]"}


def declares(value: object, name: str) -> bool:
    """True when ``value`` is of a castable class that is (or derives from) the type ``name``."""
    if not isinstance(value, NetObject) or not type(value).NET_CASTABLE:
        return False
    return any(cls.__dict__.get("NET_TYPE") == name for cls in type(value).__mro__)


def _check(value: object, name: str) -> bool:
    check = _BUILT_IN.get(name)
    return check(value) if check is not None else declares(value, name)


def canonical(name: str) -> str:
    return _ALIASES.get(name, name)


def is_type(value: object, name: str, array: bool = False) -> bool:
    if array:
        if name == "byte":
            return isinstance(value, bytes)
        return isinstance(value, list)
    return _check(value, canonical(name))


def cast(value: object, name: str, array: bool = False, nullable: bool = False) -> Any:
    """An explicit C# cast ``(T)value``."""
    t = canonical(name)
    if array:
        if name == "byte" and isinstance(value, bytes):
            return value
        if value is None or isinstance(value, list):
            return value
        raise invalid_cast(value, f"{name}[]")
    if isinstance(value, jm.JToken) and t not in ("JToken", "object"):
        return jm.convert_token(value, t)
    if value is None:
        if t in ("int", "long", "double", "bool", "char", "DateTime", "TimeSpan", "Guid") and not nullable:
            raise null_reference()
        return None
    if t == "object":
        return value
    if t in ("int", "long"):
        if isinstance(value, bool):
            raise invalid_cast(value, name)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                return -(2**31)
            return int(value)
        if isinstance(value, Char):
            return ord(value)
        raise invalid_cast(value, name)
    if t == "double":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise invalid_cast(value, name)
    if t == "char" and isinstance(value, int) and not isinstance(value, bool):
        try:
            return Char(chr(value))
        except (ValueError, OverflowError) as exc:
            raise EvalError(
                "OverflowException", "Value was either too large or too small for a character."
            ) from exc
    if _check(value, t):
        return value
    if t == "string" and isinstance(value, Char):
        raise invalid_cast(value, name)
    raise invalid_cast(value, name)
