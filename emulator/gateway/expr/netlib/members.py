"""Members of built-in values: what ``s.Substring(1)``, ``d.AddDays(1)``, ``t.TotalSeconds``,
``g.ToString("N")`` or ``data.Encrypt(...)`` run, as tables from a .NET name to a function.

Python values stand for .NET ones (see ``expr.values``): ``str``, numbers, ``bool``, ``bytes``,
``datetime``, ``timedelta``, ``UUID``. ``NetObject`` subclasses declare their own members.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from emulator.gateway.expr.netlib.convert import (
    EPOCH,
    UNIX_EPOCH,
    Fn,
    OutRef,
    char_set,
    format_value,
    guid_string,
    ignore_case,
    out_of_range_arg,
    require_number,
    string_compare,
)
from emulator.gateway.expr.netlib.crypto import symmetric
from emulator.gateway.expr.netlib.jwt import parse_jwt
from emulator.gateway.expr.netlib.web import as_basic, try_parse_basic
from emulator.gateway.expr.values import (
    Char,
    EvalError,
    NetEnum,
    NetObject,
    argument_error,
    check_size,
    equals,
    format_datetime,
    require_int,
    require_str,
    to_string,
)


def _substring(s: str, start: object, length: object = None) -> str:
    i = require_int(start, "startIndex")
    if i < 0 or i > len(s):
        raise out_of_range_arg("startIndex")
    if length is None:
        return s[i:]
    n = require_int(length, "length")
    if n < 0 or i + n > len(s):
        raise out_of_range_arg("length")
    return s[i : i + n]


def _index_of(s: str, value: object, *rest: object) -> int:
    start = 0
    ignore = False
    for r in rest:
        if isinstance(r, NetEnum):
            ignore = ignore_case(r)
        else:
            start = require_int(r, "startIndex")
    if start < 0 or start > len(s):
        raise out_of_range_arg("startIndex")
    needle = require_str(value, "value")
    hay = s.lower() if ignore else s
    return hay.find(needle.lower() if ignore else needle, start)


def _last_index_of(s: str, value: object, *rest: object) -> int:
    ignore = any(isinstance(r, NetEnum) and ignore_case(r) for r in rest)
    needle = require_str(value, "value")
    hay = s.lower() if ignore else s
    return hay.rfind(needle.lower() if ignore else needle)


def _split(s: str, *args: object) -> list[str]:
    seps: list[str] = []
    options: NetEnum | None = None
    count: int | None = None
    for a in args:
        if isinstance(a, NetEnum):
            options = a
        elif isinstance(a, int) and not isinstance(a, bool):
            count = a
        elif isinstance(a, str):
            seps.append(a)
        elif isinstance(a, list):
            seps.extend(require_str(x, "separator") for x in a)
        elif a is None:
            continue
        else:
            raise argument_error("Split separators must be chars or strings.")
    seps = [x for x in seps if x]
    parts = re.split(r"\s", s) if not seps else re.split("|".join(re.escape(x) for x in seps), s)
    if count is not None and count > 0 and len(parts) > count:
        joined_sep = seps[0] if seps else " "
        parts = [*parts[: count - 1], joined_sep.join(parts[count - 1 :])]
    if options is not None and options.name == "TrimEntries":
        parts = [p.strip() for p in parts]
    if options is not None and options.name in ("RemoveEmptyEntries", "TrimEntries"):
        parts = [p for p in parts if p]
    return parts


def _replace(s: str, old: object, new: object, *rest: object) -> str:
    o = require_str(old, "oldValue")
    if o == "":
        raise argument_error("String cannot be of zero length. (Parameter 'oldValue')")
    n = to_string(new)
    if len(n) > len(o) and s.count(o) * (len(n) - len(o)) + len(s) > 4 * 1024 * 1024:
        raise EvalError("OutOfMemoryException", "The string is longer than the local gateway allows.")
    return s.replace(o, n)


def _pad(s: str, width: object, ch: object = " ", left: bool = True) -> str:
    w = require_int(width, "totalWidth")
    if w < 0:
        raise out_of_range_arg("totalWidth")
    if w > 4 * 1024 * 1024:
        raise EvalError("OutOfMemoryException", "The string is longer than the local gateway allows.")
    c = require_str(ch, "paddingChar")
    return s.rjust(w, c) if left else s.ljust(w, c)


def _str_equals(s: str, other: object, comparison: object = None) -> bool:
    if not isinstance(other, str):
        return False
    return s.lower() == other.lower() if ignore_case(comparison) else s == other


def _startswith(s: str, v: object, comparison: object = None) -> bool:
    value = require_str(v, "value")
    return s.lower().startswith(value.lower()) if ignore_case(comparison) else s.startswith(value)


def _endswith(s: str, v: object, comparison: object = None) -> bool:
    value = require_str(v, "value")
    return s.lower().endswith(value.lower()) if ignore_case(comparison) else s.endswith(value)


def _contains(s: str, v: object, comparison: object = None) -> bool:
    value = require_str(v, "value")
    return value.lower() in s.lower() if ignore_case(comparison) else value in s


def _remove(s: str, start: object, count: object = None) -> str:
    i = require_int(start, "startIndex")
    if i < 0 or i > len(s):
        raise out_of_range_arg("startIndex")
    if count is None:
        return s[:i]
    n = require_int(count, "count")
    if n < 0 or i + n > len(s):
        raise out_of_range_arg("count")
    return s[:i] + s[i + n :]


def _insert(s: str, start: object, value: object) -> str:
    i = require_int(start, "startIndex")
    if i < 0 or i > len(s):
        raise out_of_range_arg("startIndex")
    return check_size(s[:i] + require_str(value, "value") + s[i:])


def _try_parse_jwt(s: str, out: object = None) -> bool:
    if not isinstance(out, OutRef):
        raise argument_error("TryParseJwt needs an 'out' argument.")
    parsed = parse_jwt(s)
    out.set(parsed)
    return parsed is not None


STR_PROPS: dict[str, Fn] = {"Length": len}


STR_METHODS: dict[str, Fn] = {
    "Substring": _substring,
    "IndexOf": _index_of,
    "LastIndexOf": _last_index_of,
    "Contains": _contains,
    "StartsWith": _startswith,
    "EndsWith": _endswith,
    "Replace": _replace,
    "Split": _split,
    "Trim": lambda s, *c: s.strip(char_set(list(c)) if c else None),
    "TrimStart": lambda s, *c: s.lstrip(char_set(list(c)) if c else None),
    "TrimEnd": lambda s, *c: s.rstrip(char_set(list(c)) if c else None),
    "ToLower": lambda s, *culture: s.lower(),
    "ToUpper": lambda s, *culture: s.upper(),
    "ToLowerInvariant": lambda s: s.lower(),
    "ToUpperInvariant": lambda s: s.upper(),
    "Equals": _str_equals,
    "PadLeft": lambda s, w, c=" ": _pad(s, w, c, True),
    "PadRight": lambda s, w, c=" ": _pad(s, w, c, False),
    "Insert": _insert,
    "Remove": _remove,
    "ToString": lambda s, *fmt: s,
    "ToCharArray": lambda s: [Char(c) for c in s],
    "CompareTo": lambda s, o: string_compare(s, o),
    "AsJwt": parse_jwt,
    "TryParseJwt": _try_parse_jwt,
    "AsBasic": as_basic,
    "TryParseBasic": try_parse_basic,
    "GetHashCode": lambda s: hash(s) & 0x7FFFFFFF,
    "Normalize": lambda s, *f: s,
}


NUM_METHODS: dict[str, Fn] = {
    "ToString": lambda x, fmt=None, *culture: format_value(
        x, require_str(fmt, "format") if fmt is not None and not isinstance(fmt, NetObject) else None
    ),
    "Equals": lambda x, o: equals(x, o),
    "CompareTo": lambda x, o: (x > require_number(o)) - (x < require_number(o)),
}


BOOL_METHODS: dict[str, Fn] = {"ToString": lambda b, *a: to_string(b), "Equals": lambda b, o: equals(b, o)}


BYTES_PROPS: dict[str, Fn] = {"Length": len}


BYTES_METHODS: dict[str, Fn] = {
    "Encrypt": lambda data, alg, key, iv: symmetric(data, alg, key, iv, True),
    "Decrypt": lambda data, alg, key, iv: symmetric(data, alg, key, iv, False),
    "ToString": lambda data: "System.Byte[]",
}


def _add_months(d: datetime, months: object) -> datetime:
    n = require_int(months, "months")
    total = d.month - 1 + n
    year, month = d.year + total // 12, total % 12 + 1
    import calendar

    if not 1 <= year <= 9999:
        raise out_of_range_arg("months")
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day)


def _dt_add(d: datetime, **kw: float) -> datetime:
    try:
        return d + timedelta(**kw)
    except OverflowError as exc:
        raise EvalError(
            "ArgumentOutOfRangeException",
            "The added or subtracted value results in an un-representable DateTime.",
        ) from exc


DT_PROPS: dict[str, Fn] = {
    "Year": lambda d: d.year,
    "Month": lambda d: d.month,
    "Day": lambda d: d.day,
    "Hour": lambda d: d.hour,
    "Minute": lambda d: d.minute,
    "Second": lambda d: d.second,
    "Millisecond": lambda d: d.microsecond // 1000,
    "Ticks": lambda d: (d - EPOCH) // timedelta(microseconds=1) * 10,
    "Date": lambda d: d.replace(hour=0, minute=0, second=0, microsecond=0),
    "DayOfWeek": lambda d: NetEnum("DayOfWeek", d.strftime("%A")),
    "DayOfYear": lambda d: d.timetuple().tm_yday,
    "TimeOfDay": lambda d: timedelta(
        hours=d.hour, minutes=d.minute, seconds=d.second, microseconds=d.microsecond
    ),
    "Kind": lambda d: NetEnum("DateTimeKind", "Utc"),
    "UtcDateTime": lambda d: d,
    # DateTimeOffset (an instant in UTC here): its offset is zero
    "DateTime": lambda d: d,
    "LocalDateTime": lambda d: d,
    "Offset": lambda d: timedelta(0),
    "UtcTicks": lambda d: (d - EPOCH) // timedelta(microseconds=1) * 10,
}


DT_METHODS: dict[str, Fn] = {
    "AddSeconds": lambda d, v: _dt_add(d, seconds=require_number(v)),
    "AddMinutes": lambda d, v: _dt_add(d, minutes=require_number(v)),
    "AddHours": lambda d, v: _dt_add(d, hours=require_number(v)),
    "AddDays": lambda d, v: _dt_add(d, days=require_number(v)),
    "AddMilliseconds": lambda d, v: _dt_add(d, milliseconds=require_number(v)),
    "AddTicks": lambda d, v: _dt_add(d, microseconds=require_number(v) / 10),
    "AddMonths": _add_months,
    "AddYears": lambda d, v: _add_months(d, require_int(v, "value") * 12),
    "Add": lambda d, t: d + t if isinstance(t, timedelta) else require_number(t),
    "Subtract": lambda d, o: d - o,
    "ToString": lambda d, fmt=None, *culture: format_datetime(
        d, require_str(fmt, "format") if fmt is not None else None
    ),
    "ToUniversalTime": lambda d: d,
    "ToLocalTime": lambda d: d,
    "ToUnixTimeSeconds": lambda d: int((d - UNIX_EPOCH).total_seconds()),
    "ToUnixTimeMilliseconds": lambda d: int((d - UNIX_EPOCH) / timedelta(milliseconds=1)),
    "CompareTo": lambda d, o: (d > o) - (d < o),
    "Equals": lambda d, o: d == o,
    "ToFileTimeUtc": lambda d: (d - datetime(1601, 1, 1)) // timedelta(microseconds=1) * 10,
}


TS_PROPS: dict[str, Fn] = {
    "TotalMilliseconds": lambda t: t / timedelta(milliseconds=1),
    "TotalSeconds": lambda t: t.total_seconds(),
    "TotalMinutes": lambda t: t / timedelta(minutes=1),
    "TotalHours": lambda t: t / timedelta(hours=1),
    "TotalDays": lambda t: t / timedelta(days=1),
    "Days": lambda t: int(t / timedelta(days=1)),
    "Hours": lambda t: (
        int(t / timedelta(hours=1)) % 24 if t >= timedelta(0) else -(int(-t / timedelta(hours=1)) % 24)
    ),
    "Minutes": lambda t: (
        int(t / timedelta(minutes=1)) % 60 if t >= timedelta(0) else -(int(-t / timedelta(minutes=1)) % 60)
    ),
    "Seconds": lambda t: (
        int(t.total_seconds()) % 60 if t >= timedelta(0) else -(int(-t.total_seconds()) % 60)
    ),
    "Milliseconds": lambda t: (abs(t).microseconds // 1000) * (1 if t >= timedelta(0) else -1),
    "Ticks": lambda t: t // timedelta(microseconds=1) * 10,
}


TS_METHODS: dict[str, Fn] = {
    "ToString": lambda t, *fmt: to_string(t),
    "Add": lambda t, o: t + o,
    "Subtract": lambda t, o: t - o,
    "Negate": lambda t: -t,
    "Duration": lambda t: abs(t),
    "CompareTo": lambda t, o: (t > o) - (t < o),
    "Equals": lambda t, o: t == o,
}


GUID_METHODS: dict[str, Fn] = {
    "ToString": guid_string,
    "Equals": lambda g, o: g == o,
    "ToByteArray": lambda g: g.bytes_le,
    "CompareTo": lambda g, o: (g > o) - (g < o),
}
