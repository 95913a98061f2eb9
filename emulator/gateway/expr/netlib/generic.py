"""``System.Collections.Generic`` and ``System.Array`` for expressions: ``new Dictionary<K, V>()``
(with ``StringComparer.OrdinalIgnoreCase``), ``new List<T>()`` (a list), ``new HashSet<T>()``,
collection and index initializers, and ``Array.Exists`` / ``IndexOf`` / ``Find`` / … — all in
API Management's list of allowed .NET types (Learn, "API Management policy expressions").
"""

# ruff: noqa: N802  - members carry their .NET names (m_<Name> methods, .NET properties)

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.netlib.convert import OutRef, out_of_range_arg
from emulator.gateway.expr.netlib.linq import iterate
from emulator.gateway.expr.netlib.objects import KeyValue
from emulator.gateway.expr.netlib.statics import StaticTable, StaticType
from emulator.gateway.expr.values import (
    EvalError,
    NetEnum,
    NetObject,
    argument_error,
    equals,
    null_reference,
    require_bool,
    require_int,
    to_string,
)

MAX_ITEMS = 1_000_000


def _key(value: object, ignore_case: bool) -> object:
    if value is None:
        raise EvalError("ArgumentNullException", "Value cannot be null. (Parameter 'key')")
    if ignore_case and isinstance(value, str):
        return ("s", value.lower())
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, NetObject) and not isinstance(value, NetEnum):
        return ("o", id(value))
    return ("v", value)


class Comparer(NetObject):
    """``StringComparer.Ordinal`` / ``OrdinalIgnoreCase`` / … (a dictionary's key comparer)."""

    NET_TYPE = "StringComparer"
    NET_METHODS = frozenset({"Equals", "Compare"})

    def __init__(self, ignore_case: bool) -> None:
        self.ignore_case = ignore_case

    def m_Equals(self, a: object, b: object) -> bool:
        if self.ignore_case and isinstance(a, str) and isinstance(b, str):
            return a.lower() == b.lower()
        return equals(a, b)

    def m_Compare(self, a: object, b: object) -> int:
        x, y = to_string(a), to_string(b)
        if self.ignore_case:
            x, y = x.lower(), y.lower()
        return (x > y) - (x < y)


class DictObj(NetObject):
    """A mutable ``Dictionary<TKey, TValue>`` (insertion order kept, as .NET does until removals)."""

    NET_TYPE = "Dictionary"
    NET_PROPS = frozenset({"Count", "Keys", "Values"})
    NET_METHODS = frozenset(
        {
            "Add",
            "TryAdd",
            "Remove",
            "ContainsKey",
            "ContainsValue",
            "TryGetValue",
            "GetValueOrDefault",
            "Clear",
        }
    )

    def __init__(self, source: object = None, comparer: object = None) -> None:
        if isinstance(source, Comparer):
            source, comparer = None, source
        self.ignore_case = isinstance(comparer, Comparer) and comparer.ignore_case
        self.items: dict[object, tuple[Any, Any]] = {}
        if isinstance(source, int) and not isinstance(source, bool):
            return  # a capacity
        if source is not None:
            for pair in iterate(source):
                if not isinstance(pair, KeyValue):
                    raise argument_error("The collection must hold KeyValuePair items.")
                self.m_Add(pair.Key, pair.Value)

    @property
    def Count(self) -> int:
        return len(self.items)

    @property
    def Keys(self) -> list[Any]:
        return [k for k, _ in self.items.values()]

    @property
    def Values(self) -> list[Any]:
        return [v for _, v in self.items.values()]

    def net_index(self, key: Any) -> Any:
        entry = self.items.get(_key(key, self.ignore_case))
        if entry is None:
            raise EvalError(
                "KeyNotFoundException", f"The given key '{to_string(key)}' was not present in the dictionary."
            )
        return entry[1]

    def net_set_index(self, key: Any, value: Any) -> None:
        k = _key(key, self.ignore_case)
        old = self.items.get(k)
        self.items[k] = (old[0] if old else key, value)
        self._bound()

    def _bound(self) -> None:
        if len(self.items) > MAX_ITEMS:
            raise EvalError("OutOfMemoryException", "The dictionary is larger than the local gateway allows.")

    def net_iter(self) -> Iterable[Any]:
        return [KeyValue(k, v) for k, v in self.items.values()]

    def m_Add(self, key: object, value: object) -> None:
        if not self.m_TryAdd(key, value):
            raise argument_error(f"An item with the same key has already been added. Key: {to_string(key)}")

    def m_TryAdd(self, key: object, value: object) -> bool:
        k = _key(key, self.ignore_case)
        if k in self.items:
            return False
        self.items[k] = (key, value)
        self._bound()
        return True

    def m_Remove(self, key: object) -> bool:
        return self.items.pop(_key(key, self.ignore_case), None) is not None

    def m_ContainsKey(self, key: object) -> bool:
        return _key(key, self.ignore_case) in self.items

    def m_ContainsValue(self, value: object) -> bool:
        return any(equals(v, value) for _, v in self.items.values())

    def m_TryGetValue(self, key: object, out: object) -> bool:
        if not isinstance(out, OutRef):
            raise argument_error("TryGetValue needs an 'out' argument.")
        entry = self.items.get(_key(key, self.ignore_case))
        out.set(entry[1] if entry else None)
        return entry is not None

    def m_GetValueOrDefault(self, key: object, default: object = None) -> Any:
        entry = self.items.get(_key(key, self.ignore_case))
        return entry[1] if entry else default

    def m_Clear(self) -> None:
        self.items.clear()

    def as_json(self) -> Any:
        out: dict[str, Any] = {}
        for k, v in self.items.values():
            token = jm.to_token(v)
            out[to_string(k)] = token.plain() if token is not None else None
        return out


class SetObj(NetObject):
    """``HashSet<T>``."""

    NET_TYPE = "HashSet"
    NET_PROPS = frozenset({"Count"})
    NET_METHODS = frozenset({"Add", "Remove", "Contains", "Clear", "UnionWith", "ExceptWith"})

    def __init__(self, source: object = None, comparer: object = None) -> None:
        if isinstance(source, Comparer):
            source, comparer = None, source
        self.ignore_case = isinstance(comparer, Comparer) and comparer.ignore_case
        self.items: dict[object, Any] = {}
        if source is not None and not isinstance(source, int):
            self.m_UnionWith(source)

    @property
    def Count(self) -> int:
        return len(self.items)

    def net_iter(self) -> Iterable[Any]:
        return list(self.items.values())

    def m_Add(self, value: object) -> bool:
        k = _key(value, self.ignore_case) if value is not None else ("n", None)
        if k in self.items:
            return False
        self.items[k] = value
        if len(self.items) > MAX_ITEMS:
            raise EvalError("OutOfMemoryException", "The set is larger than the local gateway allows.")
        return True

    def m_Remove(self, value: object) -> bool:
        k = _key(value, self.ignore_case) if value is not None else ("n", None)
        return self.items.pop(k, _ABSENT) is not _ABSENT

    def m_Contains(self, value: object) -> bool:
        k = _key(value, self.ignore_case) if value is not None else ("n", None)
        return k in self.items

    def m_Clear(self) -> None:
        self.items.clear()

    def m_UnionWith(self, other: object) -> None:
        for v in iterate(other):
            self.m_Add(v)

    def m_ExceptWith(self, other: object) -> None:
        for v in iterate(other):
            self.m_Remove(v)

    def as_json(self) -> Any:
        return [jm.to_token(v).plain() if v is not None else None for v in self.items.values()]  # type: ignore[union-attr]


_ABSENT = object()


def _new_list(source: object = None) -> list[Any]:
    if source is None or (isinstance(source, int) and not isinstance(source, bool)):
        return []
    return iterate(source)


def _pred(fn: object) -> Callable[[Any], bool]:
    if not callable(fn):
        raise EvalError("ArgumentNullException", "Value cannot be null. (Parameter 'match')")
    return lambda x: require_bool(fn(x), "predicate")


def _array(items: object) -> list[Any]:
    if items is None:
        raise null_reference()
    return iterate(items)


def _in_place(items: object, reorder: Callable[[list[Any]], list[Any]]) -> None:
    if not isinstance(items, list):
        raise EvalError("NotSupportedException", "The array cannot be changed in place by the local gateway.")
    items[:] = reorder(items)


def _sort_key(value: object) -> Any:
    return (
        (0, value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else (1, to_string(value))
    )


def _index_of(items: object, value: object, start: object = 0) -> int:
    seq = _array(items)
    for i in range(require_int(start, "startIndex"), len(seq)):
        if equals(seq[i], value):
            return i
    return -1


def _find_index(items: object, fn: object) -> int:
    test = _pred(fn)
    return next((i for i, x in enumerate(_array(items)) if test(x)), -1)


ARRAY = StaticType(
    "Array",
    {},
    {
        "Exists": lambda items, fn: any(_pred(fn)(x) for x in _array(items)),
        "TrueForAll": lambda items, fn: all(_pred(fn)(x) for x in _array(items)),
        "Find": lambda items, fn: next((x for x in _array(items) if _pred(fn)(x)), None),
        "FindAll": lambda items, fn: [x for x in _array(items) if _pred(fn)(x)],
        "FindIndex": _find_index,
        "IndexOf": _index_of,
        "Empty": list,
        "Reverse": lambda items: _in_place(items, lambda s: s[::-1]),
        "Sort": lambda items: _in_place(items, lambda s: sorted(s, key=_sort_key)),
    },
)


LIST_EXTRA: dict[str, Callable[..., Any]] = {
    "AddRange": lambda items, other: items.extend(iterate(other)),
    "Insert": lambda items, i, v: _insert(items, i, v),
    "Remove": lambda items, v: _remove(items, v),
    "RemoveAt": lambda items, i: _remove_at(items, i),
    "Clear": lambda items: items.clear(),
    "Exists": lambda items, fn: any(_pred(fn)(x) for x in items),
    "TrueForAll": lambda items, fn: all(_pred(fn)(x) for x in items),
    "Find": lambda items, fn: next((x for x in items if _pred(fn)(x)), None),
    "FindAll": lambda items, fn: [x for x in items if _pred(fn)(x)],
    "FindIndex": _find_index,
    "Sort": lambda items: _in_place(items, lambda s: sorted(s, key=_sort_key)),
}


def _insert(items: list[Any], index: object, value: object) -> None:
    i = require_int(index, "index")
    if not 0 <= i <= len(items):
        raise out_of_range_arg("index")
    items.insert(i, value)


def _remove(items: list[Any], value: object) -> bool:
    for i, x in enumerate(items):
        if equals(x, value):
            del items[i]
            return True
    return False


def _remove_at(items: list[Any], index: object) -> None:
    i = require_int(index, "index")
    if not 0 <= i < len(items):
        raise out_of_range_arg("index")
    del items[i]


_COMPARERS = {
    "Ordinal": lambda: Comparer(False),
    "OrdinalIgnoreCase": lambda: Comparer(True),
    "InvariantCulture": lambda: Comparer(False),
    "InvariantCultureIgnoreCase": lambda: Comparer(True),
    "CurrentCulture": lambda: Comparer(False),
    "CurrentCultureIgnoreCase": lambda: Comparer(True),
}


STATIC: StaticTable = (
    (("Dictionary", "IDictionary"), StaticType("Dictionary", {}, {}, ctor=DictObj)),
    (("List", "IList"), StaticType("List", {}, {}, ctor=_new_list)),
    (("HashSet",), StaticType("HashSet", {}, {}, ctor=SetObj)),
    (("Array",), ARRAY),
    (("StringComparer",), StaticType("StringComparer", _COMPARERS, {})),
)
