"""ARM reads as JSON through an SDK client's own pipeline, at an api-version of our choosing.

Where it sits: used by providers whose resources carry what the SDK's models cannot (APIM's MCP
API: ``type: mcp``, ``backendId``, ``mcpProperties`` exist only in preview api-versions that
azure-mgmt-apimanagement 5.0.0 does not speak, and its models drop unknown nested properties).
The requests go through the client's pipeline (credential, retries, ARM pacing, TLS), exactly as
the generated operations send them; lists follow ``nextLink`` as the server gives it (the
generated paging would reset the api-version of later pages to the client's own).
Errors are azure-core's ``HttpResponseError`` in ARM's format, so ``providers.errors.translating``
and ``common.collect`` / ``get_or_none`` treat them like the SDK's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


def _url(client: Any, path: str) -> str:
    """``path`` on the client's endpoint, as its generated operations format it (an msrest-style
    management client, such as azure-mgmt-apimanagement's, whose pipeline client knows its base URL)."""
    return str(client._client.format_url(path))


async def _send(client: Any, method: str, url: str, params: dict[str, str] | None = None) -> Any:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceExistsError,
        ResourceNotFoundError,
        ResourceNotModifiedError,
        map_error,
    )
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    request = HttpRequest(method, url, params=params)
    response = await client._client._pipeline.run(request, stream=False)
    http = response.http_response
    if http.status_code != 200:
        # 401/404/409/304 -> the same azure-core subclasses the generated operations raise
        error_map = {
            401: ClientAuthenticationError,
            404: ResourceNotFoundError,
            409: ResourceExistsError,
            304: ResourceNotModifiedError,
        }
        map_error(status_code=http.status_code, response=http, error_map=error_map)
        raise HttpResponseError(response=http, error_format=ARMErrorFormat)
    return http.json()


async def get_json(client: Any, path: str, api_version: str, **params: str) -> dict[str, Any]:
    """``GET path?api-version=...``; 404 raises ``ResourceNotFoundError``."""
    body = await _send(client, "GET", _url(client, path), {"api-version": api_version, **params})
    return dict(body or {})


async def list_json(client: Any, path: str, api_version: str) -> AsyncIterator[dict[str, Any]]:
    """Every item of a collection, following absolute ``nextLink``s."""
    page = await _send(client, "GET", _url(client, path), {"api-version": api_version})
    while True:
        for item in (page or {}).get("value") or []:
            yield dict(item)
        next_link = (page or {}).get("nextLink")
        if not next_link:
            return
        page = await _send(client, "GET", str(next_link))
