"""Server-side grant state: authorization codes, refresh tokens, consents, pending sign-ins.

Where it sits: the authorize endpoint creates transactions (a validated request waiting on the
sign-in/consent pages), consents and codes; the token endpoint redeems codes and rotates
refresh tokens. Everything is in the store (kind ``identity/<what>``); codes and refresh tokens
are stored under the SHA-256 of their value, never in clear.

Security properties:
* a code is single use, expires after ``code_lifetime_s``, and is bound to client, redirect URI,
  user, PKCE challenge and the resolved scopes; redeeming it twice revokes what it produced;
* refresh tokens belong to a family (one sign-in); each use rotates the token; presenting a
  rotated-away token revokes the whole family (reuse detection); they are bound to client and user;
* consent is recorded per (client, user, resource) with the granted scope values.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from emulator.store import Store

CODES = "identity/codes"
REFRESH = "identity/refresh-tokens"
FAMILIES = "identity/refresh-families"
CONSENTS = "identity/consents"
TRANSACTIONS = "identity/transactions"


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(48)


# -- transactions (pending authorize requests)


def put_transaction(store: Store, body: dict[str, Any]) -> str:
    txn = secrets.token_urlsafe(24)
    store.put(TRANSACTIONS, txn, body)
    return txn


def get_transaction(store: Store, txn: str, now: int) -> dict[str, Any] | None:
    doc = store.get(TRANSACTIONS, txn)
    if doc is None or doc.body.get("exp", 0) < now:
        return None
    return doc.body


def update_transaction(store: Store, txn: str, body: dict[str, Any]) -> None:
    store.put(TRANSACTIONS, txn, body)


def end_transaction(store: Store, txn: str) -> None:
    store.delete(TRANSACTIONS, txn)


# -- consents


def consent_key(client_id: str, user_id: str, resource_app_id: str) -> str:
    return f"{client_id.lower()}|{user_id}|{resource_app_id.lower()}"


def consented_scopes(store: Store, client_id: str, user_id: str, resource_app_id: str) -> frozenset[str]:
    doc = store.get(CONSENTS, consent_key(client_id, user_id, resource_app_id))
    return frozenset(doc.body.get("scopes", [])) if doc else frozenset()


def record_consent(
    store: Store, client_id: str, user_id: str, resource_app_id: str, scopes: set[str]
) -> None:
    key = consent_key(client_id, user_id, resource_app_id)
    with store.transaction():
        have = consented_scopes(store, client_id, user_id, resource_app_id)
        store.put(CONSENTS, key, {"scopes": sorted(have | scopes)}, parent=user_id)


# -- authorization codes


def issue_code(store: Store, body: dict[str, Any]) -> str:
    code = new_secret("1.")
    store.put(CODES, digest(code), {**body, "redeemed": False, "family": None})
    return code


@dataclass(frozen=True, slots=True)
class Redemption:
    body: dict[str, Any]
    first_use: bool


def redeem_code(store: Store, code: str) -> Redemption | None:
    """Mark a code redeemed (atomically); None when unknown. ``first_use`` False on a replay."""
    key = digest(code)
    with store.transaction():
        doc = store.get(CODES, key)
        if doc is None:
            return None
        if doc.body.get("redeemed"):
            return Redemption(doc.body, first_use=False)
        store.put(CODES, key, {**doc.body, "redeemed": True})
        return Redemption(doc.body, first_use=True)


def attach_family(store: Store, code: str, family: str) -> None:
    key = digest(code)
    doc = store.get(CODES, key)
    if doc is not None:
        store.put(CODES, key, {**doc.body, "family": family})


# -- refresh tokens


def new_family(store: Store, client_id: str, user_id: str) -> str:
    family = secrets.token_hex(16)
    store.put(FAMILIES, family, {"client_id": client_id, "user_id": user_id, "revoked": False})
    return family


def revoke_family(store: Store, family: str | None) -> None:
    if not family:
        return
    doc = store.get(FAMILIES, family)
    if doc is not None:
        store.put(FAMILIES, family, {**doc.body, "revoked": True})


def family_revoked(store: Store, family: str) -> bool:
    doc = store.get(FAMILIES, family)
    return doc is None or bool(doc.body.get("revoked"))


def issue_refresh_token(store: Store, family: str, body: dict[str, Any]) -> str:
    token = new_secret("0.")
    store.put(REFRESH, digest(token), {**body, "family": family, "status": "active"}, parent=family)
    return token


def take_refresh_token(store: Store, token: str) -> tuple[str, dict[str, Any]] | None:
    """Look up a refresh token and mark it rotated; returns (previous status, body) or None."""
    key = digest(token)
    with store.transaction():
        doc = store.get(REFRESH, key)
        if doc is None:
            return None
        status = str(doc.body.get("status"))
        if status == "active":
            store.put(REFRESH, key, {**doc.body, "status": "rotated"}, parent=doc.parent)
        return status, doc.body


def peek_refresh_token(store: Store, token: str) -> dict[str, Any] | None:
    doc = store.get(REFRESH, digest(token))
    return doc.body if doc is not None else None
