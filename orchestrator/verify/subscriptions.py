"""The ``subscriptions`` checks: an API that needs a subscription key refuses a call without one
and admits it with the key of the lab's subscription.

Where it sits: ``runner.run_verification`` runs it last (``extra_checks``) when lab.yaml declares
subscriptions; ``after_reconcile.run_for_lab`` gives it the lab, the node outputs and an opener of
the ARM client. For each *active* subscription whose API (its ``api``, or the first API of its
``product``) needs a key — the API's ``subscription_required`` and no open product of the lab
holds it (Learn "Subscriptions in Azure API Management", "How API Management handles requests with
or without subscription keys") — two checks:

* ``subscriptions.<key>.without_key``: the call without a key is answered 401 with APIM's
  "Access denied due to missing subscription key" (Learn api-management-error-handling-policies.md,
  predefined error ``SubscriptionKeyNotFound``);
* ``subscriptions.<key>.with_key``: the same call with the subscription's primary key
  (``Ocp-Apim-Subscription-Key``), read through ARM ``listSecrets``, is *admitted*: not refused
  for its key (the API's own policy may still answer, e.g. 401 for a missing bearer token).

The key is never printed: details say status codes only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import httpx

from orchestrator.kinds import Kind
from orchestrator.verify.model import CheckResult, Outcome

if TYPE_CHECKING:
    from orchestrator.spec.models import Api, Lab

GROUP = "subscriptions"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
MISSING = "missing subscription key"
INVALID = "invalid subscription key"

# opens the lab's ARM client for API Management (``azure.mgmt.apimanagement.aio``)
ApimOpener = Callable[[], AbstractAsyncContextManager[Any]]


def needs_key(lab: Lab, api_key: str) -> bool:
    """A call to ``api_key`` needs a subscription key: the API requires one and no open product
    of the lab holds it."""
    api = lab.apim.apis.get(api_key)
    if api is None or not api.subscription_required:
        return False
    return not any(not p.subscription_required and api_key in p.apis for p in lab.apim.products.values())


def subscription_for(lab: Lab, api_key: str) -> str | None:
    """The lab's subscription whose key admits a call to ``api_key`` (``prmlab trace``): None when
    the API needs no key, else the first active one for the API itself or for a product holding
    it (None when there is none)."""
    if not needs_key(lab, api_key):
        return None
    for key, sub in lab.apim.subscriptions.items():
        if not sub.active:
            continue
        product = lab.apim.products.get(str(sub.product)) if sub.product is not None else None
        if sub.api == api_key or (product is not None and api_key in product.apis):
            return str(key)
    return None


def targets(lab: Lab) -> list[tuple[str, str]]:
    """``(subscription key, API key)`` pairs to check (module doc)."""
    out: list[tuple[str, str]] = []
    for key, sub in lab.apim.subscriptions.items():
        if not sub.active:
            continue
        if sub.api is not None:
            api = sub.api
        else:
            product = lab.apim.products.get(str(sub.product))
            if product is None or not product.apis:
                continue
            api = product.apis[0]
        if needs_key(lab, api):
            out.append((key, api))
    return out


def request_of(api: Api, url: str) -> tuple[str, str]:
    """The method and URL of a call that reaches the API: its first operation (template
    parameters filled with ``1``), or a POST to its URL (an MCP API passes every request through)."""
    for op in api.operations.values():
        path = re.sub(r"\{\*?[^}]*\}", "1", op.url_template.split("?", 1)[0])
        return op.method, url.rstrip("/") + path
    return "POST", url


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    return str(body.get("message") or "") if isinstance(body, dict) else ""


async def check_subscriptions(
    lab: Lab,
    outputs: Mapping[str, Mapping[str, Any]],
    open_apim: ApimOpener,
    http: httpx.AsyncClient,
) -> list[CheckResult]:
    pairs = targets(lab)
    if not pairs:
        return []
    results: list[CheckResult] = []
    service = str(outputs.get(Kind.APIM_SERVICE.at("main"), {}).get("name") or "")
    rg = lab.target.resource_group
    async with open_apim() as apim:
        for key, api_key in pairs:
            url = str(outputs.get(Kind.API.at(api_key), {}).get("url") or "")
            name = f"{GROUP}.{key}"
            if not url or not service:
                results.append(
                    CheckResult(name, Outcome.FAIL, f"API {api_key} or the service has no URL yet")
                )
                continue
            method, target = request_of(lab.apim.apis[api_key], url)
            without = await http.request(method, target)
            refused = without.status_code == 401 and MISSING in _message(without).lower()
            results.append(
                CheckResult(
                    f"{name}.without_key",
                    Outcome.PASS if refused else Outcome.FAIL,
                    f"{method} {target} without a key: {without.status_code}"
                    + ("" if refused else f", expected 401 '{MISSING}'"),
                )
            )
            secrets = await apim.subscription.list_secrets(rg, service, key)
            headers = {KEY_HEADER: str(secrets.primary_key or "")}
            with_key = await http.request(method, target, headers=headers)
            message = _message(with_key).lower()
            admitted = not (with_key.status_code == 401 and (MISSING in message or INVALID in message))
            results.append(
                CheckResult(
                    f"{name}.with_key",
                    Outcome.PASS if admitted else Outcome.FAIL,
                    f"{method} {target} with the subscription's key (listSecrets): {with_key.status_code}"
                    + ("" if admitted else " — the gateway refused the key"),
                )
            )
    return results
