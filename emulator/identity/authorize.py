"""``/login/{tenant}/oauth2/v2.0/authorize``: authorization code + PKCE, sign-in and consent pages.

Where it sits: the browser (or a headless test client) arrives here from an OAuth client; the
answer is a redirect back to the client's *registered* redirect URI carrying ``code`` and
``state`` — as Entra's does: no RFC 9207 ``iss`` (Learn, "Microsoft identity platform and OAuth 2.0
authorization code flow", https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
#successful-response: the parameters are ``code`` and ``state``; its discovery document has no
``authorization_response_iss_parameter_supported`` either) — or an error.

Order of checks, as Entra does it: tenant, ``client_id`` and ``redirect_uri`` are checked first
and failures there render an error page — never a redirect (no open redirect). Only once the
redirect URI is known to be registered (exactly, or any port for loopback per RFC 8252) do
later errors (``response_type``, PKCE, scopes, ``resource``, ``prompt=none``) go back to it as
``error``/``error_description``/``state``.

Then: with the headless switch on and a ``login_hint`` naming a test user, the user is signed
in and consent is given without a page (a documented local switch, on by default, for the
verifier and tests: ``PUT /_emulator/identity/settings {"headlessSignIn": false}`` turns it off).
Otherwise the sign-in page lists the directory's users (``graph/users``) and asks for the
password, checked against the stored scrypt hash (``passwords.py``; a wrong one re-renders the
page with Entra's "Your account or password is incorrect."); after sign-in, a consent page
appears unless the client is pre-authorised for
the scopes, consent was already given, or an admin grant exists. Pending requests live in the
store as transactions (``grants.TRANSACTIONS``) keyed by an unguessable id.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from emulator.identity import grants, pages
from emulator.identity.directory import App, User, match_redirect
from emulator.identity.errors import EntraError, invalid_request
from emulator.identity.passwords import check_password
from emulator.identity.scopes import ScopeRequest, resolve
from emulator.identity.service import IdentityService

_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_RESPONSE_MODES = ("query", "fragment", "form_post")


def _redirect(svc: IdentityService, txn: dict[str, Any], params: dict[str, str]) -> Response:
    """Send ``params`` (+ state) to the already validated redirect URI (no ``iss``: Entra sends none)."""
    out = dict(params)
    if txn.get("state") is not None:
        out["state"] = txn["state"]
    uri: str = txn["redirect_uri"]
    mode = txn.get("response_mode", "query")
    if mode == "form_post":
        return pages.form_post(uri, list(out.items()))
    parts = urlsplit(uri)
    if mode == "fragment":
        target = urlunsplit(parts._replace(fragment=urlencode(out)))
    else:
        query = f"{parts.query}&{urlencode(out)}" if parts.query else urlencode(out)
        target = urlunsplit(parts._replace(query=query))
    return RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})


def _redirect_error(svc: IdentityService, txn: dict[str, Any], err: EntraError) -> Response:
    return _redirect(
        svc,
        txn,
        {
            "error": err.error,
            "error_description": err.description(),
            "error_uri": f"https://login.microsoftonline.com/error?code={err.code}",
        },
    )


def _error_page(svc: IdentityService, tenant: str, err: EntraError) -> Response:
    return pages.error(tenant=tenant, message=err.description())


async def authorize(svc: IdentityService, request: Request) -> Response:
    tenant = request.path_params["tenant"]
    params: dict[str, str] = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    try:
        tid = svc.tenant_id(tenant)
    except EntraError as err:
        return _error_page(svc, tenant, err)
    client_id = params.get("client_id", "")
    client = svc.directory.app_by_client_id(client_id) if client_id else None
    if client is None:
        unknown = EntraError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tid}'.",
        )
        return _error_page(svc, tenant, unknown)
    redirect_uri = params.get("redirect_uri", "")
    kind = match_redirect(client, redirect_uri) if redirect_uri else None
    if kind is None:
        mismatch = invalid_request(
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
            f"configured for the application '{client.app_id}'. Make sure the redirect URI sent in the "
            "request matches one added to your application in the Azure portal.",
        )
        return _error_page(svc, tenant, mismatch)
    mode = params.get("response_mode", "query")
    txn: dict[str, Any] = {
        "tid": tid,
        "tenant": tenant,
        "client_id": client.app_id,
        "redirect_uri": redirect_uri,
        "redirect_kind": kind,
        "state": params.get("state"),
        "response_mode": mode if mode in _RESPONSE_MODES else "query",
        "exp": svc.now() + svc.settings.transaction_lifetime_s,
    }
    try:
        _validate_request(svc, params)
    except EntraError as err:
        return _redirect_error(svc, txn, err)
    txn.update(
        {
            "scope": params["scope"],
            "resource": params.get("resource"),
            "code_challenge": params["code_challenge"],
            "nonce": params.get("nonce"),
            "prompt": params.get("prompt"),
        }
    )
    hint = params.get("login_hint")
    if svc.settings.headless_sign_in and hint:
        user = svc.directory.user_by_hint(hint)
        if user is not None:
            return _complete(svc, txn, client, user, auto_consent=True)
    if params.get("prompt") == "none":
        return _redirect_error(
            svc,
            txn,
            EntraError(
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
            ),
        )
    txn_id = grants.put_transaction(svc.ctx.store, txn)
    return _signin_page(svc, txn, txn_id, client)


def _validate_request(svc: IdentityService, params: dict[str, str]) -> ScopeRequest:
    if params.get("response_type") != "code":
        raise EntraError(
            "unsupported_response_type",
            700054,
            f"response_type '{params.get('response_type', '')}' is not enabled for the application; "
            "only 'code' (authorization code with PKCE) is supported.",
        )
    method = params.get("code_challenge_method", "")
    challenge = params.get("code_challenge", "")
    if not challenge:
        raise invalid_request(9002325, "Proof Key for Code Exchange is required for this request.")
    if method != "S256":
        raise invalid_request(
            9002326,
            f"code_challenge_method '{method or 'plain'}' is not supported; only S256 is accepted.",
        )
    if not _CHALLENGE.match(challenge):
        raise invalid_request(
            9002327, "code_challenge must be the base64url SHA-256 of the verifier (43 characters)."
        )
    return resolve(svc.directory, params.get("scope"), params.get("resource"))


def _action(svc: IdentityService, txn: dict[str, Any], step: str) -> str:
    return svc.endpoint(txn["tenant"], f"oauth2/v2.0/authorize/{step}")


def _signin_page(
    svc: IdentityService, txn: dict[str, Any], txn_id: str, client: App, notice: str | None = None
) -> Response:
    return pages.signin(
        tenant=txn["tid"],
        action=_action(svc, txn, "signin"),
        txn=txn_id,
        client_name=client.display_name or client.app_id,
        users=svc.directory.users(),
        notice=notice,
    )


def _complete(
    svc: IdentityService,
    txn: dict[str, Any],
    client: App,
    user: User,
    *,
    auto_consent: bool = False,
    txn_id: str | None = None,
) -> Response:
    """The user is known: ask for consent if needed, else issue the code and redirect."""
    try:
        req = resolve(svc.directory, txn["scope"], txn.get("resource"))
    except EntraError as err:
        return _redirect_error(svc, txn, err)
    missing = svc.missing_consent(client, user, req)
    prompt_consent = txn.get("prompt") == "consent" and req.explicit_resource and not auto_consent
    if missing or prompt_consent:
        if auto_consent:
            grants.record_consent(svc.ctx.store, client.app_id, user.id, req.app.app_id, set(missing))
        elif txn.get("prompt") == "none":
            return _redirect_error(
                svc,
                txn,
                EntraError(
                    "consent_required",
                    65001,
                    f"The user or administrator has not consented to use the application with ID "
                    f"'{client.app_id}' named '{client.display_name}'.",
                ),
            )
        else:
            body = {**txn, "user_id": user.id, "consent": list(missing or svc.required_scopes(client, req))}
            if txn_id is None:
                txn_id = grants.put_transaction(svc.ctx.store, body)
            else:
                grants.update_transaction(svc.ctx.store, txn_id, body)
            return _consent_page(svc, body, txn_id, client, user, req)
    if txn_id is not None:
        grants.end_transaction(svc.ctx.store, txn_id)
    scopes = svc.effective_scopes(client, user, req)
    code = grants.issue_code(
        svc.ctx.store,
        {
            "tid": txn["tid"],
            "client_id": client.app_id,
            "redirect_uri": txn["redirect_uri"],
            "redirect_kind": txn["redirect_kind"],
            "code_challenge": txn["code_challenge"],
            "user_id": user.id,
            "scope": txn["scope"],
            "resource": txn.get("resource"),
            "granted": list(scopes),
            "nonce": txn.get("nonce"),
            "exp": svc.now() + svc.settings.code_lifetime_s,
        },
    )
    return _redirect(svc, txn, {"code": code})


def _consent_page(
    svc: IdentityService, txn: dict[str, Any], txn_id: str, client: App, user: User, req: ScopeRequest
) -> Response:
    lines = []
    for value in txn["consent"]:
        scope = req.app.scope(value)
        lines.append((scope.consent_name or value, scope.consent_description) if scope else (value, ""))
    return pages.consent(
        tenant=txn["tid"],
        action=_action(svc, txn, "consent"),
        txn=txn_id,
        client_name=client.display_name or client.app_id,
        user=user.upn,
        resource_name=req.app.display_name or req.app.app_id,
        scopes=lines,
    )


async def signin_post(svc: IdentityService, request: Request) -> Response:
    form = await request.form()
    txn_id = str(form.get("txn", ""))
    txn = grants.get_transaction(svc.ctx.store, txn_id, svc.now()) if txn_id else None
    if txn is None:
        return pages.error(
            tenant=request.path_params["tenant"],
            message="This sign-in request has expired or is unknown. Start again from the application.",
        )
    client = svc.directory.app_by_client_id(txn["client_id"])
    user = svc.directory.user_by_id(str(form.get("user", "")))
    if client is None:
        return pages.error(tenant=txn["tid"], message="The application no longer exists.")
    if user is None:
        return _signin_page(svc, txn, txn_id, client, notice="Pick one of the listed accounts.")
    password = form.get("password")
    # Entra's words for a wrong password (AADSTS50126); the same for an account without one, and
    # the hash is derived either way, so the answer and its time tell nothing about the account.
    given = password if isinstance(password, str) else ""
    # scrypt takes tens of milliseconds: off the event loop that serves every other request.
    if not await anyio.to_thread.run_sync(check_password, user.password_hash, given):
        return _signin_page(svc, txn, txn_id, client, notice="Your account or password is incorrect.")
    return _complete(svc, txn, client, user, txn_id=txn_id)


async def consent_post(svc: IdentityService, request: Request) -> Response:
    form = await request.form()
    txn_id = str(form.get("txn", ""))
    txn = grants.get_transaction(svc.ctx.store, txn_id, svc.now()) if txn_id else None
    if txn is None or "user_id" not in txn:
        return pages.error(
            tenant=request.path_params["tenant"],
            message="This consent request has expired or is unknown. Start again from the application.",
        )
    client = svc.directory.app_by_client_id(txn["client_id"])
    user = svc.directory.user_by_id(txn["user_id"])
    if client is None or user is None:
        return pages.error(tenant=txn["tid"], message="The application or the user no longer exists.")
    if form.get("decision") != "accept":
        grants.end_transaction(svc.ctx.store, txn_id)
        return _redirect_error(
            svc,
            txn,
            EntraError(
                "access_denied",
                65004,
                "User declined to consent to access the app.",
                suberror="consent_denied",
            ),
        )
    req = resolve(svc.directory, txn["scope"], txn.get("resource"))
    grants.record_consent(svc.ctx.store, client.app_id, user.id, req.app.app_id, set(txn["consent"]))
    grants.end_transaction(svc.ctx.store, txn_id)
    txn = {**txn, "prompt": None}
    return _complete(svc, txn, client, user)
