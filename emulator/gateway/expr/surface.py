"""What a policy expression may name, for the PUT-time check (``compiler``).

``KNOWN_MEMBERS`` / ``KNOWN_METHODS`` are every property and method of the .NET library
(``netlib``: the member tables of built-in values, its classes, the static types) and of the
``context`` model; ``CASTABLE`` the type names a cast or type test may use. All are computed
once from those declarations and are read-only: nothing registers names at run time.
"""

from __future__ import annotations

from emulator.gateway.expr import context as cm
from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.netlib import (
    crypto,
    exceptions,
    generic,
    jwt,
    linq,
    members,
    objects,
    rand,
    regex,
    web,
)
from emulator.gateway.expr.netlib.casts import BUILT_IN_NAMES
from emulator.gateway.expr.netlib.registry import STATIC_TYPES
from emulator.gateway.expr.values import NetObject

CLASSES: tuple[type[NetObject], ...] = (
    # the .NET library
    jm.JToken, jm.JValue, jm.JProperty, jm.JObject, jm.JArray, regex.RegexMatch, regex.RegexGroups,
    regex.RegexGroup, objects.KeyValue, objects.NetDict, jwt.Jwt, crypto.HashAlgo, objects.EncodingObj,
    objects.UriObj, objects.StringBuilderObj, exceptions.ExceptionObj, rand.RandomObj, generic.DictObj,
    generic.SetObj, generic.Comparer, web.BasicAuthCredentials, web.FormContent, web.IPAddressObj,
    # the context model
    cm.Headers, cm.Variables, cm.QueryDict, cm.Url, cm.Body, cm.Request, cm.Response, cm.LastError,
    cm.Gateway, cm.Deployment, cm.SubscriptionKeyNames, cm.Api, cm.Operation, cm.Context,
    cm.Group, cm.UserIdentity, cm.User, cm.Subscription, cm.Product,
)  # fmt: skip


def _props() -> frozenset[str]:
    names = {*members.STR_PROPS, *members.BYTES_PROPS, *members.DT_PROPS, *members.TS_PROPS, *linq.LIST_PROPS}
    for cls in CLASSES:
        names |= cls.NET_PROPS
    for static in STATIC_TYPES.values():
        names |= set(static.props)
    return frozenset(names)


def _methods() -> frozenset[str]:
    names = {
        *members.STR_METHODS, *members.NUM_METHODS, *members.BYTES_METHODS, *members.DT_METHODS,
        *members.TS_METHODS, *members.GUID_METHODS, *linq.LINQ, *linq.LIST_METHODS, *generic.LIST_EXTRA,
        "ToString", "Equals", "GetType",
    }  # fmt: skip
    for cls in CLASSES:
        names |= cls.NET_METHODS
    for static in STATIC_TYPES.values():
        names |= set(static.methods)
    return frozenset(names)


KNOWN_MEMBERS = _props()
KNOWN_METHODS = _methods()
CASTABLE = BUILT_IN_NAMES | frozenset(cls.NET_TYPE for cls in CLASSES if cls.NET_CASTABLE)
