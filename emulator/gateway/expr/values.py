"""Runtime values of policy expressions: .NET semantics over Python values.

Mapping: string -> ``str``, char -> ``Char`` (a one-letter ``str``), int/long -> ``int``,
double/decimal -> ``float``, bool -> ``bool``, byte[] -> ``bytes``, arrays/lists -> ``list``,
DateTime -> naive UTC ``datetime``, TimeSpan -> ``timedelta``, Guid -> ``UUID``, null -> ``None``.
Objects of the context model and of the supported .NET library derive from ``NetObject``
and declare what expressions may touch (``NET_PROPS`` / ``NET_METHODS``): nothing else of the
Python object is reachable. ``EvalError`` is the .NET exception an evaluation raises; the
policy engine turns it into ``context.LastError`` and runs ``on-error``.
"""

from __future__ import annotations

import email.utils
import math
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

MAX_STRING = 4 * 1024 * 1024  # keeps a hostile expression from exhausting memory


class EvalError(Exception):
    """A .NET exception raised while evaluating an expression (``type_name``: e.g. NullReferenceException)."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message


def null_reference() -> EvalError:
    return EvalError("NullReferenceException", "Object reference not set to an instance of an object.")


def invalid_cast(value: object, target: str) -> EvalError:
    return EvalError(
        "InvalidCastException", f"Unable to cast object of type '{type_name(value)}' to type '{target}'."
    )


def argument_error(message: str) -> EvalError:
    return EvalError("ArgumentException", message)


def check_size(text: str) -> str:
    if len(text) > MAX_STRING:
        raise EvalError("OutOfMemoryException", "The string is longer than the local gateway allows.")
    return text


class Char(str):
    """A C# ``char`` (a one-letter string that knows it is a char)."""

    __slots__ = ()


def invoke(
    fn: Callable[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
    targs: tuple[str, ...],
    method: str,
    arity: int | None = None,
) -> Any:
    """Call the function behind a .NET method (``method`` names it in the error, with ``arity``
    arguments, default ``len(args)``): generic type arguments go in as ``_targs``; a call Python
    cannot bind is .NET's ``MissingMethodException``."""
    if targs:
        kwargs = {**kwargs, "_targs": targs}
    try:
        return fn(*args, **kwargs)
    except TypeError as exc:
        count = len(args) if arity is None else arity
        raise EvalError(
            "MissingMethodException", f"No overload for method {method} takes these {count} arguments."
        ) from exc


class NetObject:
    """Base of every object expressions may use; only the declared members are reachable."""

    NET_TYPE: ClassVar[str] = "Object"
    NET_PROPS: ClassVar[frozenset[str]] = frozenset()
    NET_METHODS: ClassVar[frozenset[str]] = frozenset()
    # ``(T)x`` / ``x is T`` / ``x as T`` may name this class's ``NET_TYPE`` (``netlib.casts``)
    NET_CASTABLE: ClassVar[bool] = False

    def net_get(self, name: str) -> Any:
        if name in self.NET_PROPS:
            return getattr(self, name)
        raise EvalError(
            "MissingMemberException", f"'{self.NET_TYPE}' does not contain a definition for '{name}'."
        )

    def net_call(self, name: str, args: list[Any], kwargs: dict[str, Any], targs: tuple[str, ...]) -> Any:
        if name in self.NET_METHODS:
            return invoke(getattr(self, "m_" + name), args, kwargs, targs, f"'{name}' of '{self.NET_TYPE}'")
        if name == "ToString" and not args:
            return to_string(self)
        if name == "GetType" and not args:
            return self.NET_TYPE
        if name == "Equals" and len(args) == 1:
            return equals(self, args[0])
        raise EvalError("MissingMethodException", f"'{self.NET_TYPE}' does not contain a method '{name}'.")

    def net_str(self) -> str:
        return self.NET_TYPE

    def net_iter(self) -> Iterable[Any]:
        raise EvalError("InvalidOperationException", f"'{self.NET_TYPE}' is not enumerable.")

    def net_index(self, key: Any) -> Any:
        raise EvalError("InvalidOperationException", f"Cannot apply indexing to '{self.NET_TYPE}'.")

    def net_set_index(self, key: Any, value: Any) -> None:
        raise EvalError(
            "InvalidOperationException", f"'{self.NET_TYPE}' cannot be assigned through an indexer."
        )

    def net_set(self, name: str, value: Any) -> None:
        raise EvalError(
            "InvalidOperationException", f"Property '{self.NET_TYPE}.{name}' cannot be assigned to."
        )


class NetEnum(NetObject):
    """A value of a .NET enum (``StringComparison.OrdinalIgnoreCase``)."""

    def __init__(self, enum: str, name: str) -> None:
        self.enum = enum
        self.name = name
        self.NET_TYPE = enum  # type: ignore[misc]  # instance-level type name for messages

    def net_str(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NetEnum) and other.enum == self.enum and other.name == self.name

    def __hash__(self) -> int:
        return hash((self.enum, self.name))


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, Char):
        return "System.Char"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, int):
        return "System.Int32" if -(2**31) <= value < 2**31 else "System.Int64"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, bytes):
        return "System.Byte[]"
    if isinstance(value, list | tuple):
        return "System.Object[]"
    if isinstance(value, datetime):
        return "System.DateTime"
    if isinstance(value, timedelta):
        return "System.TimeSpan"
    if isinstance(value, uuid.UUID):
        return "System.Guid"
    if isinstance(value, NetObject):
        return value.NET_TYPE
    return "System.Object"


# ---- number and date formatting ---------------------------------------------------------------


def format_double(x: float) -> str:
    """``double.ToString()`` (shortest round-trip, .NET Core 3.0+)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    text = repr(x)
    if "e" in text:
        mant, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        digits = exp.lstrip("+-").rjust(2, "0")
        mant = mant[:-2] if mant.endswith(".0") else mant
        return f"{mant}E{sign}{digits}"
    return text


def _round_half_away(x: float, decimals: int) -> float:
    factor = 10**decimals
    return float(math.floor(abs(x) * factor + 0.5) / factor * (1 if x >= 0 else -1))


def format_number(value: int | float, fmt: str) -> str:
    """Standard numeric format strings: D, F, N, X, P, E, G, R and '0.00'-style custom ones."""
    if not fmt:
        return to_string(value)
    spec, digits_text = fmt[0], fmt[1:]
    if digits_text.isdigit() or digits_text == "":
        digits = int(digits_text) if digits_text else None
        up = spec.upper()
        if up == "D":
            if not isinstance(value, int):
                raise EvalError("FormatException", "Format specifier was invalid.")
            sign = "-" if value < 0 else ""
            return sign + str(abs(value)).rjust(digits or 0, "0")
        if up == "X":
            if not isinstance(value, int):
                raise EvalError("FormatException", "Format specifier was invalid.")
            text = format(value & 0xFFFFFFFF if value < 0 else value, "x").rjust(digits or 0, "0")
            return text.upper() if spec == "X" else text
        if up == "F":
            d = 2 if digits is None else digits
            return f"{_round_half_away(float(value), d):.{d}f}"
        if up == "N":
            d = 2 if digits is None else digits
            return f"{_round_half_away(float(value), d):,.{d}f}"
        if up == "P":
            d = 2 if digits is None else digits
            return f"{_round_half_away(float(value) * 100, d):,.{d}f} %"
        if up == "E":
            d = 6 if digits is None else digits
            mant, exp = f"{float(value):.{d}e}".split("e")
            return f"{mant}{'E' if spec == 'E' else 'e'}{exp[0]}{exp[1:].rjust(3, '0')}"
        if up in ("G", "R"):
            return to_string(value)
    if set(fmt) <= set("0#.,"):
        decimals = len(fmt.split(".", 1)[1]) if "." in fmt else 0
        min_decimals = fmt.split(".", 1)[1].count("0") if "." in fmt else 0
        text = f"{_round_half_away(float(value), decimals):.{decimals}f}"
        if decimals > min_decimals:
            whole, _, frac = text.partition(".")
            frac = frac.rstrip("0").ljust(min_decimals, "0")
            text = whole + ("." + frac if frac else "")
        int_zeros = fmt.split(".", 1)[0].count("0")
        whole, dot, frac = text.partition(".")
        neg = whole.startswith("-")
        whole = whole.lstrip("-").rjust(int_zeros, "0")
        if int_zeros == 0 and whole == "0":
            whole = ""
        if "," in fmt.split(".", 1)[0]:
            whole = f"{int(whole or '0'):,}"
        return ("-" if neg else "") + whole + dot + frac
    raise EvalError("FormatException", f"Format string '{fmt}' is not supported by the local gateway.")


_DT_TOKENS = (
    ("yyyy", lambda d: f"{d.year:04d}"),
    ("yy", lambda d: f"{d.year % 100:02d}"),
    ("MMMM", lambda d: d.strftime("%B")),
    ("MMM", lambda d: d.strftime("%b")),
    ("MM", lambda d: f"{d.month:02d}"),
    ("M", lambda d: str(d.month)),
    ("dddd", lambda d: d.strftime("%A")),
    ("ddd", lambda d: d.strftime("%a")),
    ("dd", lambda d: f"{d.day:02d}"),
    ("d", lambda d: str(d.day)),
    ("HH", lambda d: f"{d.hour:02d}"),
    ("H", lambda d: str(d.hour)),
    ("hh", lambda d: f"{(d.hour % 12) or 12:02d}"),
    ("h", lambda d: str((d.hour % 12) or 12)),
    ("mm", lambda d: f"{d.minute:02d}"),
    ("m", lambda d: str(d.minute)),
    ("ss", lambda d: f"{d.second:02d}"),
    ("s", lambda d: str(d.second)),
    ("fffffff", lambda d: f"{d.microsecond:06d}0"),
    ("ffffff", lambda d: f"{d.microsecond:06d}"),
    ("fffff", lambda d: f"{d.microsecond:06d}"[:5]),
    ("ffff", lambda d: f"{d.microsecond:06d}"[:4]),
    ("fff", lambda d: f"{d.microsecond:06d}"[:3]),
    ("ff", lambda d: f"{d.microsecond:06d}"[:2]),
    ("f", lambda d: f"{d.microsecond:06d}"[:1]),
    ("tt", lambda d: "AM" if d.hour < 12 else "PM"),
    ("K", lambda d: "Z"),
    ("zzz", lambda d: "+00:00"),
)


def format_datetime(d: datetime, fmt: str | None) -> str:
    """``DateTime.ToString(format)`` with the invariant culture (UTC kind)."""
    if not fmt:
        return f"{d.month:02d}/{d.day:02d}/{d.year:04d} {d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    if fmt in ("o", "O"):
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond:06d}0Z"
    if fmt in ("r", "R"):
        return d.strftime("%a, %d %b %Y %H:%M:%S GMT")
    if fmt == "s":
        return d.strftime("%Y-%m-%dT%H:%M:%S")
    if fmt == "u":
        return d.strftime("%Y-%m-%d %H:%M:%SZ")
    if fmt == "d":
        return f"{d.month:02d}/{d.day:02d}/{d.year:04d}"
    if fmt == "D":
        return d.strftime("%A, %d %B %Y")
    if fmt == "t":
        return f"{d.hour:02d}:{d.minute:02d}"
    if fmt == "T":
        return f"{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    out: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c in "'\"":
            end = fmt.find(c, i + 1)
            if end < 0:
                raise EvalError("FormatException", "Cannot find a matching quote character.")
            out.append(fmt[i + 1 : end])
            i = end + 1
            continue
        if c == "\\" and i + 1 < len(fmt):
            out.append(fmt[i + 1])
            i += 2
            continue
        for tok, fn in _DT_TOKENS:
            if fmt.startswith(tok, i):
                out.append(fn(d))
                i += len(tok)
                break
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_datetime(text: str) -> datetime:
    s = text.strip()
    try:
        value = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = email.utils.parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError):
            for fmt in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%Y/%m/%d", "%m/%d/%Y %I:%M:%S %p"):
                try:
                    value = datetime.strptime(s, fmt)
                    break
                except ValueError:
                    continue
            else:
                raise EvalError(
                    "FormatException", f"String '{text}' was not recognized as a valid DateTime."
                ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def format_timespan(t: timedelta) -> str:
    total_us = t.days * 86_400_000_000 + t.seconds * 1_000_000 + t.microseconds
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    days, rem = divmod(total_us, 86_400_000_000)
    hours, rem = divmod(rem, 3_600_000_000)
    minutes, rem = divmod(rem, 60_000_000)
    seconds, micro = divmod(rem, 1_000_000)
    text = f"{sign}{str(days) + '.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    if micro:
        text += f".{micro:06d}0"
    return text


def to_string(value: object) -> str:
    """``Convert.ToString`` / ``ToString()`` / string concatenation of a value (null -> "")."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_double(value)
    if isinstance(value, NetObject):
        return value.net_str()
    if isinstance(value, datetime):
        return format_datetime(value, None)
    if isinstance(value, timedelta):
        return format_timespan(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return "System.Byte[]"
    if isinstance(value, list | tuple):
        return "System.String[]" if all(isinstance(v, str) for v in value) else "System.Object[]"
    return "System.Object"


def equals(a: object, b: object) -> bool:
    """C# ``==`` (value equality for primitives, strings, dates; reference equality for objects)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return str.__eq__(a, b)
    if isinstance(a, datetime | timedelta | uuid.UUID | bytes | NetEnum) and type(a) is type(b):
        return bool(a == b) if not isinstance(a, bytes) else a is b
    return a is b


def require_bool(value: object, what: str = "condition") -> bool:
    if isinstance(value, bool):
        return value
    raise EvalError(
        "InvalidCastException", f"Cannot implicitly convert type '{type_name(value)}' to 'bool' ({what})."
    )


def require_int(value: object, what: str = "argument") -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise EvalError("ArgumentException", f"The {what} must be an integer, not '{type_name(value)}'.")


def require_str(value: object, what: str = "argument", allow_null: bool = False) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        if allow_null:
            return ""
        raise EvalError("ArgumentNullException", f"Value cannot be null. (Parameter '{what}')")
    raise EvalError("ArgumentException", f"The {what} must be a string, not '{type_name(value)}'.")
