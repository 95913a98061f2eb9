"""Who may call the emulated ARM: a bearer token this identity service issued for ARM, as Azure
Resource Manager checks it.

Where it sits: ``emulator.arm.router`` calls ``authenticate`` first, before it reads the path or
the body, so a refused caller learns nothing. The token is verified by the identity service's
public API (``emulator.identity.verify_token``: RS256 signature against the service's keys,
issuer of the emulator's tenant (v2 or v1 form), expiry and not-before with five minutes of
skew) with ARM's audiences (``ARM_AUDIENCES``). Refusals are ARM's 401s, each with a
``WWW-Authenticate: Bearer authorization_uri=…, error="invalid_token", error_description=…``
challenge (what azure-core's ``ARMChallengeAuthenticationPolicy`` reads; without ``claims`` it
raises the 401 as ``ClientAuthenticationError``):

* no ``Authorization`` header -> ``AuthenticationFailed`` "Authentication failed. The
  'Authorization' header is missing."; another scheme or no token -> ``AuthenticationFailed``
  "Authentication failed. The 'Authorization' header is not in a valid format.";
* not a token of this service (malformed, unknown key, bad signature, ``alg`` none/HS256,
  not yet valid) -> ``InvalidAuthenticationToken`` "The access token is invalid.";
* expired -> ``ExpiredAuthenticationToken`` "The access token expiry UTC time '<exp>' is earlier
  than current UTC time '<now>'." (ARM's wording and its M/D/YYYY h:mm:ss AM times);
* another audience -> ``InvalidAuthenticationTokenAudience`` "The access token has been obtained
  for wrong audience or resource '<aud>'. It should exactly match with one of the allowed
  audiences 'https://management.core.windows.net/','https://management.core.windows.net',
  'https://management.azure.com/','https://management.azure.com'.";
* another issuer (tenant) -> ``InvalidAuthenticationTokenTenant`` "The access token is from the
  wrong issuer '<iss>'. It must match the tenant '<issuer>' associated with this subscription.
  Please use the authority (URL) '<authority>' to get the token. …".

Sources: Microsoft identity platform, "Access tokens" > "Validate tokens" (signature against the
tenant's published keys, ``iss``, ``aud``, ``nbf``/``exp``):
https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-tokens ; ARM's
codes and wordings as the service answers them, e.g. ``InvalidAuthenticationTokenAudience`` with
the four allowed audiences (https://github.com/Microsoft/azure-tools-for-java/issues/2675,
https://learn.microsoft.com/en-us/answers/questions/880300/receiving-invalidauthenticationtokenaudience-error.html),
``ExpiredAuthenticationToken`` (https://github.com/Azure/azure-sdk-for-java/issues/33112); the
challenge is what ``azure.mgmt.core.policies.ARMChallengeAuthenticationPolicy`` parses.

Who obtains such tokens: the local operator (client credentials; ``emulator.identity.operator``),
managed identities, signed-in users. Role-based authorization of the management plane is not
emulated: a valid ARM token of this tenant may call every operation.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from emulator.arm.errors import ArmError
from emulator.context import EmulatorContext
from emulator.identity import ARM_AUDIENCES, verify_token
from emulator.tokens import TokenValidationError, unverified_claims

_INVALID = "The access token is invalid."
_ALLOWED_ORDER = (  # as ARM lists them
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
)


def _when(epoch: float) -> str:
    """ARM's timestamp in its 401 messages: ``3/19/2023 8:55:46 AM`` (UTC)."""
    t = datetime.fromtimestamp(epoch, UTC)
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {hour}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}"


def _refuse(ctx: EmulatorContext, code: str, message: str, description: str | None = None) -> ArmError:
    authority = f"{ctx.identity_base}/{ctx.tenant_id}"
    text = (description or message).replace('"', "'")
    challenge = f'Bearer authorization_uri="{authority}", error="invalid_token", error_description="{text}"'
    return ArmError(401, code, message, headers={"WWW-Authenticate": challenge})


def authenticate(ctx: EmulatorContext, authorization: str | None) -> dict[str, Any]:
    """The claims of the caller's ARM token, or ``ArmError`` 401 as ARM answers (module doc)."""
    if not authorization:
        raise _refuse(
            ctx,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            "The authentication failed because of missing 'Authorization' header.",
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refuse(
            ctx,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is not in a valid format.",
        )
    try:
        return verify_token(ctx, token, audiences=ARM_AUDIENCES, issuers=[ctx.issuer(), ctx.v1_issuer()])
    except TokenValidationError as exc:
        raise _refusal_for(ctx, token, exc) from None


def _refusal_for(ctx: EmulatorContext, token: str, exc: TokenValidationError) -> ArmError:
    try:
        claims = unverified_claims(token)  # only to word the refusal; nothing here is trusted
    except TokenValidationError:
        claims = {}
    if exc.reason == "expired":
        exp = claims.get("exp")
        when = _when(float(exp)) if isinstance(exp, int | float) else "?"
        return _refuse(
            ctx,
            "ExpiredAuthenticationToken",
            f"The access token expiry UTC time '{when}' is earlier than current UTC time '{_when(time.time())}'.",
        )
    if exc.reason == "audience":
        allowed = ",".join(
            f"'{a}'" for a in sorted(ARM_AUDIENCES, key=lambda a: ("core" not in a, not a.endswith("/")))
        )
        return _refuse(
            ctx,
            "InvalidAuthenticationTokenAudience",
            f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. "
            f"It should exactly match with one of the allowed audiences {allowed}.",
        )
    if exc.reason in ("issuer", "tenant"):
        authority = f"{ctx.identity_base}/{ctx.tenant_id}"
        return _refuse(
            ctx,
            "InvalidAuthenticationTokenTenant",
            f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the tenant "
            f"'{ctx.v1_issuer()}' associated with this subscription. Please use the authority (URL) "
            f"'{authority}' to get the token. Note, if the subscription is transferred to another tenant "
            "there is no impact to the services, but information about new tenant could take time to "
            "propagate (up to an hour). If you just transferred your subscription and see this error "
            "message, please try back later.",
        )
    return _refuse(ctx, "InvalidAuthenticationToken", _INVALID)
