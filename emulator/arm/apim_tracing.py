"""APIM request tracing, the ARM half: ``gateways/managed/listDebugCredentials`` and ``listTrace``.

Where it sits: registered by ``apim.register_all`` as the actions of APIM's gateways (only the
built-in ``managed`` gateway exists here: it is never written, ``TypeSpec.implicit``). The
credential and the trace records are ``emulator.gateway.tracing``'s; the local gateway records a
request when it carries the credential in ``Apim-Debug-Authorization``.

Contract: REST spec
specification/apimanagement/resource-manager/Microsoft.ApiManagement/stable/2024-05-01/apimgateways.json
(``Gateway_ListDebugCredentials``: POST, body ``GatewayListDebugCredentialsContract`` — ``apiId``
and ``purposes`` required, ``credentialsExpireAfter`` an ISO 8601 duration — answers 200
``GatewayDebugCredentialsContract {"token"}``; ``Gateway_ListTrace``: POST ``{"traceId"}`` answers
200 ``GatewayTraceContract``, an open object; ``Gateway_InvalidateDebugCredentials``: 204) and
Learn's "Enable tracing for an API" (articles/api-management/api-management-howto-api-inspector.md:
"the token credential returned in the response expires after 1 hour [by default] ... the expiry
time is limited to a maximum of 1 hour"; the ``apiId`` is "the full resource ID of the API").
The required properties are those of the spec (the SDK's generated ``_validation`` of
``GatewayListDebugCredentialsContract`` says the same: ``purposes``, ``apiId``). The messages of
Azure's refusals are not published: ours say what is wrong, with APIM's ``ValidationError`` shape.
"""

from __future__ import annotations

from starlette.responses import Response

from emulator.arm.errors import ArmError, json_response, validation_error
from emulator.arm.ids import ArmAddress
from emulator.arm.types import Call
from emulator.gateway import (
    MAX_DEBUG_LIFETIME_S,
    issue_debug_credential,
    load_trace,
    parse_duration,
)
from emulator.gateway import (
    invalidate_debug_credentials as invalidate,
)
from emulator.store import Stored

APIS = "microsoft.apimanagement/service/apis"


def _service_key(addr: ArmAddress) -> str:
    return ArmAddress(
        addr.subscription, addr.resource_group, addr.scope, addr.namespace, addr.types[:1], addr.names[:1]
    ).key


def _api_name(call: Call, api_id: str) -> str:
    """The API a full resource id names, if it is an API of this service (else 400/404)."""
    service = _service_key(call.addr)
    prefix = service + "/apis/"
    lowered = api_id.lower().rstrip("/")
    if not lowered.startswith(prefix) or "/" in lowered[len(prefix) :] or lowered == prefix.rstrip("/"):
        raise validation_error(
            f"apiId must be the full resource id of an API of this service ({service}/apis/{{apiId}}).",
            "apiId",
        )
    name = lowered[len(prefix) :]
    if call.ctx.store.get(APIS, prefix + name) is None:
        raise ArmError(404, "ResourceNotFound", "Api not found.")
    return name


async def list_debug_credentials(call: Call, stored: Stored) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    purposes = body.get("purposes")
    api_id = body.get("apiId")
    if not isinstance(purposes, list) or not purposes:
        raise validation_error("The purposes field is required.", "purposes")
    if any(p != "tracing" for p in purposes):  # the spec's enum GatewayListDebugCredentialsContractPurpose
        raise validation_error("purposes may only hold 'tracing'.", "purposes")
    if not isinstance(api_id, str) or not api_id:
        raise validation_error("The apiId field is required.", "apiId")
    expire = body.get("credentialsExpireAfter", "PT1H")
    try:
        lifetime = parse_duration(expire) if isinstance(expire, str) else -1.0
    except ValueError:
        lifetime = -1.0
    if not 0 < lifetime <= MAX_DEBUG_LIFETIME_S:
        raise validation_error(
            "credentialsExpireAfter must be an ISO 8601 duration of at most one hour (PT1H).",
            "credentialsExpireAfter",
        )
    name = _api_name(call, api_id)
    token = issue_debug_credential(call.ctx.store, _service_key(call.addr), name, lifetime)
    return json_response(200, {"token": token})


async def list_trace(call: Call, stored: Stored) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    trace_id = body.get("traceId")
    if not isinstance(trace_id, str) or not trace_id:
        raise validation_error("The traceId field is required.", "traceId")
    found = load_trace(call.ctx.store, _service_key(call.addr), trace_id)
    if found is None:
        raise ArmError(404, "ResourceNotFound", "Trace not found.")
    return json_response(200, found)


async def invalidate_debug_credentials(call: Call, stored: Stored) -> Response:
    invalidate(call.ctx.store, _service_key(call.addr))
    return json_response(204)
