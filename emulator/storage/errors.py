"""Table service errors in Azure's JSON shape (pure).

Where it sits: every data-plane handler raises ``TableError``; ``emulator.storage.service`` turns
it into ``{"odata.error": {"code", "message": {"lang": "en-US", "value": "...\\nRequestId:...\\nTime:..."}}}``
with ``x-ms-error-code``, ``x-ms-request-id``, ``x-ms-version`` (``azure-data-tables`` maps the code
to its exception types). No other keys inside ``odata.error``: the SDK's decoder breaks on them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from starlette.responses import Response

JSON_ERROR_TYPE = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"


class TableError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def base_headers(version: str) -> dict[str, str]:
    return {"x-ms-request-id": str(uuid.uuid4()), "x-ms-version": version}


def error_response(exc: TableError, version: str) -> Response:
    headers = {**base_headers(version), "x-ms-error-code": exc.code, **exc.headers}
    value = f"{exc.message}\nRequestId:{headers['x-ms-request-id']}\nTime:{now_text()}"
    body = {"odata.error": {"code": exc.code, "message": {"lang": "en-US", "value": value}}}
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=exc.status,
        headers=headers,
        media_type=JSON_ERROR_TYPE,
    )


def not_found() -> TableError:
    return TableError(404, "ResourceNotFound", "The specified resource does not exist.")


def table_not_found() -> TableError:
    return TableError(404, "TableNotFound", "The table specified does not exist.")


def invalid_input(message: str = "One of the request inputs is not valid.") -> TableError:
    return TableError(400, "InvalidInput", message)
