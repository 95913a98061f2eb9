"""The .NET library surface policy expressions may use, and member dispatch over it.

``get_member`` / ``call_method`` / ``get_index`` / ``cast`` / ``is_type`` / ``construct`` are what
compiled expressions call at run time. Built-in Python values (str, int, bytes, datetime, …)
get their .NET members from the tables here; ``NetObject`` subclasses declare their own.
``STATIC_TYPES`` are the types usable by name (``string.Join``, ``Guid.NewGuid()``,
``JObject.Parse``, …). ``KNOWN_MEMBERS`` / ``KNOWN_METHODS`` feed the PUT-time check.
"""

# ruff: noqa: N802  - members carry their .NET names (m_<Name> methods, .NET properties)

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
import math
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.values import (
    Char,
    EvalError,
    NetEnum,
    NetObject,
    argument_error,
    check_size,
    equals,
    format_datetime,
    format_number,
    invalid_cast,
    null_reference,
    require_bool,
    require_int,
    require_str,
    to_string,
    type_name,
)

Fn = Callable[..., Any]
_EPOCH = datetime(1, 1, 1)
_UNIX = datetime(1970, 1, 1)


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---- helpers ----------------------------------------------------------------------------------


def _ignore_case(comparison: object) -> bool:
    if comparison is None:
        return False
    if isinstance(comparison, NetEnum) and comparison.enum == "StringComparison":
        return comparison.name.endswith("IgnoreCase")
    if isinstance(comparison, bool):
        return comparison
    raise argument_error("The comparison must be a StringComparison value.")


def _chars(arg: object) -> str:
    if isinstance(arg, str):
        return arg
    if isinstance(arg, list):
        return "".join(require_str(c) for c in arg)
    raise argument_error("Expected a char or char[].")


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


def _parse_int(text: object, kind: str = "Int32") -> int:
    s = require_str(text, "s").strip()
    if not re.fullmatch(r"[+-]?\d+", s):
        raise EvalError("FormatException", "The input string was not in a correct format.")
    value = int(s)
    limit = 2**31 if kind == "Int32" else 2**63
    if not -limit <= value < limit:
        raise EvalError("OverflowException", f"Value was either too large or too small for an {kind}.")
    return value


def _parse_double(text: object) -> float:
    s = require_str(text, "s").strip()
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?Infinity|NaN", s):
        raise EvalError("FormatException", "The input string was not in a correct format.")
    return float(s)


def _parse_bool(text: object) -> bool:
    s = require_str(text, "value").strip().lower()
    if s not in ("true", "false"):
        raise EvalError("FormatException", "String was not recognized as a valid Boolean.")
    return s == "true"


def _try(parse: Fn) -> Fn:
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
    return {_parse_int: 0, _parse_double: 0.0, _parse_bool: False, parse_datetime: _EPOCH}.get(parse)


class OutRef:
    """An ``out`` argument: the callee sets it, the compiler writes it into the local."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, value: Any) -> None:
        self.value = value


def banker_round(x: float, digits: int = 0) -> float:
    return round(x, digits)


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
        return _parse_int(value)
    if isinstance(value, jm.JValue):
        return to_int32(value.value)
    raise invalid_cast(value, "System.Int32")


def to_double(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        return _parse_double(value)
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
        return _parse_bool(value)
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


def _bytes(value: object, what: str = "buffer") -> bytes:
    if isinstance(value, bytes):
        return value
    if value is None:
        raise EvalError("ArgumentNullException", f"Value cannot be null. (Parameter '{what}')")
    raise argument_error(f"The {what} must be a byte[], not '{type_name(value)}'.")


def _format(fmt: object, *args: object) -> str:
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
        return _guid_string(value, fmt)
    return to_string(value)


def _guid_string(g: uuid.UUID, fmt: object = None) -> str:
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


def _regex(pattern: object) -> re.Pattern[str]:
    text = require_str(pattern, "pattern")
    # .NET named groups (?<name>...) -> Python (?P<name>...); lookbehinds (?<= / (?<! stay
    text = re.sub(r"\(\?<(?![=!])([A-Za-z_]\w*)>", r"(?P<\1>", text)
    text = re.sub(r"\\k<([A-Za-z_]\w*)>", r"(?P=\1)", text)
    try:
        return _regex_cached(text)
    except re.error as exc:
        raise argument_error(f"Invalid pattern '{pattern}': {exc}") from exc


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _regex_cached(text: str) -> re.Pattern[str]:
    compiled = _REGEX_CACHE.get(text)
    if compiled is None:
        compiled = re.compile(text)
        if len(_REGEX_CACHE) > 256:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[text] = compiled
    return compiled


def _regex_flags(options: object) -> int:
    if options is None:
        return 0
    if isinstance(options, NetEnum) and options.enum == "RegexOptions":
        return re.IGNORECASE if options.name == "IgnoreCase" else 0
    raise argument_error("Unsupported RegexOptions value.")


def _replacement(text: str) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            c = text[i]
            if c == "$" and i + 1 < len(text):
                nxt = text[i + 1]
                if nxt == "$":
                    out.append("$")
                    i += 2
                    continue
                if nxt.isdigit():
                    j = i + 1
                    while j < len(text) and text[j].isdigit():
                        j += 1
                    idx = int(text[i + 1 : j])
                    if idx <= (m.re.groups or 0):
                        out.append(m.group(idx) or "")
                        i = j
                        continue
                if nxt == "{":
                    end = text.find("}", i)
                    name = text[i + 2 : end] if end > 0 else ""
                    if name in m.re.groupindex or name.isdigit():
                        out.append(m.group(int(name) if name.isdigit() else name) or "")
                        i = end + 1
                        continue
                if nxt == "&":
                    out.append(m.group(0))
                    i += 2
                    continue
            out.append(c)
            i += 1
        return "".join(out)

    return repl


class RegexMatch(NetObject):
    NET_TYPE = "Match"
    NET_PROPS = frozenset({"Success", "Value", "Index", "Length", "Groups"})
    NET_METHODS = frozenset({"NextMatch"})

    def __init__(
        self, m: re.Match[str] | None, pattern: re.Pattern[str] | None = None, text: str = ""
    ) -> None:
        self._m = m
        self._pattern = pattern
        self._text = text

    @property
    def Success(self) -> bool:
        return self._m is not None

    @property
    def Value(self) -> str:
        return self._m.group(0) if self._m else ""

    @property
    def Index(self) -> int:
        return self._m.start() if self._m else 0

    @property
    def Length(self) -> int:
        return len(self.Value)

    @property
    def Groups(self) -> RegexGroups:
        return RegexGroups(self._m)

    def m_NextMatch(self) -> RegexMatch:
        if self._m is None or self._pattern is None:
            return RegexMatch(None)
        pos = self._m.end() if self._m.end() > self._m.start() else self._m.end() + 1
        return RegexMatch(self._pattern.search(self._text, pos), self._pattern, self._text)

    def net_str(self) -> str:
        return self.Value


class RegexGroups(NetObject):
    NET_TYPE = "GroupCollection"
    NET_PROPS = frozenset({"Count"})

    def __init__(self, m: re.Match[str] | None) -> None:
        self._m = m

    @property
    def Count(self) -> int:
        return (self._m.re.groups + 1) if self._m else 1

    def net_index(self, key: Any) -> Any:
        if self._m is None:
            return RegexGroup(None)
        try:
            if isinstance(key, str):
                return RegexGroup(self._m.group(key))
            return RegexGroup(self._m.group(require_int(key, "groupnum")))
        except (IndexError, re.error):
            return RegexGroup(None)


class RegexGroup(NetObject):
    NET_TYPE = "Group"
    NET_PROPS = frozenset({"Success", "Value"})

    def __init__(self, value: str | None) -> None:
        self._value = value

    @property
    def Success(self) -> bool:
        return self._value is not None

    @property
    def Value(self) -> str:
        return self._value or ""

    def net_str(self) -> str:
        return self.Value


class KeyValue(NetObject):
    NET_TYPE = "KeyValuePair"
    NET_PROPS = frozenset({"Key", "Value"})

    def __init__(self, key: Any, value: Any) -> None:
        self.Key = key
        self.Value = value

    def net_str(self) -> str:
        return f"[{to_string(self.Key)}, {to_string(self.Value)}]"


class NetDict(NetObject):
    """A read-only ``IReadOnlyDictionary<string, T>`` (headers, query, variables, claims)."""

    NET_TYPE = "Dictionary"
    NET_PROPS = frozenset({"Count", "Keys", "Values"})
    NET_METHODS = frozenset({"ContainsKey", "TryGetValue", "GetValueOrDefault"})
    case_insensitive = True

    def __init__(self, items: dict[str, Any] | None = None) -> None:
        self._items: dict[str, tuple[str, Any]] = {}
        for k, v in (items or {}).items():
            self._items[self._norm(k)] = (k, v)

    def _norm(self, key: str) -> str:
        return key.lower() if self.case_insensitive else key

    def lookup(self, key: object) -> tuple[bool, Any]:
        entry = self._items.get(self._norm(require_str(key, "key")))
        return (False, None) if entry is None else (True, entry[1])

    @property
    def Count(self) -> int:
        return len(self._items)

    @property
    def Keys(self) -> list[str]:
        return [k for k, _ in self._items.values()]

    @property
    def Values(self) -> list[Any]:
        return [v for _, v in self._items.values()]

    def net_index(self, key: Any) -> Any:
        found, value = self.lookup(key)
        if not found:
            raise EvalError(
                "KeyNotFoundException", f"The given key '{to_string(key)}' was not present in the dictionary."
            )
        return value

    def net_iter(self) -> Iterable[Any]:
        return [KeyValue(k, v) for k, v in self._items.values()]

    def m_ContainsKey(self, key: object) -> bool:
        return self.lookup(key)[0]

    def m_TryGetValue(self, key: object, out: object) -> bool:
        found, value = self.lookup(key)
        if not isinstance(out, OutRef):
            raise argument_error("TryGetValue needs an 'out' argument.")
        out.set(value)
        return found

    def m_GetValueOrDefault(self, key: object, default: object = None, _targs: tuple[str, ...] = ()) -> Any:
        found, value = self.lookup(key)
        if not found:
            return default
        return cast(value, _targs[0]) if _targs else value


# ---- Jwt --------------------------------------------------------------------------------------


class Jwt(NetObject):
    NET_TYPE = "Jwt"
    NET_PROPS = frozenset(
        {
            "Id",
            "Algorithm",
            "Issuer",
            "Subject",
            "Audiences",
            "ExpirationTime",
            "NotBefore",
            "IssuedAt",
            "Type",
            "Claims",
        }
    )

    def __init__(self, header: dict[str, Any], claims: dict[str, Any]) -> None:
        self._header = header
        self._claims = claims

    def _time(self, name: str) -> datetime | None:
        v = self._claims.get(name)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return _UNIX + timedelta(seconds=v)
        return None

    @property
    def Id(self) -> str | None:
        v = self._claims.get("jti")
        return v if isinstance(v, str) else None

    @property
    def Algorithm(self) -> str | None:
        v = self._header.get("alg")
        return v if isinstance(v, str) else None

    @property
    def Type(self) -> str | None:
        v = self._header.get("typ")
        return v if isinstance(v, str) else None

    @property
    def Issuer(self) -> str | None:
        v = self._claims.get("iss")
        return v if isinstance(v, str) else None

    @property
    def Subject(self) -> str | None:
        v = self._claims.get("sub")
        return v if isinstance(v, str) else None

    @property
    def Audiences(self) -> list[str]:
        v = self._claims.get("aud")
        return [to_string(a) for a in v] if isinstance(v, list) else ([to_string(v)] if v is not None else [])

    @property
    def ExpirationTime(self) -> datetime | None:
        return self._time("exp")

    @property
    def NotBefore(self) -> datetime | None:
        return self._time("nbf")

    @property
    def IssuedAt(self) -> datetime | None:
        return self._time("iat")

    @property
    def Claims(self) -> ClaimsDict:
        return ClaimsDict(self._claims)


class ClaimsDict(NetDict):
    NET_TYPE = "IReadOnlyDictionary<string, string[]>"
    case_insensitive = False

    def __init__(self, claims: dict[str, Any]) -> None:
        super().__init__({k: _claim_values(v) for k, v in claims.items()})

    def m_GetValueOrDefault(self, key: object, default: object = None, _targs: tuple[str, ...] = ()) -> Any:
        found, value = self.lookup(key)
        return ",".join(value) if found else default


def _claim_values(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v if isinstance(v, str) else jm.serialize(v) for v in value]
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [jm.serialize(value)]


def parse_jwt(text: object) -> Jwt | None:
    if not isinstance(text, str):
        return None
    token = text.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    parts = token.split(".")
    if len(parts) not in (3, 5):
        return None
    try:
        header = _b64url_json(parts[0])
        claims = _b64url_json(parts[1]) if len(parts) == 3 else {}
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return Jwt(header, claims)


def _b64url_json(part: str) -> Any:
    import json

    data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return json.loads(data.decode("utf-8"))


# ---- crypto -----------------------------------------------------------------------------------


class HashAlgo(NetObject):
    NET_TYPE = "HashAlgorithm"
    NET_METHODS = frozenset({"ComputeHash", "Dispose"})

    def __init__(self, name: str, key: bytes | None = None) -> None:
        self.name = name
        self.key = key
        self.NET_TYPE = ("HMAC" if key is not None else "") + name.upper()  # type: ignore[misc]

    def m_ComputeHash(self, data: object) -> bytes:
        raw = _bytes(data)
        if self.key is not None:
            return hmac.new(self.key, raw, self.name).digest()
        return hashlib.new(self.name, raw).digest()

    def m_Dispose(self) -> None:
        return None


def _symmetric(data: object, alg: object, key: object, iv: object, encrypt: bool) -> bytes:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    name = require_str(alg, "alg")
    if name not in (
        "Aes",
        "Rijndael",
        "System.Security.Cryptography.Aes",
        "System.Security.Cryptography.RijndaelManaged",
    ):
        raise EvalError(
            "CryptographicException",
            f"The symmetric algorithm '{name}' is not supported by the local gateway (use Aes).",
        )
    k, v = _bytes(key, "key"), _bytes(iv, "iv")
    if len(k) not in (16, 24, 32) or len(v) != 16:
        raise EvalError(
            "CryptographicException",
            "Specified key or initialization vector is not a valid size for this algorithm.",
        )
    cipher = Cipher(algorithms.AES(k), modes.CBC(v))
    raw = _bytes(data, "input")
    if encrypt:
        padder = padding.PKCS7(128).padder()
        enc = cipher.encryptor()
        return enc.update(padder.update(raw) + padder.finalize()) + enc.finalize()
    try:
        dec = cipher.decryptor()
        plain = dec.update(raw) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(plain) + unpadder.finalize()
    except ValueError as exc:
        raise EvalError("CryptographicException", "Padding is invalid and cannot be removed.") from exc


class EncodingObj(NetObject):
    NET_TYPE = "Encoding"
    NET_METHODS = frozenset({"GetBytes", "GetString"})
    NET_PROPS = frozenset({"WebName"})

    def __init__(self, codec: str, web_name: str) -> None:
        self.codec = codec
        self.WebName = web_name

    def m_GetBytes(self, text: object) -> bytes:
        return require_str(text, "s").encode(
            self.codec, errors="replace" if self.codec == "ascii" else "surrogatepass"
        )

    def m_GetString(self, data: object, index: object = None, count: object = None) -> str:
        raw = _bytes(data, "bytes")
        if index is not None:
            start = require_int(index, "index")
            raw = raw[start : start + require_int(count, "count")] if count is not None else raw[start:]
        return raw.decode(self.codec, errors="replace")


class UriObj(NetObject):
    NET_TYPE = "Uri"
    NET_PROPS = frozenset(
        {"Scheme", "Host", "Port", "AbsolutePath", "PathAndQuery", "Query", "AbsoluteUri", "Authority", "Fragment", "Segments", "IsDefaultPort", "OriginalString"}
    )  # fmt: skip

    def __init__(self, text: object) -> None:
        from urllib.parse import urlsplit

        s = require_str(text, "uriString")
        parts = urlsplit(s)
        if not parts.scheme or not parts.netloc:
            raise EvalError(
                "UriFormatException", "Invalid URI: The format of the URI could not be determined."
            )
        self.OriginalString = s
        self.Scheme = parts.scheme.lower()
        self.Host = (parts.hostname or "").lower()
        default = {"https": 443, "http": 80}.get(self.Scheme, -1)
        try:
            self.Port = parts.port if parts.port is not None else default
        except ValueError as exc:
            raise EvalError("UriFormatException", "Invalid URI: Invalid port specified.") from exc
        self.IsDefaultPort = self.Port == default
        self.AbsolutePath = parts.path or "/"
        self.Query = "?" + parts.query if parts.query else ""
        self.Fragment = "#" + parts.fragment if parts.fragment else ""
        self.PathAndQuery = self.AbsolutePath + self.Query
        self.Authority = self.Host + ("" if self.IsDefaultPort else f":{self.Port}")
        self.AbsoluteUri = f"{self.Scheme}://{self.Authority}{self.PathAndQuery}{self.Fragment}"
        segs = [seg + "/" for seg in self.AbsolutePath.split("/")[1:-1]]
        self.Segments = ["/", *segs] + (
            [self.AbsolutePath.rsplit("/", 1)[1]] if not self.AbsolutePath.endswith("/") else []
        )

    def net_str(self) -> str:
        return self.AbsoluteUri


class StringBuilderObj(NetObject):
    NET_TYPE = "StringBuilder"
    NET_PROPS = frozenset({"Length"})
    NET_METHODS = frozenset({"Append", "AppendLine", "Clear"})

    def __init__(self, initial: object = None) -> None:
        self.parts: list[str] = [to_string(initial)] if initial is not None else []
        self.size = len(self.parts[0]) if self.parts else 0

    @property
    def Length(self) -> int:
        return self.size

    def _add(self, text: str) -> StringBuilderObj:
        self.size += len(text)
        if self.size > 4 * 1024 * 1024:
            raise EvalError("OutOfMemoryException", "The string is longer than the local gateway allows.")
        self.parts.append(text)
        return self

    def m_Append(self, value: object) -> StringBuilderObj:
        return self._add(to_string(value))

    def m_AppendLine(self, value: object = None) -> StringBuilderObj:
        return self._add(to_string(value) + "\n")

    def m_Clear(self) -> StringBuilderObj:
        self.parts.clear()
        self.size = 0
        return self

    def net_str(self) -> str:
        return "".join(self.parts)


class AnonObject(NetObject):
    """``new { a = 1, b = "x" }`` — serialisable by JsonConvert and JObject.FromObject."""

    NET_TYPE = "<>f__AnonymousType"

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def net_get(self, name: str) -> Any:
        if name in self.fields:
            return self.fields[name]
        return super().net_get(name)

    def as_json(self) -> Any:
        out: dict[str, Any] = {}
        for k, v in self.fields.items():
            token = jm.to_token(v)
            out[k] = token.plain() if token is not None else None
        return out

    def net_str(self) -> str:
        return "{ " + ", ".join(f"{k} = {to_string(v)}" for k, v in self.fields.items()) + " }"


# ---- static types -----------------------------------------------------------------------------


class StaticType(NetObject):
    """A type used by name: ``string.Join``, ``DateTime.UtcNow``, ``JObject.Parse``."""

    def __init__(
        self, name: str, props: dict[str, Fn], methods: dict[str, Fn], ctor: Fn | None = None
    ) -> None:
        self.name = name
        self.props = props
        self.methods = methods
        self.ctor = ctor
        self.NET_TYPE = name  # type: ignore[misc]

    def net_get(self, name: str) -> Any:
        if name in self.props:
            return self.props[name]()
        raise EvalError(
            "MissingMemberException", f"'{self.name}' does not contain a definition for '{name}'."
        )

    def net_call(self, name: str, args: list[Any], kwargs: dict[str, Any], targs: tuple[str, ...]) -> Any:
        fn = self.methods.get(name)
        if fn is None:
            raise EvalError("MissingMethodException", f"'{self.name}' does not contain a method '{name}'.")
        if targs:
            kwargs = {**kwargs, "_targs": targs}
        try:
            return fn(*args, **kwargs)
        except TypeError as exc:
            raise EvalError(
                "MissingMethodException",
                f"No overload for method '{self.name}.{name}' takes these {len(args)} arguments.",
            ) from exc


def _enum_type(name: str, members: Iterable[str]) -> StaticType:
    values = {m: NetEnum(name, m) for m in members}
    return StaticType(name, {m: (lambda v=v: v) for m, v in values.items()}, {})


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


def _string_compare(a: object, b: object, comparison: object = None) -> int:
    x, y = to_string(a), to_string(b)
    if _ignore_case(comparison):
        x, y = x.lower(), y.lower()
    return (x > y) - (x < y)


def _string_equals(a: object, b: object, comparison: object = None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x, y = require_str(a, "a"), require_str(b, "b")
    return x.lower() == y.lower() if _ignore_case(comparison) else x == y


def _math_round(x: object, digits: object = 0, mode: object = None) -> float | int:
    d = require_int(digits, "digits") if not isinstance(digits, NetEnum) else 0
    value = to_double(x)
    if isinstance(digits, NetEnum) or (isinstance(mode, NetEnum) and mode.name == "AwayFromZero"):
        factor = 10**d
        return float(math.floor(abs(value) * factor + 0.5) / factor * (1 if value >= 0 else -1))
    return float(round(value, d))


def _num(x: object) -> int | float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise argument_error(f"Expected a number, not '{type_name(x)}'.")
    return x


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


def out_of_range_arg(name: str) -> EvalError:
    return EvalError(
        "ArgumentOutOfRangeException",
        f"Specified argument was out of the range of valid values. (Parameter '{name}')",
    )


def _serialize_object(value: object, formatting: object = None, *rest: object) -> str:
    indented = isinstance(formatting, NetEnum) and formatting.name == "Indented"
    if isinstance(value, str):
        return jm.serialize(jm.JValue(value))
    return jm.serialize(value, indented=indented)


def _deserialize_object(text: object, _targs: tuple[str, ...] = ()) -> Any:
    token = jm.parse(text)
    target = _targs[0] if _targs else "object"
    if target in ("object", "JToken", "Object"):
        return token
    return jm.convert_token(token, target)


def _guid_parse(text: object) -> uuid.UUID:
    try:
        return uuid.UUID(require_str(text, "input").strip().strip("{}()"))
    except ValueError as exc:
        raise EvalError("FormatException", "Unrecognized Guid format.") from exc


def _datetime_ctor(*args: object) -> datetime:
    ints = [require_int(a, "component") for a in args[:7]]
    try:
        if not ints:
            return _EPOCH
        p = [*ints, 0, 0, 0][:6] if len(ints) >= 3 else [*[*ints, 1, 1][:3], 0, 0, 0]
        return datetime(p[0], p[1], p[2], p[3], p[4], p[5], ints[6] * 1000 if len(ints) > 6 else 0)
    except (ValueError, TypeError) as exc:
        raise EvalError(
            "ArgumentOutOfRangeException",
            "Year, Month, and Day parameters describe an un-representable DateTime.",
        ) from exc


def _from_unix(seconds: object) -> datetime:
    try:
        return _UNIX + timedelta(seconds=_num(seconds))
    except OverflowError as exc:
        raise EvalError(
            "ArgumentOutOfRangeException",
            "Valid values are between -62135596800 and 253402300799, inclusive.",
        ) from exc


def _hash_type(name: str) -> StaticType:
    return StaticType(
        name.upper(),
        {},
        {"Create": lambda: HashAlgo(name), "HashData": lambda data: hashlib.new(name, _bytes(data)).digest()},
        ctor=lambda: HashAlgo(name),
    )


def _hmac_type(name: str) -> StaticType:
    return StaticType(
        "HMAC" + name.upper(),
        {},
        {"HashData": lambda key, data: hmac.new(_bytes(key, "key"), _bytes(data), name).digest()},
        ctor=lambda key=None: HashAlgo(name, _bytes(key, "key") if key is not None else b""),
    )


def _bitconverter_tostring(data: object) -> str:
    return "-".join(f"{b:02X}" for b in _bytes(data, "value"))


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


STATIC_TYPES: dict[str, StaticType] = {}


def _register(names: Iterable[str], t: StaticType) -> None:
    for n in names:
        STATIC_TYPES[n] = t


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
        "Format": _format,
        "Equals": _string_equals,
        "Compare": _string_compare,
        "CompareOrdinal": lambda a, b: _string_compare(a, b),
    },
    ctor=_new_string,
)
_register(("string", "String"), _string_type)
_register(
    ("int", "Int32"),
    StaticType(
        "Int32",
        {"MaxValue": lambda: 2**31 - 1, "MinValue": lambda: -(2**31)},
        {"Parse": _parse_int, "TryParse": _try(_parse_int)},
    ),
)
_register(
    ("long", "Int64"),
    StaticType(
        "Int64",
        {"MaxValue": lambda: 2**63 - 1, "MinValue": lambda: -(2**63)},
        {"Parse": lambda s: _parse_int(s, "Int64"), "TryParse": _try(lambda s: _parse_int(s, "Int64"))},
    ),
)
_register(
    ("double", "Double", "float", "Single", "decimal", "Decimal"),
    StaticType(
        "Double",
        {
            "MaxValue": lambda: 1.7976931348623157e308,
            "MinValue": lambda: -1.7976931348623157e308,
            "NaN": lambda: math.nan,
        },
        {"Parse": _parse_double, "TryParse": _try(_parse_double), "IsNaN": lambda x: math.isnan(_num(x))},
    ),
)
_register(
    ("bool", "Boolean"),
    StaticType(
        "Boolean",
        {"TrueString": lambda: "True", "FalseString": lambda: "False"},
        {"Parse": _parse_bool, "TryParse": _try(_parse_bool)},
    ),
)
_register(
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
)
_register(
    ("object", "Object"),
    StaticType("Object", {}, {"Equals": lambda a, b: equals(a, b), "ReferenceEquals": lambda a, b: a is b}),
)
_register(
    ("DateTime",),
    StaticType(
        "DateTime",
        {
            "UtcNow": now,
            "Now": now,
            "Today": lambda: now().replace(hour=0, minute=0, second=0, microsecond=0),
            "MinValue": lambda: _EPOCH,
            "MaxValue": lambda: datetime(9999, 12, 31, 23, 59, 59, 999999),
            "UnixEpoch": lambda: _UNIX,
        },
        {
            "Parse": lambda s, *rest: parse_datetime(require_str(s, "s")),
            "TryParse": _try(lambda s: parse_datetime(require_str(s, "s"))),
            "SpecifyKind": lambda d, kind: d,
        },
        ctor=_datetime_ctor,
    ),
)
_register(
    ("DateTimeOffset",),
    StaticType(
        "DateTimeOffset",
        {"UtcNow": now, "Now": now},
        {
            "FromUnixTimeSeconds": _from_unix,
            "FromUnixTimeMilliseconds": lambda ms: _from_unix(_num(ms) / 1000),
        },
    ),
)
_register(
    ("TimeSpan",),
    StaticType(
        "TimeSpan",
        {"Zero": lambda: timedelta(0), "MaxValue": lambda: timedelta.max, "MinValue": lambda: timedelta.min},
        {
            "FromMilliseconds": lambda v: _checked_timedelta(milliseconds=_num(v)),
            "FromSeconds": lambda v: _checked_timedelta(seconds=_num(v)),
            "FromMinutes": lambda v: _checked_timedelta(minutes=_num(v)),
            "FromHours": lambda v: _checked_timedelta(hours=_num(v)),
            "FromDays": lambda v: _checked_timedelta(days=_num(v)),
            "FromTicks": lambda v: _checked_timedelta(microseconds=_num(v) / 10),
            "Parse": _parse_timespan,
            "TryParse": _try(_parse_timespan),
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
)
_register(
    ("Guid",),
    StaticType(
        "Guid",
        {"Empty": lambda: uuid.UUID(int=0)},
        {"NewGuid": uuid.uuid4, "Parse": _guid_parse, "TryParse": _try(_guid_parse)},
        ctor=_guid_parse,
    ),
)
_register(
    ("Convert",),
    StaticType(
        "Convert",
        {},
        {
            "ToBase64String": lambda data, *rest: base64.b64encode(_bytes(data, "inArray")).decode("ascii"),
            "FromBase64String": from_base64,
            "ToInt32": to_int32,
            "ToInt64": to_int32,
            "ToDouble": to_double,
            "ToDecimal": to_double,
            "ToBoolean": to_boolean,
            "ToString": _convert_to_string,
            "ToDateTime": lambda v: v if isinstance(v, datetime) else parse_datetime(require_str(v, "value")),
            "ToHexString": lambda data: _bytes(data, "inArray").hex().upper(),
            "FromHexString": lambda s: bytes.fromhex(require_str(s, "s")),
        },
    ),
)
_register(
    ("Encoding",),
    StaticType(
        "Encoding",
        {
            "UTF8": lambda: EncodingObj("utf-8", "utf-8"),
            "ASCII": lambda: EncodingObj("ascii", "us-ascii"),
            "Unicode": lambda: EncodingObj("utf-16-le", "utf-16"),
            "Default": lambda: EncodingObj("utf-8", "utf-8"),
        },
        {},
    ),
)


def _escape_data(text: object) -> str:
    from urllib.parse import quote

    return quote(require_str(text, "stringToEscape"), safe="-_.~")


def _unescape_data(text: object) -> str:
    from urllib.parse import unquote

    return unquote(require_str(text, "stringToUnescape"))


_register(
    ("Uri",),
    StaticType(
        "Uri",
        {"UriSchemeHttps": lambda: "https", "UriSchemeHttp": lambda: "http"},
        {
            "EscapeDataString": _escape_data,
            "UnescapeDataString": _unescape_data,
            "EscapeUriString": lambda s: __import__("urllib.parse").parse.quote(
                require_str(s), safe="-_.~:/?#[]@!$&'()*+,;=%"
            ),
            "IsWellFormedUriString": lambda s, kind=None: _well_formed(s),
        },
        ctor=UriObj,
    ),
)


def _well_formed(s: object) -> bool:
    try:
        UriObj(s)
        return True
    except EvalError:
        return False


_register(
    ("Math",),
    StaticType(
        "Math",
        {"PI": lambda: math.pi, "E": lambda: math.e},
        {
            "Min": lambda a, b: min(_num(a), _num(b)),
            "Max": lambda a, b: max(_num(a), _num(b)),
            "Abs": lambda a: abs(_num(a)),
            "Round": _math_round,
            "Floor": lambda a: float(math.floor(_num(a))),
            "Ceiling": lambda a: float(math.ceil(_num(a))),
            "Pow": lambda a, b: _pow(a, b),
            "Sqrt": lambda a: math.sqrt(_num(a)) if _num(a) >= 0 else math.nan,
            "Sign": lambda a: (_num(a) > 0) - (_num(a) < 0),
            "Truncate": lambda a: float(math.trunc(_num(a))),
        },
    ),
)


def _pow(a: object, b: object) -> float:
    try:
        return float(math.pow(_num(a), _num(b)))
    except (OverflowError, ValueError):
        return math.inf


_register(
    ("Regex",),
    StaticType(
        "Regex",
        {},
        {
            "IsMatch": lambda s, p, o=None: (
                re.compile(_regex(p).pattern, _regex_flags(o)).search(require_str(s, "input")) is not None
            ),
            "Match": lambda s, p, o=None: _regex_match(s, p, o),
            "Replace": lambda s, p, r, o=None: check_size(
                re.compile(_regex(p).pattern, _regex_flags(o)).sub(
                    _replacement(require_str(r, "replacement")), require_str(s, "input")
                )
            ),
            "Split": lambda s, p, o=None: re.compile(_regex(p).pattern, _regex_flags(o)).split(
                require_str(s, "input")
            ),
            "Escape": lambda s: re.escape(require_str(s, "str")),
        },
    ),
)


def _regex_match(s: object, p: object, o: object = None) -> RegexMatch:
    pattern = re.compile(_regex(p).pattern, _regex_flags(o))
    text = require_str(s, "input")
    return RegexMatch(pattern.search(text), pattern, text)


_register(
    ("RegexOptions",),
    _enum_type(
        "RegexOptions",
        (
            "None",
            "IgnoreCase",
            "Multiline",
            "Singleline",
            "Compiled",
            "CultureInvariant",
            "ExplicitCapture",
            "IgnorePatternWhitespace",
        ),
    ),
)
_register(
    ("StringComparison",),
    _enum_type(
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
)
_register(
    ("StringSplitOptions",), _enum_type("StringSplitOptions", ("None", "RemoveEmptyEntries", "TrimEntries"))
)
_register(("Formatting",), _enum_type("Formatting", ("None", "Indented")))
_register(("MidpointRounding",), _enum_type("MidpointRounding", ("ToEven", "AwayFromZero")))
_register(("SHA256",), _hash_type("sha256"))
_register(("SHA1",), _hash_type("sha1"))
_register(("SHA512",), _hash_type("sha512"))
_register(("MD5",), _hash_type("md5"))
_register(("HMACSHA256",), _hmac_type("sha256"))
_register(("HMACSHA1",), _hmac_type("sha1"))
_register(("HMACSHA512",), _hmac_type("sha512"))
_register(("BitConverter",), StaticType("BitConverter", {}, {"ToString": _bitconverter_tostring}))
_register(("StringBuilder",), StaticType("StringBuilder", {}, {}, ctor=StringBuilderObj))
_register(
    ("JObject",),
    StaticType(
        "JObject",
        {},
        {"Parse": lambda s: jm.parse(s, "JObject"), "FromObject": lambda v: _from_object(v, "JObject")},
        ctor=lambda *props: _new_jobject(props),
    ),
)
_register(
    ("JArray",),
    StaticType(
        "JArray",
        {},
        {"Parse": lambda s: jm.parse(s, "JArray"), "FromObject": lambda v: _from_object(v, "JArray")},
        ctor=lambda *items: _new_jarray(items),
    ),
)
_register(
    ("JToken",),
    StaticType("JToken", {}, {"Parse": lambda s: jm.parse(s), "FromObject": lambda v: jm.to_token(v)}),
)
_register(
    ("JValue",),
    StaticType(
        "JValue",
        {},
        {},
        ctor=lambda v: jm.JValue(v if isinstance(v, str | int | float | bool) or v is None else to_string(v)),
    ),
)
_register(
    ("JProperty",),
    StaticType(
        "JProperty", {}, {}, ctor=lambda name, value=None: jm.JProperty(require_str(name, "name"), value)
    ),
)
_register(
    ("JsonConvert",),
    StaticType(
        "JsonConvert", {}, {"SerializeObject": _serialize_object, "DeserializeObject": _deserialize_object}
    ),
)
_register(("Jwt",), StaticType("Jwt", {}, {}))
_register(("Environment",), StaticType("Environment", {"NewLine": lambda: "\n"}, {}))


def _new_jobject(props: tuple[object, ...]) -> jm.JObject:
    obj = jm.JObject()
    flat: list[object] = []
    for p in props:
        if isinstance(p, list):
            flat.extend(p)
        else:
            flat.append(p)
    for p in flat:
        if isinstance(p, jm.JProperty):
            obj.items[p.Name] = p.Value
        elif isinstance(p, jm.JObject):
            obj.items.update(p.items)
        else:
            raise argument_error(f"Can not add {type_name(p)} to JObject.")
    return obj


def _new_jarray(items: tuple[object, ...]) -> jm.JArray:
    flat: list[object] = []
    for item in items:
        if isinstance(item, list):
            flat.extend(item)
        else:
            flat.append(item)
    return jm.JArray([jm.to_token(v) for v in flat])


def _from_object(value: object, expect: str) -> jm.JToken:
    token = jm.to_token(value)
    if token is None or type(token).__name__ != expect:
        raise argument_error(
            f"Object serialized to {type(token).__name__[1:] if token else 'Null'}. {expect} instance expected."
        )
    return token


# ---- built-in members -------------------------------------------------------------------------


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
            ignore = _ignore_case(r)
        else:
            start = require_int(r, "startIndex")
    if start < 0 or start > len(s):
        raise out_of_range_arg("startIndex")
    needle = require_str(value, "value")
    hay = s.lower() if ignore else s
    return hay.find(needle.lower() if ignore else needle, start)


def _last_index_of(s: str, value: object, *rest: object) -> int:
    ignore = any(isinstance(r, NetEnum) and _ignore_case(r) for r in rest)
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
    return s.lower() == other.lower() if _ignore_case(comparison) else s == other


def _startswith(s: str, v: object, comparison: object = None) -> bool:
    value = require_str(v, "value")
    return s.lower().startswith(value.lower()) if _ignore_case(comparison) else s.startswith(value)


def _endswith(s: str, v: object, comparison: object = None) -> bool:
    value = require_str(v, "value")
    return s.lower().endswith(value.lower()) if _ignore_case(comparison) else s.endswith(value)


def _contains(s: str, v: object, comparison: object = None) -> bool:
    value = require_str(v, "value")
    return value.lower() in s.lower() if _ignore_case(comparison) else value in s


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
    "Trim": lambda s, *c: s.strip(_chars(list(c)) if c else None),
    "TrimStart": lambda s, *c: s.lstrip(_chars(list(c)) if c else None),
    "TrimEnd": lambda s, *c: s.rstrip(_chars(list(c)) if c else None),
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
    "CompareTo": lambda s, o: _string_compare(s, o),
    "AsJwt": parse_jwt,
    "TryParseJwt": _try_parse_jwt,
    "GetHashCode": lambda s: hash(s) & 0x7FFFFFFF,
    "Normalize": lambda s, *f: s,
}

NUM_METHODS: dict[str, Fn] = {
    "ToString": lambda x, fmt=None, *culture: format_value(
        x, require_str(fmt, "format") if fmt is not None and not isinstance(fmt, NetObject) else None
    ),
    "Equals": lambda x, o: equals(x, o),
    "CompareTo": lambda x, o: (x > _num(o)) - (x < _num(o)),
}

BOOL_METHODS: dict[str, Fn] = {"ToString": lambda b, *a: to_string(b), "Equals": lambda b, o: equals(b, o)}

BYTES_PROPS: dict[str, Fn] = {"Length": len}
BYTES_METHODS: dict[str, Fn] = {
    "Encrypt": lambda data, alg, key, iv: _symmetric(data, alg, key, iv, True),
    "Decrypt": lambda data, alg, key, iv: _symmetric(data, alg, key, iv, False),
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
    "Ticks": lambda d: (d - _EPOCH) // timedelta(microseconds=1) * 10,
    "Date": lambda d: d.replace(hour=0, minute=0, second=0, microsecond=0),
    "DayOfWeek": lambda d: NetEnum("DayOfWeek", d.strftime("%A")),
    "DayOfYear": lambda d: d.timetuple().tm_yday,
    "TimeOfDay": lambda d: timedelta(
        hours=d.hour, minutes=d.minute, seconds=d.second, microseconds=d.microsecond
    ),
    "Kind": lambda d: NetEnum("DateTimeKind", "Utc"),
    "UtcDateTime": lambda d: d,
}
DT_METHODS: dict[str, Fn] = {
    "AddSeconds": lambda d, v: _dt_add(d, seconds=_num(v)),
    "AddMinutes": lambda d, v: _dt_add(d, minutes=_num(v)),
    "AddHours": lambda d, v: _dt_add(d, hours=_num(v)),
    "AddDays": lambda d, v: _dt_add(d, days=_num(v)),
    "AddMilliseconds": lambda d, v: _dt_add(d, milliseconds=_num(v)),
    "AddTicks": lambda d, v: _dt_add(d, microseconds=_num(v) / 10),
    "AddMonths": _add_months,
    "AddYears": lambda d, v: _add_months(d, require_int(v, "value") * 12),
    "Add": lambda d, t: d + t if isinstance(t, timedelta) else _num(t),
    "Subtract": lambda d, o: d - o,
    "ToString": lambda d, fmt=None, *culture: format_datetime(
        d, require_str(fmt, "format") if fmt is not None else None
    ),
    "ToUniversalTime": lambda d: d,
    "ToLocalTime": lambda d: d,
    "ToUnixTimeSeconds": lambda d: int((d - _UNIX).total_seconds()),
    "ToUnixTimeMilliseconds": lambda d: int((d - _UNIX) / timedelta(milliseconds=1)),
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
    "ToString": _guid_string,
    "Equals": lambda g, o: g == o,
    "ToByteArray": lambda g: g.bytes_le,
    "CompareTo": lambda g, o: (g > o) - (g < o),
}


# LINQ over enumerables (lists, JArray, dictionaries, strings)


def iterate(value: object) -> list[Any]:
    if value is None:
        raise null_reference()
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str):
        return [Char(c) for c in value]
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, NetObject):
        return list(value.net_iter())
    raise EvalError("InvalidOperationException", f"'{type_name(value)}' is not enumerable.")


def _pred(fn: object) -> Fn:
    if not callable(fn):
        raise argument_error("A lambda expression was expected.")
    result: Fn = fn
    return result


def _first(items: list[Any], fn: object = None, default: bool = False, last: bool = False) -> Any:
    seq = [x for x in items if require_bool(_pred(fn)(x), "predicate")] if fn is not None else items
    if not seq:
        if default:
            return None
        raise EvalError(
            "InvalidOperationException",
            "Sequence contains no matching element" if fn is not None else "Sequence contains no elements",
        )
    return seq[-1] if last else seq[0]


def _single(items: list[Any], fn: object = None, default: bool = False) -> Any:
    seq = [x for x in items if require_bool(_pred(fn)(x), "predicate")] if fn is not None else items
    if len(seq) > 1:
        raise EvalError("InvalidOperationException", "Sequence contains more than one element")
    if not seq:
        if default:
            return None
        raise EvalError("InvalidOperationException", "Sequence contains no elements")
    return seq[0]


def _sort_key(v: Any) -> Any:
    if isinstance(v, jm.JValue):
        v = v.value
    if v is None:
        return (0, 0)
    if isinstance(v, int | float):
        return (1, v)
    return (2, to_string(v)) if not isinstance(v, datetime) else (3, v)


def _contains_item(items: list[Any], value: object, comparer: object = None) -> bool:
    if isinstance(comparer, (NetEnum, StaticType)):
        return any(
            isinstance(x, str) and isinstance(value, str) and x.lower() == value.lower() for x in items
        )
    return any(equals(x, value) for x in items)


def _sum(items: list[Any], fn: object = None) -> int | float:
    total: int | float = 0
    for x in items:
        total += _num(_pred(fn)(x) if fn is not None else x)
    return total


LINQ: dict[str, Fn] = {
    "Any": lambda items, fn=None: (
        any(require_bool(_pred(fn)(x), "predicate") for x in items) if fn is not None else bool(items)
    ),
    "All": lambda items, fn: all(require_bool(_pred(fn)(x), "predicate") for x in items),
    "Where": lambda items, fn: [x for x in items if require_bool(_pred(fn)(x), "predicate")],
    "Select": lambda items, fn: [_pred(fn)(x) for x in items],
    "SelectMany": lambda items, fn: [y for x in items for y in iterate(_pred(fn)(x))],
    "First": lambda items, fn=None: _first(items, fn),
    "FirstOrDefault": lambda items, fn=None: _first(items, fn, default=True),
    "Last": lambda items, fn=None: _first(items, fn, last=True),
    "LastOrDefault": lambda items, fn=None: _first(items, fn, default=True, last=True),
    "Single": lambda items, fn=None: _single(items, fn),
    "SingleOrDefault": lambda items, fn=None: _single(items, fn, default=True),
    "Count": lambda items, fn=None: (
        sum(1 for x in items if require_bool(_pred(fn)(x), "predicate")) if fn is not None else len(items)
    ),
    "Contains": _contains_item,
    "ToArray": lambda items: list(items),
    "ToList": lambda items: list(items),
    "OrderBy": lambda items, fn: sorted(items, key=lambda x: _sort_key(_pred(fn)(x))),
    "OrderByDescending": lambda items, fn: sorted(items, key=lambda x: _sort_key(_pred(fn)(x)), reverse=True),
    "Skip": lambda items, n: items[max(require_int(n, "count"), 0) :],
    "Take": lambda items, n: items[: max(require_int(n, "count"), 0)],
    "Distinct": lambda items: _distinct(items),
    "Reverse": lambda items: list(reversed(items)),
    "Sum": _sum,
    "Min": lambda items, fn=None: (
        min((_pred(fn)(x) if fn is not None else x) for x in items) if items else _empty_seq()
    ),
    "Max": lambda items, fn=None: (
        max((_pred(fn)(x) if fn is not None else x) for x in items) if items else _empty_seq()
    ),
    "Concat": lambda items, other: items + iterate(other),
    "ElementAt": lambda items, i: _element_at(items, i),
    "ElementAtOrDefault": lambda items, i: items[i] if isinstance(i, int) and 0 <= i < len(items) else None,
}


def _element_at(items: list[Any], i: object) -> Any:
    idx = require_int(i, "index")
    if not 0 <= idx < len(items):
        raise out_of_range_arg("index")
    return items[idx]


def _empty_seq() -> Any:
    raise EvalError("InvalidOperationException", "Sequence contains no elements")


def _distinct(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in items:
        if not any(equals(x, y) for y in out):
            out.append(x)
    return out


LIST_PROPS: dict[str, Fn] = {"Length": len, "Count": len}
LIST_METHODS: dict[str, Fn] = {
    "Add": lambda items, v: items.append(v),
    "IndexOf": lambda items, v: next((i for i, x in enumerate(items) if equals(x, v)), -1),
    "ToString": lambda items: to_string(items),
}


# ---- dispatch ---------------------------------------------------------------------------------


def get_member(obj: object, name: str) -> Any:
    if obj is None:
        raise null_reference()
    if isinstance(obj, NetObject):
        return obj.net_get(name)
    table: dict[str, Fn] | None = None
    if isinstance(obj, str):
        table = STR_PROPS
    elif isinstance(obj, bytes):
        table = BYTES_PROPS
    elif isinstance(obj, list | tuple):
        table = LIST_PROPS
    elif isinstance(obj, datetime):
        table = DT_PROPS
    elif isinstance(obj, timedelta):
        table = TS_PROPS
    fn = table.get(name) if table is not None else None
    if fn is None:
        raise EvalError(
            "MissingMemberException", f"'{type_name(obj)}' does not contain a definition for '{name}'."
        )
    return fn(obj)


def call_method(
    obj: object, name: str, args: list[Any], kwargs: dict[str, Any], targs: tuple[str, ...]
) -> Any:
    if obj is None:
        raise null_reference()
    if isinstance(obj, NetObject) and (
        name in obj.NET_METHODS or isinstance(obj, StaticType) or name not in LINQ
    ):
        return obj.net_call(name, args, kwargs, targs)
    table: dict[str, Fn] | None = None
    if isinstance(obj, str) and name in STR_METHODS:
        table = STR_METHODS
    elif isinstance(obj, bool):
        table = BOOL_METHODS
    elif isinstance(obj, int | float):
        table = NUM_METHODS
    elif isinstance(obj, bytes) and name in BYTES_METHODS:
        table = BYTES_METHODS
    elif isinstance(obj, datetime):
        table = DT_METHODS
    elif isinstance(obj, timedelta):
        table = TS_METHODS
    elif isinstance(obj, uuid.UUID):
        table = GUID_METHODS
    elif isinstance(obj, list) and name in LIST_METHODS:
        table = LIST_METHODS
    if table is not None and name in table:
        try:
            return table[name](obj, *args, **kwargs)
        except TypeError as exc:
            raise EvalError(
                "MissingMethodException",
                f"No overload for method '{name}' of '{type_name(obj)}' takes these {len(args)} arguments.",
            ) from exc
    if name in LINQ:
        try:
            return LINQ[name](iterate(obj), *args, **kwargs)
        except TypeError as exc:
            raise EvalError(
                "MissingMethodException",
                f"No overload for method '{name}' takes these {len(args)} arguments.",
            ) from exc
    if name == "ToString" and not args:
        return to_string(obj)
    if name == "Equals" and len(args) == 1:
        return equals(obj, args[0])
    raise EvalError("MissingMethodException", f"'{type_name(obj)}' does not contain a method '{name}'.")


def get_index(obj: object, key: object) -> Any:
    if obj is None:
        raise null_reference()
    if isinstance(obj, NetObject):
        return obj.net_index(key)
    if isinstance(obj, str | bytes | list | tuple):
        i = require_int(key, "index")
        if not 0 <= i < len(obj):
            raise EvalError("IndexOutOfRangeException", "Index was outside the bounds of the array.")
        item = obj[i]
        return Char(item) if isinstance(obj, str) else item
    raise EvalError("InvalidOperationException", f"Cannot apply indexing to '{type_name(obj)}'.")


def set_index(obj: object, key: object, value: object) -> None:
    if obj is None:
        raise null_reference()
    if isinstance(obj, NetObject):
        obj.net_set_index(key, value)
        return
    if isinstance(obj, list):
        i = require_int(key, "index")
        if not 0 <= i < len(obj):
            raise EvalError("IndexOutOfRangeException", "Index was outside the bounds of the array.")
        obj[i] = value
        return
    raise EvalError("InvalidOperationException", f"'{type_name(obj)}' cannot be assigned through an indexer.")


_TYPE_CHECKS: dict[str, Callable[[object], bool]] = {
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
    "JObject": lambda v: isinstance(v, jm.JObject),
    "JArray": lambda v: isinstance(v, jm.JArray),
    "JValue": lambda v: isinstance(v, jm.JValue),
    "JToken": lambda v: isinstance(v, jm.JToken),
    "JProperty": lambda v: isinstance(v, jm.JProperty),
    "Jwt": lambda v: isinstance(v, Jwt),
    "Uri": lambda v: isinstance(v, UriObj),
}
_ALIASES = {
    "String": "string", "Int32": "int", "Int64": "long", "Double": "double", "float": "double", "Single": "double",
    "decimal": "double", "Decimal": "double", "Boolean": "bool", "Object": "object", "Char": "char", "byte": "int",
}  # fmt: skip
CASTABLE = frozenset(_TYPE_CHECKS) | frozenset(_ALIASES) | {"byte[]", "string[]"}


def register_type(name: str, check: Callable[[object], bool]) -> None:
    """Let the context model make its interfaces castable (``(IResponse)context.Variables[...]``)."""
    global CASTABLE
    _TYPE_CHECKS[name] = check
    CASTABLE = CASTABLE | {name}


def canonical(name: str) -> str:
    return _ALIASES.get(name, name)


def is_type(value: object, name: str, array: bool = False) -> bool:
    if array:
        if name == "byte":
            return isinstance(value, bytes)
        return isinstance(value, list)
    check = _TYPE_CHECKS.get(canonical(name))
    return check(value) if check is not None else False


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
    check = _TYPE_CHECKS.get(t)
    if check is not None and check(value):
        return value
    if t == "string" and isinstance(value, Char):
        raise invalid_cast(value, name)
    raise invalid_cast(value, name)


def construct(name: str, args: list[Any], items: list[Any] | None, array: bool) -> Any:
    """``new T(args) { items }`` / ``new T[] { items }``."""
    if array:
        if items is None and args:
            size = require_int(args[0], "length")
            if not 0 <= size <= 1_000_000:
                raise out_of_range_arg("length")
            if name == "byte":
                return bytes(size)
            default = {"int": 0, "long": 0, "double": 0.0, "bool": False}.get(name)
            return [default] * size
        if name == "byte":
            return bytes(require_int(i, "item") & 0xFF for i in (items or []))
        return list(items or [])
    if name in ("Dictionary", "List"):
        raise EvalError("NotSupportedException", f"'new {name}' is not supported by the local gateway.")
    if name == "<anonymous>":
        raise AssertionError("anonymous objects are built by the compiler")
    t = STATIC_TYPES.get(name)
    if t is None or t.ctor is None:
        raise EvalError("NotSupportedException", f"'new {name}(...)' is not supported by the local gateway.")
    obj = t.ctor(*args)
    for item in items or []:
        if isinstance(obj, jm.JObject):
            if isinstance(item, list) and len(item) == 2:
                obj.m_Add(item[0], item[1])
            else:
                obj.m_Add(item)
        elif isinstance(obj, jm.JArray):
            obj.m_Add(item)
        else:
            raise EvalError(
                "NotSupportedException", f"A collection initializer is not supported for '{name}'."
            )
    return obj


def _known_names() -> tuple[frozenset[str], frozenset[str]]:
    props: set[str] = set(STR_PROPS) | set(BYTES_PROPS) | set(DT_PROPS) | set(TS_PROPS) | set(LIST_PROPS)
    methods: set[str] = (
        set(STR_METHODS)
        | set(NUM_METHODS)
        | set(BYTES_METHODS)
        | set(DT_METHODS)
        | set(TS_METHODS)
        | set(GUID_METHODS)
        | set(LINQ)
        | set(LIST_METHODS)
    )
    classes: list[type[NetObject]] = [
        jm.JValue,
        jm.JProperty,
        jm.JObject,
        jm.JArray,
        RegexMatch,
        RegexGroups,
        RegexGroup,
        KeyValue,
        NetDict,
        Jwt,
        HashAlgo,
        EncodingObj,
        UriObj,
        StringBuilderObj,
    ]
    for cls in classes:
        props |= cls.NET_PROPS
        methods |= cls.NET_METHODS
    for t in STATIC_TYPES.values():
        props |= set(t.props)
        methods |= set(t.methods)
    methods |= {"ToString", "Equals", "GetType"}
    return frozenset(props), frozenset(methods)


def register_classes(classes: Iterable[type[NetObject]]) -> None:
    """Let the context model add its members to the PUT-time whitelist."""
    global KNOWN_MEMBERS, KNOWN_METHODS
    props, methods = set(KNOWN_MEMBERS), set(KNOWN_METHODS)
    for cls in classes:
        props |= cls.NET_PROPS
        methods |= cls.NET_METHODS
    KNOWN_MEMBERS, KNOWN_METHODS = frozenset(props), frozenset(methods)


KNOWN_MEMBERS, KNOWN_METHODS = _known_names()
