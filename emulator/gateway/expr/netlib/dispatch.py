"""Member dispatch: what compiled expressions call at run time.

``get_member`` / ``call_method`` / ``get_index`` / ``set_index`` / ``construct`` route a
.NET-named access to a ``NetObject``'s declared member, to the tables of ``members`` for
built-in values, to LINQ (``linq``), or to a static type (``registry.STATIC_TYPES``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.netlib.convert import Fn, out_of_range_arg
from emulator.gateway.expr.netlib.generic import LIST_EXTRA
from emulator.gateway.expr.netlib.linq import LINQ, LIST_METHODS, LIST_PROPS, iterate
from emulator.gateway.expr.netlib.members import (
    BOOL_METHODS,
    BYTES_METHODS,
    BYTES_PROPS,
    DT_METHODS,
    DT_PROPS,
    GUID_METHODS,
    NUM_METHODS,
    STR_METHODS,
    STR_PROPS,
    TS_METHODS,
    TS_PROPS,
)
from emulator.gateway.expr.netlib.registry import STATIC_TYPES
from emulator.gateway.expr.netlib.statics import StaticType
from emulator.gateway.expr.values import (
    Char,
    EvalError,
    NetObject,
    equals,
    invoke,
    null_reference,
    require_int,
    to_string,
    type_name,
)

_LIST_ALL: dict[str, Fn] = {**LIST_METHODS, **LIST_EXTRA}


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
    elif isinstance(obj, list) and name in _LIST_ALL:
        table = _LIST_ALL
    if table is not None and name in table:
        return invoke(table[name], [obj, *args], kwargs, (), f"'{name}' of '{type_name(obj)}'", len(args))
    if name in LINQ:
        return invoke(LINQ[name], [iterate(obj), *args], kwargs, (), f"'{name}'", len(args))
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


def set_member(obj: object, name: str, value: object) -> None:
    """``obj.Name = value`` (an object initializer or an assignment to a settable property)."""
    if obj is None:
        raise null_reference()
    if not isinstance(obj, NetObject):
        raise EvalError("InvalidOperationException", f"Property '{name}' cannot be assigned to.")
    obj.net_set(name, value)


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
    if name == "<anonymous>":
        raise AssertionError("anonymous objects are built by the compiler")
    t = STATIC_TYPES.get(name)
    if t is None or t.ctor is None:
        raise EvalError("NotSupportedException", f"'new {name}(...)' is not supported by the local gateway.")
    obj = invoke(t.ctor, args, {}, (), f"the constructor of '{name}'")
    for item in items or []:
        _add(obj, item, name)
    return obj


def _add(obj: object, item: object, name: str) -> None:
    """A collection initializer item: ``Add(item)``, or ``Add(key, value)`` for ``{k, v}``."""
    if isinstance(obj, list):
        obj.append(item)
        return
    add = getattr(obj, "m_Add", None)
    if not isinstance(obj, NetObject) or add is None or "Add" not in obj.NET_METHODS:
        raise EvalError("NotSupportedException", f"A collection initializer is not supported for '{name}'.")
    if isinstance(item, list) and len(item) == 2 and not isinstance(obj, jm.JArray):
        add(item[0], item[1])
    else:
        add(item)
