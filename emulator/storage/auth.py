"""Who may call the Table data plane: Entra bearer tokens + Azure RBAC data roles only.

Where it sits: ``emulator.storage.service`` calls ``authorize`` before touching any table or
entity (so a refused caller learns nothing about what exists). In order, as Azure Storage answers:

1. ``Authorization: SharedKey…`` / ``SharedKeyLite…`` or a SAS (``sig`` in the query) -> 403
   ``KeyBasedAuthenticationNotPermitted`` when the account has ``allowSharedKeyAccess: false``,
   else 403 ``AuthenticationFailed`` (the emulator has no account keys, so no signature verifies).
2. No ``Authorization`` -> 401 ``NoAuthenticationInformation`` with ``WWW-Authenticate: Bearer
   authorization_uri=<emulator authority>/<tenant>/oauth2/authorize
   resource_id=https://storage.azure.com``; another scheme or an unreadable token -> 401
   ``InvalidAuthenticationInfo`` with the same challenge.
3. Bearer with ``x-ms-version`` missing or older than 2019-02-02 -> 403 ``AuthenticationFailed``
   ("Authentication scheme Bearer is not supported in this version.").
4. The token, checked with ``emulator.identity.keys.verify_token`` (signature, issuer of the
   emulator's tenant, expiry) and ``aud`` in ``https://storage.azure.com[/]`` or
   ``https://<account>.table.core.windows.net[/]`` -> else 403 ``AuthenticationFailed`` (the
   message names the failed check, e.g. "Audience validation failed. Audience did not match.").
5. RBAC: the token's ``oid`` must hold, at the subscription, the resource group, the account or
   the table (case-insensitive prefix of the table's ARM id), Storage Table Data Contributor
   (read + write) or Storage Table Data Reader (read) -> else 403
   ``AuthorizationPermissionMismatch``. Owner / Contributor grant no data access. A new
   assignment counts only once it has propagated (``emulator.rbac``, ``rbac_propagation_s``):
   before, the caller gets the same 403 — what Azure answers while an assignment has not taken
   effect (Learn, "Assign an Azure role for access to table data",
   https://learn.microsoft.com/azure/storage/tables/assign-azure-role-data-access: role
   assignments can take up to 10 minutes to take effect).

Tokens are never logged or echoed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator import rbac
from emulator.context import EmulatorContext
from emulator.identity import verify_token
from emulator.storage.errors import TableError
from emulator.tokens import TokenValidationError, unverified_claims

TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
TABLE_DATA_READER = "76199698-9eea-4c19-bc75-cec21354c6b6"
_READ_ROLES = frozenset({TABLE_DATA_CONTRIBUTOR, TABLE_DATA_READER})
_WRITE_ROLES = frozenset({TABLE_DATA_CONTRIBUTOR})
MIN_OAUTH_VERSION = "2019-02-02"
STORAGE_RESOURCE = "https://storage.azure.com"

_AUTH_FAILED = (
    "Server failed to authenticate the request. Make sure the value of Authorization header is formed "
    "correctly including the signature."
)
_CHALLENGE_MESSAGE = "Server failed to authenticate the request. Please refer to the information in the www-authenticate header."
_REASONS = {
    "expired": "Lifetime validation failed. The token is expired.",
    "not_yet_valid": "Lifetime validation failed. The token is not yet valid.",
    "issuer": "Issuer validation failed. Issuer did not match.",
    "tenant": "Issuer validation failed. Issuer did not match.",
    "signature": "Signature validation failed. Signature is invalid.",
    "unknown_key": "Signature validation failed. Unable to match key.",
    "algorithm": "Signature validation failed. The token algorithm is not accepted.",
    "audience": "Audience validation failed. Audience did not match.",
}


@dataclass(frozen=True, slots=True)
class Caller:
    principal_id: str
    claims: Mapping[str, Any]


def challenge(ctx: EmulatorContext) -> dict[str, str]:
    return {
        "WWW-Authenticate": (
            f"Bearer authorization_uri={ctx.identity_base}/{ctx.tenant_id}/oauth2/authorize "
            f"resource_id={STORAGE_RESOURCE}"
        )
    }


def _failed(detail: str) -> TableError:
    # The detail stands where Azure's AuthenticationErrorDetail element would (JSON has no such field).
    return TableError(403, "AuthenticationFailed", f"{_AUTH_FAILED}\n{detail}")


def audiences(account: str) -> frozenset[str]:
    host = f"https://{account}.table.core.windows.net"
    return frozenset({STORAGE_RESOURCE, STORAGE_RESOURCE + "/", host, host + "/"})


def authenticate(
    ctx: EmulatorContext,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    account: str,
    account_props: Mapping[str, Any],
    version: str | None,
) -> Caller:
    auth = headers.get("authorization", "").strip()
    scheme = auth.split(" ", 1)[0].lower() if auth else ""
    if scheme in ("sharedkey", "sharedkeylite") or "sig" in query:
        if account_props.get("allowSharedKeyAccess") is False:
            raise TableError(
                403,
                "KeyBasedAuthenticationNotPermitted",
                "Key based authentication is not permitted on this storage account.",
            )
        raise _failed("The emulator has no account keys: Shared Key and SAS are never accepted.")
    if not auth:
        raise TableError(401, "NoAuthenticationInformation", _CHALLENGE_MESSAGE, challenge(ctx))
    token = auth[7:].strip() if scheme == "bearer" else ""
    if not token:
        raise TableError(401, "InvalidAuthenticationInfo", _CHALLENGE_MESSAGE, challenge(ctx))
    if version is None or version < MIN_OAUTH_VERSION:
        raise _failed("Authentication scheme Bearer is not supported in this version.")
    try:
        unverified_claims(token)
    except TokenValidationError as exc:
        raise TableError(401, "InvalidAuthenticationInfo", _CHALLENGE_MESSAGE, challenge(ctx)) from exc
    try:
        claims = verify_token(ctx, token, audiences=audiences(account))
    except TokenValidationError as exc:
        raise _failed(_REASONS.get(exc.reason, "The access token is not valid.")) from exc
    oid = claims.get("oid")
    if not isinstance(oid, str) or not oid:
        raise _failed("The access token has no object id (oid).")
    return Caller(oid, claims)


def authorize(ctx: EmulatorContext, caller: Caller, target_key: str, *, write: bool) -> None:
    """``target_key``: the lower-cased ARM id of the table (or of the account for service calls).
    Only assignments in effect count (``emulator.rbac``: a new one propagates first)."""
    if not rbac.holds(ctx, caller.principal_id, target_key, _WRITE_ROLES if write else _READ_ROLES):
        raise TableError(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        )
