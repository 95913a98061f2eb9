"""Admin routes of the identity service under ``/_emulator/identity`` (127.0.0.1 only, like
every emulator route): inspect, rotate and retire signing keys; switch headless sign-in.

* ``GET  /_emulator/identity/keys`` -> ``{"keys": [{"kid", "status", "created"}]}``
* ``POST /_emulator/identity/keys/rotate`` -> ``{"current": kid, "keys": [...]}``
* ``POST /_emulator/identity/keys/retire`` -> ``{"retired": [kid...], "keys": [...]}``
* ``GET|PUT /_emulator/identity/settings`` -> ``{"headlessSignIn": bool}``
* ``POST /_emulator/identity/mint`` ``{"claims": {...}}`` -> ``{"token": jwt}`` — signs arbitrary
  claims with the current key. It exists so the verifier can forge tokens that only the issuer
  could sign (expired, wrong audience, missing scope...) and prove the gateway refuses them; it is
  served by the local emulator only, never by anything that speaks for Azure.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.identity import keys
from emulator.identity.service import IdentityService


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


async def mint(svc: IdentityService, request: Request) -> Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("claims"), dict):
        return JSONResponse(
            {"error": {"code": "BadRequest", "message": 'Body must be {"claims": {...}}.'}}, status_code=400
        )
    return JSONResponse({"token": keys.sign(svc.ctx, body["claims"])})
