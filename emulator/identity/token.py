"""``/login/{tenant}/oauth2/v2.0/token``: the grants, each checked as Entra checks it.

Where it sits: OAuth clients (the MCP SDK, msal, azure-identity) exchange codes, refresh
tokens, client credentials and on-behalf-of assertions here. Every failure is an ``EntraError``
rendered in Entra's JSON shape.

* ``authorization_code``: the code must exist, be unused (a replay revokes the refresh tokens
  the first redemption produced), unexpired, issued to this client for this redirect URI, and
  ``code_verifier`` must hash to the stored S256 challenge. Codes from a ``web`` redirect need a
  confidential client.
* ``refresh_token``: bound to client and user; rotated on every use; a rotated-away token
  revokes its whole family; another resource may be asked for if consent covers it.
* ``client_credentials``: confidential client, ``<resource>/.default`` only.
* ``urn:ietf:params:oauth:grant-type:jwt-bearer`` (on-behalf-of): confidential client (secret, or
  a managed-identity assertion accepted through a federated identity credential); the user's
  token must be addressed to that client; consent for the downstream scopes must exist — an
  admin grant, a grant for the user, or the user's own consent; grants younger than the
  replication delay do not count yet — else AADSTS65001 ``consent_required``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.identity import claims as claim_shapes
from emulator.identity import grants, keys
from emulator.identity.clientauth import ClientAuth, authenticate, require_confidential
from emulator.identity.directory import User
from emulator.identity.errors import (
    EntraError,
    consent_required,
    invalid_grant,
    invalid_request,
    invalid_scope,
)
from emulator.identity.operator import operator_roles
from emulator.identity.scopes import resolve
from emulator.identity.service import IdentityService
from emulator.tokens import TokenValidationError

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


async def token(svc: IdentityService, request: Request) -> Response:
    try:
        if (
            request.headers.get("content-type", "").split(";")[0].strip()
            != "application/x-www-form-urlencoded"
        ):
            raise invalid_request(
                900144, "The request body must be application/x-www-form-urlencoded form parameters."
            )
        raw = await request.form()
        form = {k: v for k, v in raw.items() if isinstance(v, str)}
        tid = svc.tenant_id(request.path_params["tenant"])
        grant = form.get("grant_type")
        if not grant:
            raise invalid_request(
                900144, "The request body must contain the following parameter: 'grant_type'."
            )
        handler = _GRANTS.get(grant)
        if handler is None:
            raise EntraError(
                "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
            )
        auth = authenticate(
            svc.ctx, svc.directory, form, request.headers.get("authorization"), tid, svc.now()
        )
        body = handler(svc, tid, auth, form)
    except EntraError as err:
        return err.response()
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _pkce_ok(verifier: str, challenge: str) -> bool:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(computed, challenge)


def _user(svc: IdentityService, user_id: str) -> User:
    user = svc.directory.user_by_id(user_id)
    if user is None:
        raise invalid_grant(50034, "The user account does not exist in the directory.")
    return user


def _authorization_code(
    svc: IdentityService, tid: str, auth: ClientAuth, form: Mapping[str, str]
) -> dict[str, Any]:
    code = form.get("code")
    if not code:
        raise invalid_request(900144, "The request body must contain the following parameter: 'code'.")
    redemption = grants.redeem_code(svc.ctx.store, code)
    if redemption is None:
        raise invalid_grant(70000, "The provided value for the 'code' parameter is not valid.")
    body = redemption.body
    if not redemption.first_use:
        grants.revoke_family(svc.ctx.store, body.get("family"))
        raise invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
            "existing refresh token.",
        )
    if body["client_id"] != auth.app.app_id:
        raise invalid_grant(70000, "The provided authorization code was issued to a different client.")
    if body["tid"] != tid:
        raise invalid_grant(70000, "The provided authorization code was issued for another tenant.")
    if svc.now() > int(body["exp"]):
        raise invalid_grant(
            70008, "The provided authorization code or refresh token has expired due to inactivity."
        )
    if form.get("redirect_uri") != body["redirect_uri"]:
        raise invalid_grant(
            50011,
            "The redirect URI in the token request does not match the one used in the authorization request.",
        )
    verifier = form.get("code_verifier")
    if not verifier:
        raise invalid_grant(
            501481, "The Code_Verifier is missing; PKCE was used in the authorization request."
        )
    if not _pkce_ok(verifier, body["code_challenge"]):
        raise invalid_grant(
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        )
    if body["redirect_kind"] == "web":
        require_confidential(auth, "authorization_code")
    resource = form.get("resource", body.get("resource"))
    req = resolve(svc.directory, body["scope"], resource)
    user = _user(svc, body["user_id"])
    scopes = tuple(body["granted"])
    access, lifetime = svc.user_token(
        tid=tid, client_id=auth.app.app_id, azpacr=auth.azpacr, user=user, req=req, scopes=scopes
    )
    refresh = None
    if req.offline:
        family = grants.new_family(svc.ctx.store, auth.app.app_id, user.id)
        grants.attach_family(svc.ctx.store, code, family)
        refresh = _new_refresh(svc, family, tid, auth, user, body)
    id_tok = None
    if "openid" in req.oidc:
        id_tok = svc.id_token(tid=tid, client_id=auth.app.app_id, user=user, nonce=body.get("nonce"))
    return svc.token_response(
        access_token=access,
        lifetime=lifetime,
        scope=req.response_scope(scopes),
        refresh_token=refresh,
        id_token=id_tok,
        user=user,
        tid=tid,
    )


def _new_refresh(
    svc: IdentityService, family: str, tid: str, auth: ClientAuth, user: User, source: Mapping[str, Any]
) -> str:
    return grants.issue_refresh_token(
        svc.ctx.store,
        family,
        {
            "tid": tid,
            "client_id": auth.app.app_id,
            "user_id": user.id,
            "scope": source["scope"],
            "resource": source.get("resource"),
            "granted": list(source["granted"]),
            "redirect_kind": source.get("redirect_kind"),
            "exp": svc.now() + svc.settings.refresh_token_lifetime_s,
        },
    )


def _refresh_token(
    svc: IdentityService, tid: str, auth: ClientAuth, form: Mapping[str, str]
) -> dict[str, Any]:
    presented = form.get("refresh_token")
    if not presented:
        raise invalid_request(
            900144, "The request body must contain the following parameter: 'refresh_token'."
        )
    body = grants.peek_refresh_token(svc.ctx.store, presented)
    if body is None:
        raise invalid_grant(9002313, "Invalid request. The refresh token is malformed or not valid.")
    if body["client_id"] != auth.app.app_id:
        raise invalid_grant(70000, "The refresh token was issued to a different client.")
    if body["tid"] != tid:
        raise invalid_grant(70000, "The refresh token was issued for another tenant.")
    family = str(body["family"])
    if body.get("status") != "active" or grants.family_revoked(svc.ctx.store, family):
        grants.revoke_family(svc.ctx.store, family)
        raise invalid_grant(
            50173,
            "The provided grant has been revoked: the refresh token was already used (it was rotated) or its "
            "session was revoked. Sign in again.",
        )
    if svc.now() > int(body["exp"]):
        raise invalid_grant(700082, "The refresh token has expired due to inactivity.")
    if body.get("redirect_kind") == "web":
        require_confidential(auth, "refresh_token")
    user = _user(svc, body["user_id"])
    scope_param = form.get("scope")
    if scope_param:
        req = resolve(svc.directory, scope_param, form.get("resource"))
        missing = svc.missing_consent(auth.app, user, req)
        if missing:
            raise consent_required(auth.app.display_name, auth.app.app_id)
        scopes = svc.effective_scopes(auth.app, user, req)
        source = {**body, "scope": scope_param, "resource": form.get("resource"), "granted": list(scopes)}
    else:
        req = resolve(svc.directory, body["scope"], form.get("resource", body.get("resource")))
        scopes = tuple(body["granted"])
        source = body
    taken = grants.take_refresh_token(svc.ctx.store, presented)
    if taken is None or taken[0] != "active":  # lost a race with another use: that is reuse too
        grants.revoke_family(svc.ctx.store, family)
        raise invalid_grant(50173, "The provided grant has been revoked: the refresh token was already used.")
    access, lifetime = svc.user_token(
        tid=tid, client_id=auth.app.app_id, azpacr=auth.azpacr, user=user, req=req, scopes=scopes
    )
    refresh = _new_refresh(svc, family, tid, auth, user, source)
    id_tok = None
    if "openid" in req.oidc:
        id_tok = svc.id_token(tid=tid, client_id=auth.app.app_id, user=user, nonce=None)
    return svc.token_response(
        access_token=access,
        lifetime=lifetime,
        scope=req.response_scope(scopes),
        refresh_token=refresh,
        id_token=id_tok,
        user=user,
        tid=tid,
    )


def _client_credentials(
    svc: IdentityService, tid: str, auth: ClientAuth, form: Mapping[str, str]
) -> dict[str, Any]:
    require_confidential(auth, "client_credentials")
    req = resolve(svc.directory, form.get("scope"), form.get("resource"))
    if not req.default or not req.explicit_resource:
        raise invalid_scope(
            1002012,
            f"The provided value for scope {form.get('scope')} is not valid. Client credential flows must have a "
            "scope value with /.default suffixed to the resource identifier (application ID URI).",
        )
    sp_id = svc.directory.service_principal_id(auth.app.app_id)
    if sp_id is None:
        raise EntraError(
            "invalid_client",
            7000229,
            f"The client application {auth.app.app_id} is missing service principal in the tenant {tid}.",
            status=401,
        )
    lifetime = svc.settings.access_token_lifetime_s
    claims = claim_shapes.app_access_token(
        issuer=svc.issuer(tid),
        tenant=tid,
        aud=req.aud,
        client_id=auth.app.app_id,
        sp_id=sp_id,
        azpacr=auth.azpacr,
        roles=operator_roles(svc.ctx, auth.app.app_id, req.app.app_id),
        now=svc.now(),
        lifetime=lifetime,
    )
    return svc.token_response(
        access_token=keys.sign(svc.ctx, claims), lifetime=lifetime, scope=req.response_scope(())
    )


def _on_behalf_of(
    svc: IdentityService, tid: str, auth: ClientAuth, form: Mapping[str, str]
) -> dict[str, Any]:
    require_confidential(auth, "on_behalf_of")
    if form.get("requested_token_use") != "on_behalf_of":
        raise invalid_request(
            900144,
            "The request body must contain the following parameter: 'requested_token_use=on_behalf_of'.",
        )
    assertion = form.get("assertion")
    if not assertion:
        raise invalid_request(900144, "The request body must contain the following parameter: 'assertion'.")
    client = auth.app
    audiences = {client.app_id, *client.identifier_uris, f"api://{client.app_id}"}
    try:
        incoming = keys.verify_token(
            svc.ctx, assertion, issuers=[svc.issuer(tid), svc.v1_issuer(tid)], now=svc.now(), leeway_s=0
        )
    except TokenValidationError as exc:
        if exc.reason in ("expired", "not_yet_valid"):
            raise invalid_grant(500133, "Assertion is not within its valid time range.") from exc
        raise invalid_grant(50013, f"Assertion failed signature validation. [Reason - {exc}]") from exc
    aud = incoming.get("aud")
    if aud not in audiences:
        raise invalid_grant(
            500131, f"Assertion audience does not match the Client app presenting the assertion ('{aud}')."
        )
    if incoming.get("idtyp") == "app" or not incoming.get("scp"):
        raise invalid_grant(50013, "Assertion is not a user (delegated) token; on-behalf-of needs one.")
    user = _user(svc, str(incoming.get("oid")))
    req = resolve(svc.directory, form.get("scope"), form.get("resource"))
    # Consent is what Entra has on record — an admin grant (oauth2PermissionGrant, AllPrincipals),
    # a grant for this user (Principal) or the user's own consent — never implied: listing the
    # permission in requiredResourceAccess asks for it, it grants nothing (Learn, "Microsoft
    # identity platform and OAuth 2.0 On-Behalf-Of flow", https://learn.microsoft.com/entra/
    # identity-platform/v2-oauth2-on-behalf-of-flow#gaining-consent-for-the-middle-tier-application:
    # combined consent, pre-authorized applications or admin consent). Without it: AADSTS65001.
    # The headless sign-in switch consents at /authorize only, never here.
    missing = svc.missing_consent(client, user, req)
    if missing:
        raise consent_required(client.display_name, client.app_id)
    scopes = req.scopes if not req.default else tuple(sorted(set(svc.effective_scopes(client, user, req))))
    access, lifetime = svc.user_token(
        tid=tid, client_id=client.app_id, azpacr=auth.azpacr, user=user, req=req, scopes=scopes
    )
    return svc.token_response(access_token=access, lifetime=lifetime, scope=req.response_scope(scopes))


_GRANTS = {
    "authorization_code": _authorization_code,
    "refresh_token": _refresh_token,
    "client_credentials": _client_credentials,
    JWT_BEARER: _on_behalf_of,
}
