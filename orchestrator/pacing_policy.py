"""The azure-core pipeline policy that wires ``orchestrator.pacing.RatePacer`` into the ARM clients.

Where it sits: ``target.open_clients`` passes one instance to both ARM clients as their
``custom_hook_policy`` (the generated clients' slot right after the retry and authentication
policies, so it runs once per attempt, retries and LRO polls included). It is the only code that
reads the remaining-requests headers; the pacing decisions are ``RatePacer``'s. Only requests to
``/subscriptions/<id>/...`` are paced (ARM's subscription buckets); anything else the pipeline
carries (tenant-level calls, a blob upload URL) passes untouched. Imported lazily with the SDKs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy

from orchestrator.pacing import REMAINING_HEADER, RatePacer, op_type


def _subscription_scoped(url: str) -> bool:
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return len(parts) >= 2 and parts[0].lower() == "subscriptions"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` / ``x-ms-retry-after-ms`` / ``Retry-After`` (as azure-core reads them)."""
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) * scale
        except ValueError:
            return None  # an HTTP date: the SDK's retry honours it; the pacer blocks one refill
    return None


class ArmPacingPolicy(AsyncHTTPPolicy[Any, Any]):
    def __init__(self, pacer: RatePacer) -> None:
        super().__init__()
        self.pacer = pacer

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        http = request.http_request
        if not _subscription_scoped(http.url):
            return await self.next.send(request)
        op = op_type(http.method)
        await self.pacer.acquire(op)
        try:
            response = await self.next.send(request)
        except BaseException:
            self.pacer.release(op, None)
            raise
        headers = response.http_response.headers
        throttled = response.http_response.status_code == 429
        self.pacer.release(
            op,
            _int(headers.get(REMAINING_HEADER + op)),
            throttled=throttled,
            retry_after=_retry_after(headers) if throttled else None,
        )
        return response
