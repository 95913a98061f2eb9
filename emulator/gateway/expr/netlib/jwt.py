"""``Jwt`` (APIM's ``AsJwt()`` / ``TryParseJwt()`` result) and its claims dictionary.

``parse_jwt`` decodes without verifying (as APIM's ``AsJwt`` does); token validation is the
gateway's ``tokens`` module.
"""

# ruff: noqa: N802  - members carry their .NET names (m_<Name> methods, .NET properties)

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr.netlib.convert import UNIX_EPOCH
from emulator.gateway.expr.netlib.objects import NetDict
from emulator.gateway.expr.netlib.statics import StaticTable, StaticType
from emulator.gateway.expr.values import NetObject, to_string


class Jwt(NetObject):
    NET_TYPE = "Jwt"
    NET_CASTABLE = True
    NET_PROPS = frozenset(
        {
            "Id",
            "Algorithm",
            "Issuer",
            "Subject",
            "Audiences",
            "ExpirationTime",
            "NotBefore",
            "IssuedAt",
            "Type",
            "Claims",
        }
    )

    def __init__(self, header: dict[str, Any], claims: dict[str, Any]) -> None:
        self._header = header
        self._claims = claims

    def _time(self, name: str) -> datetime | None:
        v = self._claims.get(name)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return UNIX_EPOCH + timedelta(seconds=v)
        return None

    @property
    def Id(self) -> str | None:
        v = self._claims.get("jti")
        return v if isinstance(v, str) else None

    @property
    def Algorithm(self) -> str | None:
        v = self._header.get("alg")
        return v if isinstance(v, str) else None

    @property
    def Type(self) -> str | None:
        v = self._header.get("typ")
        return v if isinstance(v, str) else None

    @property
    def Issuer(self) -> str | None:
        v = self._claims.get("iss")
        return v if isinstance(v, str) else None

    @property
    def Subject(self) -> str | None:
        v = self._claims.get("sub")
        return v if isinstance(v, str) else None

    @property
    def Audiences(self) -> list[str]:
        v = self._claims.get("aud")
        return [to_string(a) for a in v] if isinstance(v, list) else ([to_string(v)] if v is not None else [])

    @property
    def ExpirationTime(self) -> datetime | None:
        return self._time("exp")

    @property
    def NotBefore(self) -> datetime | None:
        return self._time("nbf")

    @property
    def IssuedAt(self) -> datetime | None:
        return self._time("iat")

    @property
    def Claims(self) -> ClaimsDict:
        return ClaimsDict(self._claims)


class ClaimsDict(NetDict):
    NET_TYPE = "IReadOnlyDictionary<string, string[]>"
    case_insensitive = False

    def __init__(self, claims: dict[str, Any]) -> None:
        super().__init__({k: _claim_values(v) for k, v in claims.items()})

    def m_GetValueOrDefault(self, key: object, default: object = None, _targs: tuple[str, ...] = ()) -> Any:
        found, value = self.lookup(key)
        return ",".join(value) if found else default


def _claim_values(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v if isinstance(v, str) else jm.serialize(v) for v in value]
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [jm.serialize(value)]


def parse_jwt(text: object) -> Jwt | None:
    if not isinstance(text, str):
        return None
    token = text.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    parts = token.split(".")
    if len(parts) not in (3, 5):
        return None
    try:
        header = _b64url_json(parts[0])
        claims = _b64url_json(parts[1]) if len(parts) == 3 else {}
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return Jwt(header, claims)


def _b64url_json(part: str) -> Any:
    import json

    data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return json.loads(data.decode("utf-8"))


STATIC: StaticTable = ((("Jwt",), StaticType("Jwt", {}, {})),)
