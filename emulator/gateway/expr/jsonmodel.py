"""Newtonsoft.Json's JObject / JArray / JValue / JProperty and JsonConvert, for expressions.

``parse`` reads JSON text into tokens; ``to_token`` wraps plain values (``new JObject(...)``,
``JObject.FromObject``); ``serialize`` writes them back with Newtonsoft's layout (``ToString()``
is indented by two spaces, ``Formatting.None`` and ``JsonConvert.SerializeObject`` are compact).
Difference from Newtonsoft, documented in docs/policies.md: date-looking strings stay strings.
"""

# ruff: noqa: N802  - members carry their .NET names (m_<Name> methods, .NET properties)

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from emulator.gateway.expr.values import (
    EvalError,
    NetEnum,
    NetObject,
    format_datetime,
    format_double,
    invalid_cast,
    parse_datetime,
    require_str,
    to_string,
)

MAX_JSON = 4 * 1024 * 1024
# Newtonsoft.Json.Linq.JTokenType (allowed by API Management: "All" members)
TOKEN_TYPES = (
    "None", "Object", "Array", "Constructor", "Property", "Comment", "Integer", "Float", "String",
    "Boolean", "Null", "Undefined", "Date", "Raw", "Bytes", "Guid", "Uri", "TimeSpan",
)  # fmt: skip


def token_type(name: str) -> NetEnum:
    return NetEnum("JTokenType", name)


class JToken(NetObject):
    NET_TYPE = "JToken"
    NET_CASTABLE = True

    def plain(self) -> Any:
        raise NotImplementedError

    def net_str(self) -> str:
        return serialize(self, indented=True)

    def m_ToString(self, formatting: object = None, *converters: object) -> str:
        indented = not (isinstance(formatting, NetEnum) and formatting.name == "None")
        return serialize(self, indented=indented)

    def m_Value(self, key: object = None, _targs: tuple[str, ...] = ()) -> Any:
        token = self if key is None else self.net_index(key)
        return convert_token(token, _targs[0] if _targs else "object")

    def m_ToObject(self, _targs: tuple[str, ...] = ()) -> Any:
        return convert_token(self, _targs[0] if _targs else "object")

    def m_SelectToken(self, path: object) -> Any:
        return select_token(self, require_str(path, "path"))

    def m_DeepClone(self) -> JToken | None:
        return to_token(self.plain())

    def m_Children(self) -> list[Any]:
        return list(self.net_iter()) if isinstance(self, JObject | JArray) else []

    @property
    def HasValues(self) -> bool:
        """Newtonsoft: whether the token has child tokens."""
        return False

    @property
    def First(self) -> Any:
        children = self.m_Children()
        return children[0] if children else None

    @property
    def Last(self) -> Any:
        children = self.m_Children()
        return children[-1] if children else None


class JValue(JToken):
    NET_TYPE = "JValue"
    NET_PROPS = frozenset({"Value", "Type", "HasValues"})
    NET_METHODS = frozenset(
        {"ToString", "Value", "ToObject", "DeepClone", "Children"}
    )  # Value<T>(): the value itself

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def Value(self) -> Any:
        return self.value

    @property
    def Type(self) -> NetEnum:
        v = self.value
        if v is None:
            return token_type("Null")
        if isinstance(v, bool):
            return token_type("Boolean")
        if isinstance(v, int):
            return token_type("Integer")
        if isinstance(v, float):
            return token_type("Float")
        return token_type("String")

    def plain(self) -> Any:
        return self.value

    def net_str(self) -> str:
        return to_string(self.value) if self.value is not None else ""

    def m_ToString(self, formatting: object = None, *converters: object) -> str:
        return self.net_str()


class JProperty(JToken):
    NET_TYPE = "JProperty"
    NET_PROPS = frozenset({"Name", "Value", "Type", "HasValues"})
    NET_METHODS = frozenset({"ToString", "Children"})

    @property
    def Type(self) -> NetEnum:
        return token_type("Property")

    @property
    def HasValues(self) -> bool:
        return True

    def m_Children(self) -> list[Any]:
        return [self.Value]

    def __init__(self, name: str, value: Any) -> None:
        self.Name = name
        self.Value = to_token(value)

    def plain(self) -> Any:
        return {self.Name: self.Value.plain() if isinstance(self.Value, JToken) else None}

    def net_str(self) -> str:
        return f'"{self.Name}": {serialize(self.Value, indented=True)}'


class JObject(JToken):
    NET_TYPE = "JObject"
    NET_PROPS = frozenset({"Count", "Type", "HasValues", "First", "Last"})
    NET_METHODS = frozenset(
        {"ToString", "Value", "ToObject", "SelectToken", "DeepClone", "ContainsKey", "Add", "Remove",
         "Properties", "Property", "TryGetValue", "GetValue", "Children"}
    )  # fmt: skip

    def __init__(self, items: dict[str, JToken | None] | None = None) -> None:
        self.items: dict[str, JToken | None] = items if items is not None else {}

    @property
    def Count(self) -> int:
        return len(self.items)

    @property
    def Type(self) -> NetEnum:
        return token_type("Object")

    @property
    def HasValues(self) -> bool:
        return bool(self.items)

    def plain(self) -> Any:
        return {k: (v.plain() if v is not None else None) for k, v in self.items.items()}

    def net_index(self, key: Any) -> Any:
        return self.items.get(require_str(key, "propertyName"))

    def net_set_index(self, key: Any, value: Any) -> None:
        self.items[require_str(key, "propertyName")] = to_token(value)

    def net_iter(self) -> Iterable[Any]:
        return [JProperty(k, v) for k, v in self.items.items()]

    def m_ContainsKey(self, key: object) -> bool:
        return require_str(key, "propertyName") in self.items

    def m_Add(self, name: object, value: object = None) -> None:
        prop = name if isinstance(name, JProperty) else JProperty(require_str(name, "propertyName"), value)
        if prop.Name in self.items:
            raise EvalError(
                "ArgumentException",
                f"Can not add property {prop.Name} to JObject. Property with the same name already exists on object.",
            )
        self.items[prop.Name] = prop.Value

    def m_Remove(self, name: object) -> bool:
        return self.items.pop(require_str(name, "propertyName"), None) is not None or False

    def m_Properties(self) -> list[JProperty]:
        return [JProperty(k, v) for k, v in self.items.items()]

    def m_Property(self, name: object) -> JProperty | None:
        key = require_str(name, "name")
        return JProperty(key, self.items[key]) if key in self.items else None

    def m_GetValue(self, name: object, comparison: object = None) -> Any:
        key = require_str(name, "propertyName")
        if isinstance(comparison, NetEnum) and comparison.name.endswith("IgnoreCase"):
            for k, v in self.items.items():
                if k.lower() == key.lower():
                    return v
            return None
        return self.items.get(key)


class JArray(JToken):
    NET_TYPE = "JArray"
    NET_PROPS = frozenset({"Count", "Type", "HasValues", "First", "Last"})
    NET_METHODS = frozenset(
        {
            "Children",
            "ToString",
            "ToObject",
            "SelectToken",
            "DeepClone",
            "Add",
            "Remove",
            "Contains",
            "IndexOf",
            "RemoveAt",
            "Clear",
        }
    )

    def __init__(self, items: list[JToken | None] | None = None) -> None:
        self.items: list[JToken | None] = items if items is not None else []

    @property
    def Count(self) -> int:
        return len(self.items)

    @property
    def Type(self) -> NetEnum:
        return token_type("Array")

    @property
    def HasValues(self) -> bool:
        return bool(self.items)

    def plain(self) -> Any:
        return [v.plain() if v is not None else None for v in self.items]

    def net_index(self, key: Any) -> Any:
        if isinstance(key, bool) or not isinstance(key, int):
            raise EvalError(
                "ArgumentException",
                "Accessed JArray values with invalid key value. Int32 array index expected.",
            )
        if not 0 <= key < len(self.items):
            raise EvalError(
                "ArgumentOutOfRangeException",
                "Index was out of range. Must be non-negative and less than the size of the collection.",
            )
        return self.items[key]

    def net_set_index(self, key: Any, value: Any) -> None:
        self.net_index(key)
        self.items[key] = to_token(value)

    def net_iter(self) -> Iterable[Any]:
        return list(self.items)

    def m_Add(self, value: object) -> None:
        self.items.append(to_token(value))

    def m_Remove(self, value: object) -> bool:
        for i, item in enumerate(self.items):
            if item is value:
                del self.items[i]
                return True
        return False

    def m_RemoveAt(self, index: object) -> None:
        self.net_index(index)
        assert isinstance(index, int)
        del self.items[index]

    def m_Clear(self) -> None:
        self.items.clear()

    def m_Contains(self, value: object) -> bool:
        return any(item is value for item in self.items)

    def m_IndexOf(self, value: object) -> int:
        for i, item in enumerate(self.items):
            if item is value:
                return i
        return -1


def to_token(value: Any) -> JToken | None:
    """Wrap a value as a JToken (``new JProperty("a", 1)``, ``JObject.FromObject``)."""
    if value is None:
        return JValue(None)
    if isinstance(value, JToken):
        return value
    if isinstance(value, dict):
        return JObject({str(k): to_token(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return JArray([to_token(v) for v in value])
    if isinstance(value, bool | int | float | str):
        return JValue(value)
    if isinstance(value, datetime):
        return JValue(format_datetime(value, "yyyy-MM-ddTHH:mm:ss.FFFFFFFK").replace(".FFFFFFF", ""))
    if isinstance(value, uuid.UUID | timedelta):
        return JValue(to_string(value))
    if isinstance(value, NetObject) and hasattr(value, "as_json"):
        return to_token(value.as_json())
    if isinstance(value, NetObject):
        return JValue(to_string(value))
    if isinstance(value, bytes):
        import base64

        return JValue(base64.b64encode(value).decode("ascii"))
    raise invalid_cast(value, "JToken")


def _from_json(value: Any) -> JToken:
    if isinstance(value, dict):
        return JObject({k: _from_json(v) for k, v in value.items()})
    if isinstance(value, list):
        return JArray([_from_json(v) for v in value])
    return JValue(value)


def parse(text: object, expect: str = "JToken") -> JToken:
    source = require_str(text, "json")
    if len(source) > MAX_JSON:
        raise EvalError("JsonReaderException", "JSON text is larger than the local gateway allows.")
    try:
        raw = json.loads(source)
    except (ValueError, RecursionError) as exc:
        raise EvalError(
            "JsonReaderException", f"Unexpected character encountered while parsing value: {exc}"
        ) from exc
    token = _from_json(raw)
    if expect == "JObject" and not isinstance(token, JObject):
        raise EvalError(
            "JsonReaderException",
            "Error reading JObject from JsonReader. Current JsonReader item is not an object.",
        )
    if expect == "JArray" and not isinstance(token, JArray):
        raise EvalError(
            "JsonReaderException",
            "Error reading JArray from JsonReader. Current JsonReader item is not an array.",
        )
    return token


def _plain_for_json(value: Any) -> Any:
    if isinstance(value, JToken):
        return value.plain()
    token = to_token(value)
    return token.plain() if token is not None else None


def _float_repr(value: Any) -> Any:
    if isinstance(value, float):
        text = format_double(value)
        return _RawFloat(text if any(c in text for c in ".E") else text + ".0")
    if isinstance(value, dict):
        return {k: _float_repr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_float_repr(v) for v in value]
    return value


class _RawFloat(float):
    def __new__(cls, text: str) -> _RawFloat:
        obj = super().__new__(cls, float(text.replace("E", "e")))
        obj.text = text  # type: ignore[attr-defined]
        return obj

    def __repr__(self) -> str:
        return str(self.text)  # type: ignore[attr-defined]


def serialize(value: Any, indented: bool = False) -> str:
    plain = _plain_for_json(value)
    try:
        if indented:
            return json.dumps(plain, indent=2, ensure_ascii=False)
        return json.dumps(plain, separators=(",", ":"), ensure_ascii=False)
    except (ValueError, RecursionError) as exc:
        raise EvalError("JsonSerializationException", str(exc)) from exc


def convert_token(token: Any, target: str) -> Any:
    """``Value<T>()`` / ``ToObject<T>()`` / an explicit cast of a JToken."""
    if target in ("object", "Object", "JToken"):
        return token
    if token is None:
        return None
    if target in ("JObject", "JArray", "JValue"):
        if type(token).__name__ != target:
            raise invalid_cast(token, target)
        return token
    if not isinstance(token, JValue):
        if target in ("string", "String"):
            raise EvalError("ArgumentException", f"Can not convert {token.NET_TYPE[1:]} to String.")
        raise invalid_cast(token, target)
    v = token.value
    if target in ("string", "String"):
        if v is None:
            return None
        if isinstance(v, bool):
            return "True" if v else "False"
        return to_string(v)
    if v is None:
        if target in (
            "int",
            "long",
            "double",
            "bool",
            "float",
            "decimal",
            "Int32",
            "Int64",
            "Double",
            "Boolean",
        ):
            raise EvalError("ArgumentException", f"Can not convert Null to {target}.")
        return None
    try:
        if target in ("int", "long", "Int32", "Int64"):
            if isinstance(v, str):
                return int(v.strip())
            return round(v) if isinstance(v, float) else int(v)
        if target in ("double", "float", "decimal", "Double", "Single", "Decimal"):
            return float(v)
        if target in ("bool", "Boolean"):
            if isinstance(v, str):
                if v.strip().lower() in ("true", "false"):
                    return v.strip().lower() == "true"
                raise ValueError(v)
            return bool(v)
    except (ValueError, TypeError) as exc:
        raise EvalError("FormatException", f"Could not convert '{to_string(v)}' to {target}.") from exc
    if target == "DateTime":
        return parse_datetime(to_string(v))
    raise invalid_cast(token, target)


def select_token(token: JToken, path: str) -> Any:
    """A small JSONPath subset: ``a.b[0].c`` and ``$.a``."""
    current: Any = token
    text = path[1:] if path.startswith("$") else path
    text = text.lstrip(".")
    i = 0
    while i < len(text) and current is not None:
        if text[i] == "[":
            end = text.find("]", i)
            if end < 0:
                raise EvalError("JsonException", f"Unterminated '[' in path '{path}'.")
            inner = text[i + 1 : end].strip("'\"")
            if inner.isdigit() and isinstance(current, JArray):
                idx = int(inner)
                current = current.items[idx] if idx < len(current.items) else None
            elif isinstance(current, JObject):
                current = current.items.get(inner)
            else:
                current = None
            i = end + 1
            if i < len(text) and text[i] == ".":
                i += 1
            continue
        j = i
        while j < len(text) and text[j] not in ".[":
            j += 1
        name = text[i:j]
        current = current.items.get(name) if isinstance(current, JObject) else None
        i = j + 1 if j < len(text) and text[j] == "." else j
    return current
