"""Microsoft Graph's OData error envelope (what kiota maps to ``ODataError``).

``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``
with the ``request-id`` / ``client-request-id`` response headers Graph sends.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.contracts.graph import GraphProblem


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def request_ids(request: Request) -> tuple[str, str]:
    request_id = str(uuid.uuid4())
    return request_id, request.headers.get("client-request-id") or request_id


def graph_response(
    request: Request, status: int, body: Any = None, headers: Mapping[str, str] | None = None
) -> Response:
    request_id, client_request_id = request_ids(request)
    h = {"request-id": request_id, "client-request-id": client_request_id, **(headers or {})}
    if body is None:
        return Response(status_code=status, headers=h)
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        headers=h,
        media_type="application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
    )


def error_response(request: Request, exc: GraphError, headers: Mapping[str, str] | None = None) -> Response:
    request_id, client_request_id = request_ids(request)
    body = {
        "error": {
            "code": exc.code,
            "message": exc.message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id,
            },
        }
    }
    h = {"request-id": request_id, "client-request-id": client_request_id, **(headers or {})}
    return Response(json.dumps(body), status_code=exc.status, headers=h, media_type="application/json")


def not_found(key: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.",
    )


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    return GraphError(400, code, message)


def contract_refusal(problems: list[GraphProblem], type_name: str) -> GraphError:
    """Graph's 400 for a body that breaks the vendored v1.0 schema (``emulator.contracts.graph``).

    The code is the directory's ``Request_BadRequest`` (its answer to invalid property values,
    "One or more properties contains invalid values." as quoted in
    Azure-Samples/ms-identity-dotnetcore-b2c-account-management#17); a wrong or missing value
    names the property as the directory words it, "Invalid value specified for property 'x' of
    resource 'Application'." (as this emulator's entity checks already say). Graph's exact text
    for an undeclared or a navigation property is not documented: the message names the property
    and the resource the same way."""
    first = problems[0]
    name = first.path.split("[", 1)[0]
    short = type_name.rsplit(".", 1)[-1]
    resource = short[:1].upper() + short[1:]
    if first.kind == "unknown":
        message = f"Property '{name}' does not exist on resource '{resource}'."
    elif first.kind == "navigation":
        message = (
            f"Property '{name}' is a navigation property of resource '{resource}' and cannot be set inline."
        )
    elif first.kind == "odata-type":
        message = f"A type named '{first.message.split(chr(39))[1]}' could not be resolved by the model for this resource."
    else:
        message = f"Invalid value specified for property '{name}' of resource '{resource}'."
    return GraphError(400, "Request_BadRequest", message)
