"""ARM error envelope: ``{"error": {"code", "message"[, "details"]}}`` with ARM's status codes.

Where it sits: every ARM handler raises ``ArmError``; ``emulator.arm.router`` turns it into the
JSON response azure-core maps to ``ResourceNotFoundError``, ``ResourceExistsError`` etc.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import Response


class ArmError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details) if details is not None else None
        self.headers = dict(headers or {})  # e.g. WWW-Authenticate on a 401

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def json_response(status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response with the ARM request id headers (no body for ``None``)."""
    h = {"x-ms-request-id": str(uuid.uuid4()), **(headers or {})}
    if body is None:
        return Response(status_code=status, headers=h)
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, headers=h, media_type="application/json"
    )


def error_response(exc: ArmError) -> Response:
    return json_response(exc.status, exc.body(), exc.headers)


def not_found(type_name: str, name: str, resource_group: str | None = None) -> ArmError:
    where = f" under resource group '{resource_group}'" if resource_group else ""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{type_name}/{name}'{where} was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def apim_not_found() -> ArmError:
    """APIM's own 404 for entities under a service."""
    return ArmError(404, "ResourceNotFound", "Entity with specified identifier not found")


def validation_error(message: str, target: str | None = None) -> ArmError:
    detail = {"code": "ValidationError", "target": target or "representation", "message": message}
    return ArmError(400, "ValidationError", "One or more fields contain incorrect values:", [detail])
