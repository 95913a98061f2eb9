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
