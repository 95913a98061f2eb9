"""The .NET library surface policy expressions may use, and member dispatch over it.

Compiled expressions call ``get_member`` / ``call_method`` / ``get_index`` / ``set_index`` /
``cast`` / ``is_type`` / ``construct`` at run time (``dispatch``, ``casts``). Built-in Python
values (str, int, bytes, datetime, …) get their .NET members from the tables of ``members``
and ``linq``; ``NetObject`` subclasses declare their own (``objects``, ``regex``, ``jwt``,
``crypto``; the JSON model is ``expr.jsonmodel``). ``STATIC_TYPES`` (``registry``) are the
types usable by name (``string.Join``, ``Guid.NewGuid()``, ``JObject.Parse``), declared per
topic (``system``, ``objects``, ``regex``, ``crypto``, ``newtonsoft``, ``jwt``). Shared
conversions and argument checks are ``convert``. Which names the PUT-time check accepts is
``expr.surface``.
"""

from __future__ import annotations

from emulator.gateway.expr.netlib.casts import cast, is_type
from emulator.gateway.expr.netlib.convert import OutRef, format_value, now
from emulator.gateway.expr.netlib.dispatch import (
    call_method,
    construct,
    get_index,
    get_member,
    set_index,
    set_member,
)
from emulator.gateway.expr.netlib.jwt import Jwt
from emulator.gateway.expr.netlib.linq import iterate
from emulator.gateway.expr.netlib.objects import AnonObject, NetDict, UriObj
from emulator.gateway.expr.netlib.registry import STATIC_TYPES

__all__ = [
    "STATIC_TYPES",
    "AnonObject",
    "Jwt",
    "NetDict",
    "OutRef",
    "UriObj",
    "call_method",
    "cast",
    "construct",
    "format_value",
    "get_index",
    "get_member",
    "is_type",
    "iterate",
    "now",
    "set_index",
    "set_member",
]
