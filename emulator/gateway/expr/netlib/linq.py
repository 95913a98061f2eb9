"""LINQ over enumerables (lists, ``JArray``, dictionaries, strings): ``iterate`` and the
``Where``/``Select``/``First``/… table, and the members of lists and arrays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.netlib.convert import Fn, out_of_range_arg, require_number
from emulator.gateway.expr.netlib.statics import StaticType
from emulator.gateway.expr.values import (
    Char,
    EvalError,
    NetEnum,
    NetObject,
    argument_error,
    equals,
    null_reference,
    require_bool,
    require_int,
    to_string,
    type_name,
)


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
        total += require_number(_pred(fn)(x) if fn is not None else x)
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
