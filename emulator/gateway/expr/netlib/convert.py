"""Conversions and argument checks shared by the .NET library of policy expressions.

``Convert.ToInt32``-style conversions, the ``Parse``/``TryParse`` family (``OutRef`` is an
``out`` argument), ``string.Format`` and ``ToString(format)``, and the small argument checks
every part of ``netlib`` uses (``require_number``, ``require_bytes``, ``out_of_range_arg``).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.values import (
    EvalError,
    NetEnum,
    argument_error,
    check_size,
    format_datetime,
    format_number,
    invalid_cast,
    parse_datetime,
    require_str,
    to_string,
    type_name,
)

Fn = Callable[..., Any]
EPOCH = datetime(1, 1, 1)
UNIX_EPOCH = datetime(1970, 1, 1)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ignore_case(comparison: object) -> bool:
    if comparison is None:
        return False
    if isinstance(comparison, NetEnum) and comparison.enum == "StringComparison":
        return comparison.name.endswith("IgnoreCase")
    if isinstance(comparison, bool):
        return comparison
    raise argument_error("The comparison must be a StringComparison value.")


def char_set(arg: object) -> str:
    if isinstance(arg, str):
        return arg
    if isinstance(arg, list):
        return "".join(require_str(c) for c in arg)
    raise argument_error("Expected a char or char[].")


def parse_int(text: object, kind: str = "Int32") -> int:
    s = require_str(text, "s").strip()
    if not re.fullmatch(r"[+-]?\d+", s):
        raise EvalError("FormatException", "The input string was not in a correct format.")
    value = int(s)
    limit = 2**31 if kind == "Int32" else 2**63
    if not -limit <= value < limit:
        raise EvalError("OverflowException", f"Value was either too large or too small for an {kind}.")
    return value


def parse_double(text: object) -> float:
    s = require_str(text, "s").strip()
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?Infinity|NaN", s):
        raise EvalError("FormatException", "The input string was not in a correct format.")
    return float(s)


def parse_bool(text: object) -> bool:
    s = require_str(text, "value").strip().lower()
    if s not in ("true", "false"):
        raise EvalError("FormatException", "String was not recognized as a valid Boolean.")
    return s == "true"


def try_parse(parse: Fn) -> Fn:
    def attempt(text: object, out: OutRef | None = None, *rest: object) -> bool:
        if out is None or not isinstance(out, OutRef):
            raise argument_error("TryParse needs an 'out' argument.")
        try:
            out.set(parse(text))
            return True
        except EvalError:
            out.set(_default_for(parse))
            return False

    return attempt


def _default_for(parse: Fn) -> Any:
    return {parse_int: 0, parse_double: 0.0, parse_bool: False, parse_datetime: EPOCH}.get(parse)


class OutRef:
    """An ``out`` argument: the callee sets it, the compiler writes it into the local."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, value: Any) -> None:
        self.value = value


def to_int32(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise EvalError("OverflowException", "Value was either too large or too small for an Int32.")
        return round(value)
    if isinstance(value, str):
        return parse_int(value)
    if isinstance(value, jm.JValue):
        return to_int32(value.value)
    raise invalid_cast(value, "System.Int32")


def to_double(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        return parse_double(value)
    if isinstance(value, jm.JValue):
        return to_double(value.value)
    raise invalid_cast(value, "System.Double")


def to_boolean(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return parse_bool(value)
    raise invalid_cast(value, "System.Boolean")


def from_base64(text: object) -> bytes:
    s = "".join(require_str(text, "s").split())
    try:
        if len(s) % 4:
            raise binascii.Error("length")
        return base64.b64decode(s, validate=True)
    except binascii.Error as exc:
        raise EvalError(
            "FormatException",
            "The input is not a valid Base-64 string as it contains a non-base 64 character, more than two padding characters, or an illegal character among the padding characters.",
        ) from exc


def require_bytes(value: object, what: str = "buffer") -> bytes:
    if isinstance(value, bytes):
        return value
    if value is None:
        raise EvalError("ArgumentNullException", f"Value cannot be null. (Parameter '{what}')")
    raise argument_error(f"The {what} must be a byte[], not '{type_name(value)}'.")


def string_format(fmt: object, *args: object) -> str:
    """``string.Format`` with ``{0}``, ``{0:F2}``, ``{{`` escapes."""
    text = require_str(fmt, "format")
    values = list(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "{":
            if text.startswith("{{", i):
                out.append("{")
                i += 2
                continue
            end = text.find("}", i)
            if end < 0:
                raise EvalError("FormatException", "Input string was not in a correct format.")
            spec = text[i + 1 : end]
            index_text, _, fmt_part = spec.partition(":")
            index_text, _, align = index_text.partition(",")
            if not index_text.strip().isdigit() or int(index_text) >= len(values):
                raise EvalError(
                    "FormatException",
                    "Index (zero based) must be greater than or equal to zero and less than the size of the argument list.",
                )
            piece = format_value(values[int(index_text)], fmt_part or None)
            if align.strip():
                width = int(align)
                piece = piece.rjust(width) if width > 0 else piece.ljust(-width)
            out.append(piece)
            i = end + 1
            continue
        if c == "}":
            if text.startswith("}}", i):
                out.append("}")
                i += 2
                continue
            raise EvalError("FormatException", "Input string was not in a correct format.")
        out.append(c)
        i += 1
    return check_size("".join(out))


def format_value(value: object, fmt: str | None) -> str:
    """A value formatted as in an interpolation hole or ``ToString(format)``."""
    if fmt is None:
        return to_string(value)
    if isinstance(value, bool):
        return to_string(value)
    if isinstance(value, int | float):
        return format_number(value, fmt)
    if isinstance(value, datetime):
        return format_datetime(value, fmt)
    if isinstance(value, uuid.UUID):
        return guid_string(value, fmt)
    return to_string(value)


def guid_string(g: uuid.UUID, fmt: object = None) -> str:
    f = "D" if fmt in (None, "") else require_str(fmt, "format")
    if f in ("D", "d"):
        return str(g)
    if f in ("N", "n"):
        return g.hex
    if f in ("B", "b"):
        return "{" + str(g) + "}"
    if f in ("P", "p"):
        return "(" + str(g) + ")"
    raise EvalError(
        "FormatException", 'Format string can be only "D", "d", "N", "n", "P", "p", "B", "b", "X" or "x".'
    )


def string_compare(a: object, b: object, comparison: object = None) -> int:
    x, y = to_string(a), to_string(b)
    if ignore_case(comparison):
        x, y = x.lower(), y.lower()
    return (x > y) - (x < y)


def require_number(x: object) -> int | float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise argument_error(f"Expected a number, not '{type_name(x)}'.")
    return x


def out_of_range_arg(name: str) -> EvalError:
    return EvalError(
        "ArgumentOutOfRangeException",
        f"Specified argument was out of the range of valid values. (Parameter '{name}')",
    )
