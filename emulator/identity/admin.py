"""Admin routes of the identity service under ``/_emulator/identity`` (127.0.0.1 only, like
every emulator route): inspect, rotate and retire signing keys; switch headless sign-in.

* ``GET  /_emulator/identity/keys`` -> ``{"keys": [{"kid", "status", "created"}]}``
* ``POST /_emulator/identity/keys/rotate`` -> ``{"current": kid, "keys": [...]}``
* ``POST /_emulator/identity/keys/retire`` -> ``{"retired": [kid...], "keys": [...]}``
* ``GET|PUT /_emulator/identity/settings`` -> ``{"headlessSignIn": bool}``
* ``POST /_emulator/identity/mint`` ``{"claims": {...}}`` -> ``{"token": jwt}`` — signs arbitrary
  claims with the current key. It exists so the verifier can forge tokens that only the issuer
  could sign (expired, wrong audience, missing scope...) and prove the gateway refuses them; it is
  served by the local emulator only, never by anything that speaks for Azure. A token signed here
  passes every check of ARM, Graph and the gateway, so only the local operator may ask:
  ``Authorization: Bearer <operator's ARM token>`` (``operator``), else 401.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.identity import keys
from emulator.identity.operator import operator_client_id
from emulator.identity.service import IdentityService
from emulator.identity.wellknown import ARM_AUDIENCES
from emulator.tokens import TokenValidationError


def _keys(svc: IdentityService) -> list[dict[str, Any]]:
    return [{"kid": k.kid, "status": k.status, "created": k.created} for k in keys.signing_keys(svc.ctx)]


async def list_keys(svc: IdentityService, request: Request) -> Response:
    return JSONResponse({"keys": _keys(svc)})


async def rotate(svc: IdentityService, request: Request) -> Response:
    key = keys.rotate_keys(svc.ctx)
    return JSONResponse({"current": key.kid, "keys": _keys(svc)})


async def retire(svc: IdentityService, request: Request) -> Response:
    retired = keys.retire_previous(svc.ctx)
    return JSONResponse({"retired": retired, "keys": _keys(svc)})


async def settings(svc: IdentityService, request: Request) -> Response:
    if request.method == "PUT":
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("headlessSignIn"), bool):
            return JSONResponse(
                {"error": {"code": "BadRequest", "message": 'Body must be {"headlessSignIn": true|false}.'}},
                status_code=400,
            )
        svc.set_headless(body["headlessSignIn"])
    return JSONResponse({"headlessSignIn": svc.settings.headless_sign_in})


def _is_operator(svc: IdentityService, request: Request) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    operator = operator_client_id(svc.ctx)
    if scheme.lower() != "bearer" or not token.strip() or operator is None:
        return False
    try:
        claims = keys.verify_token(
            svc.ctx, token.strip(), audiences=ARM_AUDIENCES, issuers=[svc.ctx.issuer(), svc.ctx.v1_issuer()]
        )
    except TokenValidationError:
        return False
    return claims.get("azp") == operator


async def mint(svc: IdentityService, request: Request) -> Response:
    if not _is_operator(svc, request):
        return JSONResponse(
            {"error": {"code": "Unauthorized", "message": "Minting needs the local operator's ARM token."}},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("claims"), dict):
        return JSONResponse(
            {"error": {"code": "BadRequest", "message": 'Body must be {"claims": {...}}.'}}, status_code=400
        )
    return JSONResponse({"token": keys.sign(svc.ctx, body["claims"])})
