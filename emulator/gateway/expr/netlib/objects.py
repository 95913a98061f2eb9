""".NET objects of the library: dictionaries (``NetDict``, ``KeyValue``), ``Encoding``, ``Uri``,
``StringBuilder`` and anonymous objects (``new { a = 1 }``), with their static types.
"""

# ruff: noqa: N802  - members carry their .NET names (m_<Name> methods, .NET properties)

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.netlib.casts import cast
from emulator.gateway.expr.netlib.convert import OutRef, require_bytes
from emulator.gateway.expr.netlib.statics import StaticTable, StaticType
from emulator.gateway.expr.values import (
    EvalError,
    NetObject,
    argument_error,
    require_int,
    require_str,
    to_string,
)


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
        raw = require_bytes(data, "bytes")
        if index is not None:
            start = require_int(index, "index")
            raw = raw[start : start + require_int(count, "count")] if count is not None else raw[start:]
        return raw.decode(self.codec, errors="replace")


class UriObj(NetObject):
    NET_TYPE = "Uri"
    NET_CASTABLE = True
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


def _escape_data(text: object) -> str:
    from urllib.parse import quote

    return quote(require_str(text, "stringToEscape"), safe="-_.~")


def _unescape_data(text: object) -> str:
    from urllib.parse import unquote

    return unquote(require_str(text, "stringToUnescape"))


def _well_formed(s: object) -> bool:
    try:
        UriObj(s)
        return True
    except EvalError:
        return False


STATIC: StaticTable = (
    (
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
    ),
    (
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
    ),
    (("StringBuilder",), StaticType("StringBuilder", {}, {}, ctor=StringBuilderObj)),
)
