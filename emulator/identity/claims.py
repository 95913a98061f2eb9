"""Claims of the tokens the identity service issues, shaped like Entra's (pure functions).

Where it sits: the token and MSI endpoints build claims here and sign them with ``keys.sign``.

* v2 access tokens: ``aud`` (the API's app id — always, for a v2 API; Graph's app id for Graph),
  ``iss`` = ``<base>/login/<tid>/v2.0``, ``tid``, ``oid``, ``sub`` (pairwise per user and client,
  as Entra's), ``scp`` (space separated) or ``roles``, ``azp``, ``azpacr``, ``preferred_username``,
  ``name``, ``idtyp``, ``uti``, ``ver: "2.0"``, ``iat``/``nbf``/``exp``.
* v1 access tokens (an API that did not pin ``requestedAccessTokenVersion: 2``): ``iss`` =
  ``<base>/sts/<tid>/`` (the local ``sts.windows.net``), ``appid``, ``upn``, ``unique_name``,
  ``ver: "1.0"`` — a validator expecting v2 rejects them, exactly as in Azure.
* ID tokens: ``aud`` = the client, ``nonce`` echoed.
* Managed-identity tokens: ``sub`` = ``oid`` = the identity's principal id, ``azp``/``appid`` =
  its client id, ``idtyp: "app"``, ``xms_mirid`` = its ARM id.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from emulator.identity.directory import ManagedIdentity, User

AZPACR_PUBLIC = "0"
AZPACR_SECRET = "1"
AZPACR_ASSERTION = "2"


def pairwise_sub(oid: str, client_id: str) -> str:
    digest = hashlib.sha256(f"{oid}|{client_id.lower()}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()[:43]


def _times(now: int, lifetime: int) -> dict[str, int]:
    return {"iat": now, "nbf": now, "exp": now + lifetime}


def user_access_token(
    *,
    issuer: str,
    v1_iss: str,
    tenant: str,
    aud: str,
    version: int,
    user: User,
    client_id: str,
    azpacr: str,
    scopes: Sequence[str],
    now: int,
    lifetime: int,
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "aud": aud,
        "iss": issuer if version == 2 else v1_iss,
        **_times(now, lifetime),
        "name": user.display_name,
        "oid": user.id,
        "scp": " ".join(scopes),
        "sub": pairwise_sub(user.id, client_id),
        "tid": tenant,
        "uti": uuid.uuid4().hex[:22],
        "idtyp": "user",
    }
    if version == 2:
        claims.update({"azp": client_id, "azpacr": azpacr, "preferred_username": user.upn, "ver": "2.0"})
    else:
        claims.update(
            {"appid": client_id, "appidacr": azpacr, "upn": user.upn, "unique_name": user.upn, "ver": "1.0"}
        )
    return claims


def app_access_token(
    *,
    issuer: str,
    tenant: str,
    aud: str,
    client_id: str,
    sp_id: str,
    azpacr: str,
    roles: Sequence[str],
    now: int,
    lifetime: int,
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "aud": aud,
        "iss": issuer,
        **_times(now, lifetime),
        "azp": client_id,
        "azpacr": azpacr,
        "idtyp": "app",
        "oid": sp_id,
        "sub": sp_id,
        "tid": tenant,
        "uti": uuid.uuid4().hex[:22],
        "ver": "2.0",
    }
    if roles:
        claims["roles"] = list(roles)
    return claims


def id_token(
    *, issuer: str, tenant: str, client_id: str, user: User, nonce: str | None, now: int, lifetime: int
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "aud": client_id,
        "iss": issuer,
        **_times(now, lifetime),
        "name": user.display_name,
        "oid": user.id,
        "preferred_username": user.upn,
        "sub": pairwise_sub(user.id, client_id),
        "tid": tenant,
        "ver": "2.0",
    }
    if user.mail:
        claims["email"] = user.mail
    if nonce:
        claims["nonce"] = nonce
    return claims


def managed_identity_token(
    *, issuer: str, tenant: str, aud: str, identity: ManagedIdentity, now: int, lifetime: int
) -> dict[str, Any]:
    return {
        "aud": aud,
        "iss": issuer,
        **_times(now, lifetime),
        "azp": identity.client_id,
        "appid": identity.client_id,
        "azpacr": AZPACR_ASSERTION,
        "idtyp": "app",
        "oid": identity.principal_id,
        "sub": identity.principal_id,
        "tid": tenant,
        "uti": uuid.uuid4().hex[:22],
        "ver": "2.0",
        "xms_mirid": identity.resource_id,
    }


def client_info(user: User, tenant: str) -> str:
    raw = ('{"uid":"' + user.id + '","utid":"' + tenant + '"}').encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
