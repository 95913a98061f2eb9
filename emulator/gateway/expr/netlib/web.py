"""Web helpers of expressions: ``System.Net.WebUtility``, ``System.Net.IPAddress``, HTTP Basic
credentials (``AsBasic()`` / ``TryParseBasic(out ...)`` on a string) and URL-encoded form bodies
(``context.Request.Body.AsFormUrlEncodedContent()``: ``IDictionary<string, IList<string>>`` with
``ToQueryString()`` / ``ToFormUrlEncodedContent()``) — as Learn's "API Management policy
expressions" documents them.
"""

# ruff: noqa: N802  - members carry their .NET names (m_<Name> methods, .NET properties)

from __future__ import annotations

import base64
import binascii
import html
import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from emulator.gateway.expr.netlib.convert import OutRef
from emulator.gateway.expr.netlib.objects import KeyValue
from emulator.gateway.expr.netlib.statics import StaticTable, StaticType, enum_type
from emulator.gateway.expr.values import (
    EvalError,
    NetEnum,
    NetObject,
    argument_error,
    require_str,
    to_string,
)

# WebUtility.UrlEncode keeps letters, digits and - _ . ! * ( ); a space becomes '+'
_URL_SAFE = "-_.!*()"


def url_encode(value: object) -> str | None:
    if value is None:
        return None
    out: list[str] = []
    for byte in require_str(value, "value").encode("utf-8", errors="surrogatepass"):
        c = chr(byte)
        if c.isascii() and (c.isalnum() or c in _URL_SAFE):
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def url_decode(value: object) -> str | None:
    return None if value is None else unquote_plus(require_str(value, "encodedValue"))


def html_encode(value: object) -> str | None:
    """``WebUtility.HtmlEncode``: ``< > & " '`` and characters 160-255 as entities."""
    if value is None:
        return None
    out: list[str] = []
    for c in require_str(value, "value"):
        if c in "<>&\"'":
            out.append({"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;"}[c])
        elif 160 <= ord(c) <= 255:
            out.append(f"&#{ord(c)};")
        else:
            out.append(c)
    return "".join(out)


def html_decode(value: object) -> str | None:
    return None if value is None else html.unescape(require_str(value, "value"))


class BasicAuthCredentials(NetObject):
    NET_TYPE = "BasicAuthCredentials"
    NET_CASTABLE = True
    NET_PROPS = frozenset({"UserId", "Password"})

    def __init__(self, user: str, password: str) -> None:
        self.UserId = user
        self.Password = password


def as_basic(value: object) -> BasicAuthCredentials | None:
    """``AsBasic()``: the credentials of an HTTP Basic authorization value, or null."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return BasicAuthCredentials(user, password) if sep else None


def try_parse_basic(value: object, out: object) -> bool:
    if not isinstance(out, OutRef):
        raise argument_error("TryParseBasic needs an 'out' argument.")
    parsed = as_basic(value)
    out.set(parsed)
    return parsed is not None


class FormContent(NetObject):
    """``IDictionary<string, IList<string>>`` of a URL-encoded form body. A missing key read
    through the indexer is added with an empty list: Learn's set-body example adds a field with
    ``body["newKey"].Add("newValue")``."""

    NET_TYPE = "IDictionary"
    NET_PROPS = frozenset({"Count", "Keys", "Values"})
    NET_METHODS = frozenset(
        {"ContainsKey", "TryGetValue", "Remove", "Add", "Clear", "ToQueryString", "ToFormUrlEncodedContent"}
    )

    def __init__(self, text: str) -> None:
        self.items: dict[str, list[Any]] = {}
        for k, v in parse_qsl(text, keep_blank_values=True):
            self.items.setdefault(k, []).append(v)

    @property
    def Count(self) -> int:
        return len(self.items)

    @property
    def Keys(self) -> list[str]:
        return list(self.items)

    @property
    def Values(self) -> list[list[Any]]:
        return list(self.items.values())

    def net_index(self, key: Any) -> Any:
        return self.items.setdefault(require_str(key, "key"), [])

    def net_set_index(self, key: Any, value: Any) -> None:
        if not isinstance(value, list):
            raise EvalError("InvalidCastException", "A form field holds an IList<string>.")
        self.items[require_str(key, "key")] = value

    def net_iter(self) -> Iterable[Any]:
        return [KeyValue(k, v) for k, v in self.items.items()]

    def m_ContainsKey(self, key: object) -> bool:
        return require_str(key, "key") in self.items

    def m_TryGetValue(self, key: object, out: object) -> bool:
        if not isinstance(out, OutRef):
            raise argument_error("TryGetValue needs an 'out' argument.")
        found = self.items.get(require_str(key, "key"))
        out.set(found)
        return found is not None

    def m_Remove(self, key: object) -> bool:
        return self.items.pop(require_str(key, "key"), None) is not None

    def m_Add(self, key: object, value: object) -> None:
        name = require_str(key, "key")
        if name in self.items:
            raise argument_error(f"An item with the same key has already been added. Key: {name}")
        self.net_set_index(name, value)

    def m_Clear(self) -> None:
        self.items.clear()

    def m_ToQueryString(self) -> str:
        return "&".join(
            f"{url_encode(k)}={url_encode(to_string(v))}" for k, vs in self.items.items() for v in vs
        )

    def m_ToFormUrlEncodedContent(self) -> str:
        return self.m_ToQueryString()

    def as_json(self) -> Any:
        return {k: [to_string(v) for v in vs] for k, vs in self.items.items()}


class IPAddressObj(NetObject):
    """``System.Net.IPAddress`` (API Management allows ``AddressFamily``, ``Equals``,
    ``GetAddressBytes``, ``IsLoopback``, ``Parse``, ``TryParse``, ``ToString``)."""

    NET_TYPE = "IPAddress"
    NET_CASTABLE = True
    NET_PROPS = frozenset({"AddressFamily"})
    NET_METHODS = frozenset({"GetAddressBytes", "Equals"})

    def __init__(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        self.address = address

    @property
    def AddressFamily(self) -> NetEnum:
        return NetEnum("AddressFamily", "InterNetwork" if self.address.version == 4 else "InterNetworkV6")

    def m_GetAddressBytes(self) -> bytes:
        return self.address.packed

    def m_Equals(self, other: object) -> bool:
        return isinstance(other, IPAddressObj) and other.address == self.address

    def net_str(self) -> str:
        return str(self.address)


def parse_ip(text: object) -> IPAddressObj:
    try:
        return IPAddressObj(ipaddress.ip_address(require_str(text, "ipString").strip()))
    except ValueError as exc:
        raise EvalError("FormatException", "An invalid IP address was specified.") from exc


def _try_parse_ip(text: object, out: object) -> bool:
    if not isinstance(out, OutRef):
        raise argument_error("TryParse needs an 'out' argument.")
    try:
        out.set(parse_ip(text))
        return True
    except EvalError:
        out.set(None)
        return False


def _is_loopback(address: object) -> bool:
    if not isinstance(address, IPAddressObj):
        raise EvalError("ArgumentNullException", "Value cannot be null. (Parameter 'address')")
    return address.address.is_loopback


STATIC: StaticTable = (
    (
        ("WebUtility",),
        StaticType(
            "WebUtility",
            {},
            {
                "UrlEncode": url_encode,
                "UrlDecode": url_decode,
                "HtmlEncode": html_encode,
                "HtmlDecode": html_decode,
            },
        ),
    ),
    (
        ("IPAddress",),
        StaticType(
            "IPAddress",
            {
                "Loopback": lambda: IPAddressObj(ipaddress.ip_address("127.0.0.1")),
                "IPv6Loopback": lambda: IPAddressObj(ipaddress.ip_address("::1")),
                "Any": lambda: IPAddressObj(ipaddress.ip_address("0.0.0.0")),  # noqa: S104 - a value, not a bind
            },
            {"Parse": parse_ip, "TryParse": _try_parse_ip, "IsLoopback": _is_loopback},
        ),
    ),
    (("AddressFamily",), enum_type("AddressFamily", ("InterNetwork", "InterNetworkV6"))),
    (("BasicAuthCredentials",), StaticType("BasicAuthCredentials", {}, {})),
)
