"""``GET /msi/token``: managed-identity tokens for processes the runner starts.

Where it sits: a container app started by the emulator's runner gets ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER`` (the App Service / Container Apps protocol), so ``azure-identity``'s
``ManagedIdentityCredential`` (through msal's App Service source) calls this endpoint with
``X-IDENTITY-HEADER: <secret>``, ``api-version=2019-08-01``, ``resource=<resource>`` and
optionally ``client_id`` / ``principal_id`` / ``object_id`` / ``mi_res_id``. The runner recorded
``runner/identity-header`` (key = sha256 hex of the secret, body ``{"containerAppId": ...}``);
the container app's ``identity.userAssignedIdentities`` says which identities it may use.

The token: ``aud`` = the resource (Graph's app id for Graph), ``iss`` = the v2 issuer of the
identity's tenant, ``sub`` = ``oid`` = principal id, ``azp``/``appid`` = client id — exactly what
a federated identity credential (issuer, subject = principal id, audience
``api://AzureADTokenExchange``) matches.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.identity import claims, keys, wellknown
from emulator.identity.directory import ManagedIdentity
from emulator.identity.service import IdentityService


def _fail(status: int, message: str) -> Response:
    return JSONResponse({"statusCode": status, "message": message, "correlationId": ""}, status_code=status)


def audience_for(resource: str) -> str:
    resource = resource.removesuffix("/.default")
    if resource.rstrip("/") == wellknown.GRAPH_RESOURCE:
        return wellknown.GRAPH_APP_ID
    return resource


def select_identity(identities: list[ManagedIdentity], params: dict[str, str]) -> ManagedIdentity | None:
    for name, attr in (
        ("client_id", "client_id"),
        ("principal_id", "principal_id"),
        ("object_id", "principal_id"),
        ("mi_res_id", "resource_id"),
        ("msi_res_id", "resource_id"),
    ):
        wanted = params.get(name)
        if wanted:
            return next((i for i in identities if getattr(i, attr).lower() == wanted.lower()), None)
    return identities[0] if len(identities) == 1 else None


async def msi_token(svc: IdentityService, request: Request) -> Response:
    secret = request.headers.get("x-identity-header")
    if not secret:
        return _fail(401, "The X-IDENTITY-HEADER header is required.")
    app_id = svc.directory.container_app_for_header(secret)
    if app_id is None:
        return _fail(401, "The X-IDENTITY-HEADER value is not valid for any running app.")
    params = dict(request.query_params)
    resource = params.get("resource")
    if not resource:
        return _fail(400, "The 'resource' query parameter is required.")
    identities = svc.directory.container_app_identities(app_id)
    if not identities:
        return _fail(400, f"No managed identity is assigned to {app_id}.")
    identity = select_identity(identities, params)
    if identity is None:
        return _fail(
            400,
            "No assigned managed identity matches the requested client_id/principal_id/mi_res_id "
            "(or several are assigned and none was named).",
        )
    tid = identity.tenant_id or svc.ctx.tenant_id
    lifetime = svc.settings.mi_token_lifetime_s
    now = svc.now()
    token = keys.sign(
        svc.ctx,
        claims.managed_identity_token(
            issuer=svc.issuer(tid),
            tenant=tid,
            aud=audience_for(resource),
            identity=identity,
            now=now,
            lifetime=lifetime,
        ),
    )
    return JSONResponse(
        {
            "access_token": token,
            "expires_on": str(now + lifetime),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        },
        headers={"Cache-Control": "no-store"},
    )
