"""The ``System`` namespace's static types: ``string``, the numeric types, ``bool``, ``char``,
``object``, ``DateTime``/``DateTimeOffset``/``TimeSpan``, ``Guid``, ``Convert``, ``Math`` and the ``StringComparison``/``StringSplitOptions``/``MidpointRounding`` enums.
"""

from __future__ import annotations

import base64
import math
import re
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from emulator.gateway.expr.netlib.convert import (
    EPOCH,
    UNIX_EPOCH,
    from_base64,
    ignore_case,
    now,
    out_of_range_arg,
    parse_bool,
    parse_double,
    parse_int,
    require_bytes,
    require_number,
    string_compare,
    string_format,
    to_boolean,
    to_double,
    to_int32,
    try_parse,
)
from emulator.gateway.expr.netlib.statics import StaticTable, StaticType, enum_type
from emulator.gateway.expr.values import (
    Char,
    EvalError,
    NetEnum,
    NetObject,
    check_size,
    equals,
    parse_datetime,
    require_int,
    require_str,
    to_string,
)


def _string_join(sep: object, *items: object) -> str:
    s = to_string(sep)
    seq: Iterable[Any]
    if len(items) == 1 and isinstance(items[0], list | tuple):
        seq = items[0]
    elif len(items) == 1 and isinstance(items[0], NetObject):
        seq = items[0].net_iter()
    else:
        seq = items
    return check_size(s.join(to_string(v) for v in seq))


def _string_equals(a: object, b: object, comparison: object = None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x, y = require_str(a, "a"), require_str(b, "b")
    return x.lower() == y.lower() if ignore_case(comparison) else x == y


def _math_round(x: object, digits: object = 0, mode: object = None) -> float | int:
    d = require_int(digits, "digits") if not isinstance(digits, NetEnum) else 0
    value = to_double(x)
    if isinstance(digits, NetEnum) or (isinstance(mode, NetEnum) and mode.name == "AwayFromZero"):
        factor = 10**d
        return float(math.floor(abs(value) * factor + 0.5) / factor * (1 if value >= 0 else -1))
    return float(round(value, d))


def _checked_timedelta(**kw: float) -> timedelta:
    try:
        return timedelta(**kw)
    except OverflowError as exc:
        raise EvalError("OverflowException", "TimeSpan overflowed because the duration is too long.") from exc


def _parse_timespan(text: object) -> timedelta:
    s = require_str(text, "s").strip()
    m = re.fullmatch(r"(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?", s)
    if m is None:
        raise EvalError("FormatException", f"String '{s}' was not recognized as a valid TimeSpan.")
    sign, days, hours, minutes, seconds, frac = m.groups()
    t = timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds or 0),
        microseconds=int((frac or "0").ljust(7, "0")[:6]),
    )
    return -t if sign else t


def _new_string(c: object, count: object) -> str:
    n = require_int(count, "count")
    if n < 0:
        raise out_of_range_arg("count")
    return (
        check_size(require_str(c, "c") * n)
        if n * len(require_str(c, "c")) <= 4 * 1024 * 1024
        else check_size("x" * (4 * 1024 * 1024 + 1))
    )


def _guid_parse(text: object) -> uuid.UUID:
    try:
        return uuid.UUID(require_str(text, "input").strip().strip("{}()"))
    except ValueError as exc:
        raise EvalError("FormatException", "Unrecognized Guid format.") from exc


def _datetime_ctor(*args: object) -> datetime:
    if len(args) == 1:
        return _from_ticks(args[0])  # new DateTime(long ticks)
    ints = [require_int(a, "component") for a in args[:7]]
    try:
        if not ints:
            return EPOCH
        p = [*ints, 0, 0, 0][:6] if len(ints) >= 3 else [*[*ints, 1, 1][:3], 0, 0, 0]
        return datetime(p[0], p[1], p[2], p[3], p[4], p[5], ints[6] * 1000 if len(ints) > 6 else 0)
    except (ValueError, TypeError) as exc:
        raise EvalError(
            "ArgumentOutOfRangeException",
            "Year, Month, and Day parameters describe an un-representable DateTime.",
        ) from exc


def _datetime_offset_ctor(*args: object) -> datetime:
    """``new DateTimeOffset(...)``: the instant, in UTC (the local gateway's dates are UTC).

    (DateTime), (DateTime, TimeSpan offset), (long ticks, TimeSpan offset),
    (y, M, d, h, m, s, offset), (y, M, d, h, m, s, ms, offset)."""
    offset = timedelta(0)
    if args and isinstance(args[-1], timedelta):
        offset, args = args[-1], args[:-1]
    if len(args) == 1 and isinstance(args[0], datetime):
        moment = args[0]
    elif len(args) == 1:
        moment = _from_ticks(args[0])
    elif len(args) in (6, 7) and isinstance(args[-1] if len(args) == 7 else offset, timedelta):
        moment = _datetime_ctor(*args)
    else:
        raise EvalError(
            "MissingMethodException", "No overload of the DateTimeOffset constructor takes these arguments."
        )
    try:
        return moment - offset
    except OverflowError as exc:
        raise EvalError("ArgumentOutOfRangeException", "The UTC time represented is out of range.") from exc


def _from_ticks(ticks: object) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=require_int(ticks, "ticks") // 10)
    except OverflowError as exc:
        raise EvalError(
            "ArgumentOutOfRangeException",
            "Ticks must be between DateTime.MinValue.Ticks and DateTime.MaxValue.Ticks.",
        ) from exc


def _from_unix(seconds: object) -> datetime:
    try:
        return UNIX_EPOCH + timedelta(seconds=require_number(seconds))
    except OverflowError as exc:
        raise EvalError(
            "ArgumentOutOfRangeException",
            "Valid values are between -62135596800 and 253402300799, inclusive.",
        ) from exc


def _convert_to_string(value: object, fmt_or_base: object = None) -> str:
    if isinstance(fmt_or_base, int) and isinstance(value, int) and not isinstance(value, bool):
        base = fmt_or_base
        if base == 16:
            return format(value, "x")
        if base == 2:
            return format(value, "b")
        if base == 8:
            return format(value, "o")
        return str(value)
    return to_string(value)


_string_type = StaticType(
    "String",
    {"Empty": lambda: ""},
    {
        "IsNullOrEmpty": lambda s: s is None or require_str(s, "value") == "",
        "IsNullOrWhiteSpace": lambda s: s is None or require_str(s, "value").strip() == "",
        "Join": _string_join,
        "Concat": lambda *items: check_size(
            "".join(
                to_string(v) for v in (items[0] if len(items) == 1 and isinstance(items[0], list) else items)
            )
        ),
        "Format": string_format,
        "Equals": _string_equals,
        "Compare": string_compare,
        "CompareOrdinal": lambda a, b: string_compare(a, b),
    },
    ctor=_new_string,
)


def _pow(a: object, b: object) -> float:
    try:
        return float(math.pow(require_number(a), require_number(b)))
    except (OverflowError, ValueError):
        return math.inf


STATIC: StaticTable = (
    (("string", "String"), _string_type),
    (
        ("int", "Int32"),
        StaticType(
            "Int32",
            {"MaxValue": lambda: 2**31 - 1, "MinValue": lambda: -(2**31)},
            {"Parse": parse_int, "TryParse": try_parse(parse_int)},
        ),
    ),
    (
        ("long", "Int64"),
        StaticType(
            "Int64",
            {"MaxValue": lambda: 2**63 - 1, "MinValue": lambda: -(2**63)},
            {
                "Parse": lambda s: parse_int(s, "Int64"),
                "TryParse": try_parse(lambda s: parse_int(s, "Int64")),
            },
        ),
    ),
    (
        ("double", "Double", "float", "Single", "decimal", "Decimal"),
        StaticType(
            "Double",
            {
                "MaxValue": lambda: 1.7976931348623157e308,
                "MinValue": lambda: -1.7976931348623157e308,
                "NaN": lambda: math.nan,
            },
            {
                "Parse": parse_double,
                "TryParse": try_parse(parse_double),
                "IsNaN": lambda x: math.isnan(require_number(x)),
            },
        ),
    ),
    (
        ("bool", "Boolean"),
        StaticType(
            "Boolean",
            {"TrueString": lambda: "True", "FalseString": lambda: "False"},
            {"Parse": parse_bool, "TryParse": try_parse(parse_bool)},
        ),
    ),
    (
        ("char", "Char"),
        StaticType(
            "Char",
            {},
            {
                "IsDigit": lambda c: require_str(c).isdigit(),
                "IsLetter": lambda c: require_str(c).isalpha(),
                "IsWhiteSpace": lambda c: require_str(c).isspace(),
                "IsUpper": lambda c: require_str(c).isupper(),
                "IsLower": lambda c: require_str(c).islower(),
                "ToUpper": lambda c: Char(require_str(c).upper()),
                "ToLower": lambda c: Char(require_str(c).lower()),
            },
        ),
    ),
    (
        ("object", "Object"),
        StaticType(
            "Object", {}, {"Equals": lambda a, b: equals(a, b), "ReferenceEquals": lambda a, b: a is b}
        ),
    ),
    (
        ("DateTime",),
        StaticType(
            "DateTime",
            {
                "UtcNow": now,
                "Now": now,
                "Today": lambda: now().replace(hour=0, minute=0, second=0, microsecond=0),
                "MinValue": lambda: EPOCH,
                "MaxValue": lambda: datetime(9999, 12, 31, 23, 59, 59, 999999),
                "UnixEpoch": lambda: UNIX_EPOCH,
            },
            {
                "Parse": lambda s, *rest: parse_datetime(require_str(s, "s")),
                "TryParse": try_parse(lambda s: parse_datetime(require_str(s, "s"))),
                "SpecifyKind": lambda d, kind: d,
            },
            ctor=_datetime_ctor,
        ),
    ),
    (
        ("DateTimeOffset",),
        StaticType(
            "DateTimeOffset",
            {"UtcNow": now, "Now": now, "MinValue": lambda: EPOCH, "UnixEpoch": lambda: UNIX_EPOCH},
            {
                "FromUnixTimeSeconds": _from_unix,
                "FromUnixTimeMilliseconds": lambda ms: _from_unix(require_number(ms) / 1000),
                "Parse": lambda s, *rest: parse_datetime(require_str(s, "input")),
                "TryParse": try_parse(lambda s: parse_datetime(require_str(s, "input"))),
            },
            ctor=_datetime_offset_ctor,
        ),
    ),
    (
        ("TimeSpan",),
        StaticType(
            "TimeSpan",
            {
                "Zero": lambda: timedelta(0),
                "MaxValue": lambda: timedelta.max,
                "MinValue": lambda: timedelta.min,
            },
            {
                "FromMilliseconds": lambda v: _checked_timedelta(milliseconds=require_number(v)),
                "FromSeconds": lambda v: _checked_timedelta(seconds=require_number(v)),
                "FromMinutes": lambda v: _checked_timedelta(minutes=require_number(v)),
                "FromHours": lambda v: _checked_timedelta(hours=require_number(v)),
                "FromDays": lambda v: _checked_timedelta(days=require_number(v)),
                "FromTicks": lambda v: _checked_timedelta(microseconds=require_number(v) / 10),
                "Parse": _parse_timespan,
                "TryParse": try_parse(_parse_timespan),
            },
            ctor=lambda *a: (
                _checked_timedelta(
                    **dict(zip(("hours", "minutes", "seconds"), (require_int(x) for x in a), strict=False))
                )
                if len(a) == 3
                else _checked_timedelta(
                    days=require_int(a[0]),
                    hours=require_int(a[1]),
                    minutes=require_int(a[2]),
                    seconds=require_int(a[3]),
                )
            ),
        ),
    ),
    (
        ("Guid",),
        StaticType(
            "Guid",
            {"Empty": lambda: uuid.UUID(int=0)},
            {"NewGuid": uuid.uuid4, "Parse": _guid_parse, "TryParse": try_parse(_guid_parse)},
            ctor=_guid_parse,
        ),
    ),
    (
        ("Convert",),
        StaticType(
            "Convert",
            {},
            {
                "ToBase64String": lambda data, *rest: base64.b64encode(require_bytes(data, "inArray")).decode(
                    "ascii"
                ),
                "FromBase64String": from_base64,
                "ToInt32": to_int32,
                "ToInt64": to_int32,
                "ToDouble": to_double,
                "ToDecimal": to_double,
                "ToBoolean": to_boolean,
                "ToString": _convert_to_string,
                "ToDateTime": lambda v: (
                    v if isinstance(v, datetime) else parse_datetime(require_str(v, "value"))
                ),
                "ToHexString": lambda data: require_bytes(data, "inArray").hex().upper(),
                "FromHexString": lambda s: bytes.fromhex(require_str(s, "s")),
            },
        ),
    ),
    (
        ("Math",),
        StaticType(
            "Math",
            {"PI": lambda: math.pi, "E": lambda: math.e},
            {
                "Min": lambda a, b: min(require_number(a), require_number(b)),
                "Max": lambda a, b: max(require_number(a), require_number(b)),
                "Abs": lambda a: abs(require_number(a)),
                "Round": _math_round,
                "Floor": lambda a: float(math.floor(require_number(a))),
                "Ceiling": lambda a: float(math.ceil(require_number(a))),
                "Pow": lambda a, b: _pow(a, b),
                "Sqrt": lambda a: math.sqrt(require_number(a)) if require_number(a) >= 0 else math.nan,
                "Sign": lambda a: (require_number(a) > 0) - (require_number(a) < 0),
                "Truncate": lambda a: float(math.trunc(require_number(a))),
            },
        ),
    ),
    (
        ("StringComparison",),
        enum_type(
            "StringComparison",
            (
                "Ordinal",
                "OrdinalIgnoreCase",
                "InvariantCulture",
                "InvariantCultureIgnoreCase",
                "CurrentCulture",
                "CurrentCultureIgnoreCase",
            ),
        ),
    ),
    (("StringSplitOptions",), enum_type("StringSplitOptions", ("None", "RemoveEmptyEntries", "TrimEntries"))),
    (("MidpointRounding",), enum_type("MidpointRounding", ("ToEven", "AwayFromZero"))),
)
