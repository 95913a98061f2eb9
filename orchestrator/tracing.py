"""``prmlab trace``: one request through the lab's gateway with APIM request tracing, as Azure serves it.

Where it sits: the network half of ``prmlab trace`` (``commands/trace.py``); the text is
``output/trace_text.py``. Through ARM, so the same code runs on both targets (the emulator's
ARM serves the same operations: ``emulator/arm/apim_tracing.py``):

1. ``POST {service}/gateways/managed/listDebugCredentials`` with the API's full resource id,
   ``purposes: ["tracing"]`` and a short ``credentialsExpireAfter`` (REST spec
   ``Gateway_ListDebugCredentials``, 2024-05-01; Learn "Enable tracing for an API");
2. the request to the gateway with the credential in ``Apim-Debug-Authorization`` (and the
   caller's ``--token`` as the bearer token; for an API that needs a subscription key, the
   primary key of the lab's subscription, read through ARM ``Subscription_ListSecrets``, in
   ``Ocp-Apim-Subscription-Key``); the answer names ``Apim-Trace-Id`` (or, when the
   credential is refused, ``Apim-Debug-Authorization-Expired`` / ``-WrongAPI``);
3. ``POST {service}/gateways/managed/listTrace {"traceId"}`` (``Gateway_ListTrace``).

Security: the debug credential, the bearer token and the subscription key are never printed or
logged; the credential
lives five minutes and works for the one API only.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from orchestrator.errors import PrmlabError, TargetError, printable
from orchestrator.target import TargetSettings, open_clients

API_VERSION = "2024-05-01"  # Gateway_ListDebugCredentials / Gateway_ListTrace are in this stable version
CREDENTIAL_LIFETIME = "PT5M"  # enough for one request; Azure allows at most PT1H
REFUSAL_HEADERS = ("Apim-Debug-Authorization-Expired", "Apim-Debug-Authorization-WrongAPI")
SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"  # APIM's default header name


@dataclass(frozen=True)
class Traced:
    status: int
    method: str
    url: str
    trace: dict[str, Any]


def _message(resp: httpx.Response) -> str:
    """The ``message`` of a gateway error body (APIM: ``{"statusCode", "message"}``), else ''."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    return printable(str(body.get("message") or ""))[:300] if isinstance(body, dict) else ""


async def _arm_post(apim: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """A POST action through the lab's ARM client (its credential, CA, pacing), raw JSON back
    (the SDK models ``GatewayTraceContract`` as an open object and would drop nested values)."""
    from azure.core.rest import HttpRequest

    resp = await apim._send_request(HttpRequest("POST", url, json=body))
    if resp.status_code >= 400:
        try:
            error = resp.json().get("error") or {}
        except ValueError:
            error = {}
        raise TargetError(
            f"{url.split('?')[0].rsplit('/', 1)[-1]}: {resp.status_code} {error.get('code', '')} "
            f"{error.get('message', '')}".rstrip()
        )
    found: dict[str, Any] = resp.json()
    return found


async def trace_request(
    settings: TargetSettings,
    service: str,
    api: str,
    method: str,
    path: str,
    token: str | None,
    body: bytes | None,
    subscription: str | None = None,
) -> Traced:
    """Send ``method path`` to the service's gateway, traced for the API ``api``; the trace.
    ``subscription``: the service subscription whose primary key goes along (None: no key)."""
    base = settings.endpoints.resource_manager.rstrip("/")
    service_id = (
        f"/subscriptions/{settings.subscription_id}/resourceGroups/{settings.resource_group}"
        f"/providers/Microsoft.ApiManagement/service/{service}"
    )
    async with open_clients(settings) as clients:
        found = await clients.apim.api_management_service.get(settings.resource_group, service)
        gateway = str(found.gateway_url or "").rstrip("/")
        if not gateway:
            raise TargetError(f"the API Management service {service!r} has no gateway URL yet")
        actions = f"{base}{service_id}/gateways/managed"
        credential = await _arm_post(
            clients.apim,
            f"{actions}/listDebugCredentials?api-version={API_VERSION}",
            {
                "credentialsExpireAfter": CREDENTIAL_LIFETIME,
                "apiId": f"{service_id}/apis/{api}",
                "purposes": ["tracing"],
            },
        )
        headers = {"Apim-Debug-Authorization": str(credential.get("token") or "")}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if subscription is not None:
            secrets = await clients.apim.subscription.list_secrets(
                settings.resource_group, service, subscription
            )
            headers[SUBSCRIPTION_KEY_HEADER] = str(secrets.primary_key or "")
        url = gateway + (path if path.startswith("/") else "/" + path)
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(settings.ca_file)) if settings.ca_file is not None else True
        )
        async with httpx.AsyncClient(verify=verify, timeout=60) as http:
            try:
                resp = await http.request(method, url, headers=headers, content=body)
            except httpx.HTTPError as exc:
                raise TargetError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        trace_id = resp.headers.get("Apim-Trace-Id")
        if not trace_id:
            why = [f"{h}: {resp.headers[h]}" for h in REFUSAL_HEADERS if h in resp.headers]
            said = _message(resp)
            if not why and "subscription key" in said.lower():
                # refused before any policy ran: nothing to trace
                why = [f"{said!r}: pass --subscription with the lab.yaml key of a subscription for this API"]
            raise PrmlabError(
                f"{method} {url} answered {resp.status_code} without a trace"
                + (
                    f" ({'; '.join(why)})"
                    if why
                    else " (the gateway did not honour Apim-Debug-Authorization)"
                )
            )
        trace = await _arm_post(
            clients.apim, f"{actions}/listTrace?api-version={API_VERSION}", {"traceId": trace_id}
        )
    return Traced(resp.status_code, method, url, trace)
