"""Newtonsoft.Json's static types for expressions: ``JObject``/``JArray``/``JToken``/``JValue``/
``JProperty`` constructors and ``Parse``/``FromObject``, ``JsonConvert``, ``Formatting``.

The JSON model itself is ``expr.jsonmodel``.
"""

from __future__ import annotations

from typing import Any

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.netlib.statics import StaticTable, StaticType, enum_type
from emulator.gateway.expr.values import NetEnum, argument_error, require_str, to_string, type_name


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


STATIC: StaticTable = (
    (("Formatting",), enum_type("Formatting", ("None", "Indented"))),
    (("JTokenType",), enum_type("JTokenType", jm.TOKEN_TYPES)),
    (
        ("JObject",),
        StaticType(
            "JObject",
            {},
            {"Parse": lambda s: jm.parse(s, "JObject"), "FromObject": lambda v: _from_object(v, "JObject")},
            ctor=lambda *props: _new_jobject(props),
        ),
    ),
    (
        ("JArray",),
        StaticType(
            "JArray",
            {},
            {"Parse": lambda s: jm.parse(s, "JArray"), "FromObject": lambda v: _from_object(v, "JArray")},
            ctor=lambda *items: _new_jarray(items),
        ),
    ),
    (
        ("JToken",),
        StaticType("JToken", {}, {"Parse": lambda s: jm.parse(s), "FromObject": lambda v: jm.to_token(v)}),
    ),
    (
        ("JValue",),
        StaticType(
            "JValue",
            {},
            {},
            ctor=lambda v: jm.JValue(
                v if isinstance(v, str | int | float | bool) or v is None else to_string(v)
            ),
        ),
    ),
    (
        ("JProperty",),
        StaticType(
            "JProperty", {}, {}, ctor=lambda name, value=None: jm.JProperty(require_str(name, "name"), value)
        ),
    ),
    (
        ("JsonConvert",),
        StaticType(
            "JsonConvert",
            {},
            {"SerializeObject": _serialize_object, "DeserializeObject": _deserialize_object},
        ),
    ),
)
