"""The static types expressions may name (``string.Join``, ``Guid.NewGuid()``, ``JObject.Parse``).

``STATIC_TYPES`` joins the ``STATIC`` tables of the topic modules once, read-only: a type is
added by declaring it in its module's table, never by registering at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from emulator.gateway.expr.netlib import (
    crypto,
    exceptions,
    generic,
    jwt,
    newtonsoft,
    objects,
    rand,
    regex,
    system,
    web,
)
from emulator.gateway.expr.netlib.statics import StaticTable, StaticType


def _join(*tables: StaticTable) -> Mapping[str, StaticType]:
    out: dict[str, StaticType] = {}
    for table in tables:
        for names, static in table:
            for name in names:
                if name in out:
                    raise ValueError(f"static type '{name}' is declared twice")
                out[name] = static
    return MappingProxyType(out)


STATIC_TYPES = _join(
    system.STATIC, objects.STATIC, regex.STATIC, crypto.STATIC, newtonsoft.STATIC, jwt.STATIC,
    generic.STATIC, web.STATIC, rand.STATIC, exceptions.STATIC,
)  # fmt: skip
