"""Static types: a .NET type used by name (``string.Join``, ``DateTime.UtcNow``, ``JObject.Parse``).

Each topic module of ``netlib`` declares its types in a ``STATIC`` table (names -> ``StaticType``);
``netlib.registry`` joins them into the one read-only ``STATIC_TYPES``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from emulator.gateway.expr.netlib.convert import Fn
from emulator.gateway.expr.values import EvalError, NetEnum, NetObject, invoke


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
        return invoke(fn, args, kwargs, targs, f"'{self.name}.{name}'")


def enum_type(name: str, members: Iterable[str]) -> StaticType:
    values = {m: NetEnum(name, m) for m in members}
    return StaticType(name, {m: (lambda v=v: v) for m, v in values.items()}, {})


StaticTable = tuple[tuple[tuple[str, ...], StaticType], ...]
"""A topic module's static types: the names each is used by, and the type."""
