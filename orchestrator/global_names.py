"""Before the first write: are the global names the plan would create free?

Where it sits: ``engine.execute`` calls the ``before_apply`` hook ``reconcile`` gives it right
after the plan is built (dry runs included) and before the plan is printed or anything written.
API Management services, container registries and storage accounts have DNS names
(``<name>.azure-api.net``, ``<name>.azurecr.io``, ``<name>.table.core.windows.net``), unique across
Azure; a name someone else holds would otherwise fail the create halfway through an apply. For
each of them the plan creates, the provider's ``checkNameAvailability`` (``POST
/subscriptions/{s}/providers/{namespace}/checkNameAvailability``, the operations
``ApiManagementService_CheckNameAvailability``, ``Registries_CheckNameAvailability`` and
``StorageAccounts_CheckNameAvailability`` of the vendored REST specs) says whether it is free; a
name that is not is a ``GlobalNameError`` listing every such name at its lab.yaml line and column
(or, for a derived name, where to write one), before any write. A name the lab already holds is
never checked: its step is an update or a no-op, not a create.

``checks_for`` and ``problem`` are pure; ``ensure_available`` does the calls (concurrently);
``ask`` is one call (``preflight`` asks about the names the lab would create).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import anyio

from orchestrator.errors import GlobalNameError
from orchestrator.kinds import Kind
from orchestrator.resource import Action

if TYPE_CHECKING:
    from orchestrator.plan import Plan
    from orchestrator.spec.models import Lab


@dataclass(frozen=True, slots=True)
class _Provider:
    namespace: str
    api_version: str
    type: str | None  # the request's ``type`` (APIM's request has none)
    what: str
    path: tuple[str, ...]  # where lab.yaml writes the name


PROVIDERS: Final[Mapping[str, _Provider]] = {
    Kind.APIM_SERVICE: _Provider(
        "Microsoft.ApiManagement", "2024-05-01", None, "API Management service", ("apim", "service", "name")
    ),
    Kind.CONTAINER_REGISTRY: _Provider(
        "Microsoft.ContainerRegistry",
        "2023-07-01",
        "Microsoft.ContainerRegistry/registries",
        "container registry",
        ("server", "registry", "name"),
    ),
    Kind.STORAGE_ACCOUNT: _Provider(
        "Microsoft.Storage",
        "2023-05-01",
        "Microsoft.Storage/storageAccounts",
        "storage account",
        ("authorization", "client_store", "storage_account"),
    ),
}


@dataclass(frozen=True, slots=True)
class NameCheck:
    address: str
    kind: str
    name: str
    location: str | None = None  # where the plan creates it (an APIM name soft-deleted there)


def checks_for(plan: Plan) -> list[NameCheck]:
    """The global names ``plan`` creates (nothing for a destroy plan)."""
    if plan.destroy:
        return []
    return [
        NameCheck(step.address, step.kind, step.name, _location(step.desired))
        for step in plan.steps
        if step.action is Action.CREATE and step.kind in PROVIDERS
    ]


def _location(desired: Any) -> str | None:
    location = desired.properties.get("location") if desired is not None else None
    return str(location) if location else None


def _position(lab: Lab, path: tuple[str, ...]) -> tuple[str, bool]:
    """``file:line:col`` of the name in lab.yaml (of its nearest written parent when lab.yaml
    leaves it out), and whether lab.yaml writes it."""
    source = str(lab.source) if lab.source is not None else "lab.yaml"
    at = lab.position(*path)
    where = f"{source}:{at[0]}:{at[1]}" if at is not None else source
    return where, lab.written(*path)


def problem(lab: Lab, check: NameCheck, answer: Mapping[str, Any], held: str | None = None) -> str | None:
    """The line to report for one answer of ``checkNameAvailability`` (None: the name is free);
    ``held``: what holds the name when the lab found out (a soft-deleted service)."""
    if answer.get("nameAvailable") is True:
        return None
    provider = PROVIDERS[check.kind]
    where, written = _position(lab, provider.path)
    reason = str(answer.get("reason") or "unavailable")
    message = str(answer.get("message") or "").strip()
    said = f"{reason}: {message}" if message else reason
    fix = held or (
        "choose another name there (the name is global: unique across Azure)"
        if written
        else f"the derived name is taken: write {'.'.join(provider.path)} in lab.yaml to choose one"
    )
    return f"{where}: {'.'.join(provider.path)}: the {provider.what} name '{check.name}' is not available ({said}); {fix}"


async def ask(resources: Any, subscription_id: str, check: NameCheck) -> Mapping[str, Any]:
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    from orchestrator.providers.errors import translating

    provider = PROVIDERS[check.kind]
    body: dict[str, Any] = {"name": check.name}
    if provider.type is not None:
        body["type"] = provider.type
    client = resources._client  # the SDK's AsyncARMPipelineClient (auth, retries, TLS), as acr_build
    endpoint = str(resources._config.base_url).rstrip("/")
    url = client.format_url(
        f"/subscriptions/{subscription_id}/providers/{provider.namespace}/checkNameAvailability",
        endpoint=endpoint,
    )
    request = HttpRequest("POST", url, params={"api-version": provider.api_version}, json=body)
    with translating(f"{check.address} (name availability)"):
        response = await client._pipeline.run(request, stream=False)
        if response.http_response.status_code != 200:
            raise HttpResponseError(response=response.http_response, error_format=ARMErrorFormat)
        answer = response.http_response.json()
    return answer if isinstance(answer, dict) else {}


async def soft_deleted(resources: Any, subscription_id: str, check: NameCheck) -> str | None:
    """For an APIM name that is not available: the explanation when a soft-deleted service in the
    plan's location holds it (``DeletedServices_GetByName``), else None. Azure's
    ``checkNameAvailability`` answers such a name as "already in use", which alone would send the
    user hunting for a live service."""
    if check.kind != Kind.APIM_SERVICE or check.location is None:
        return None
    from azure.core.rest import HttpRequest

    from orchestrator.providers.apim import soft_deleted_holder
    from orchestrator.providers.errors import translating

    client = resources._client
    endpoint = str(resources._config.base_url).rstrip("/")
    url = client.format_url(
        f"/subscriptions/{subscription_id}/providers/Microsoft.ApiManagement/locations/{check.location}"
        f"/deletedservices/{check.name}",
        endpoint=endpoint,
    )
    request = HttpRequest("GET", url, params={"api-version": PROVIDERS[check.kind].api_version})
    with translating(f"{check.address} (soft-deleted service)"):
        response = await client._pipeline.run(request, stream=False)
    if response.http_response.status_code != 200:
        return None  # not soft-deleted here (404) or unknown: the availability answer stands
    body = response.http_response.json()
    props = body.get("properties") if isinstance(body, dict) else None
    return soft_deleted_holder(check.name, check.location, props if isinstance(props, dict) else {})


async def ensure_available(plan: Plan, lab: Lab, resources: Any, subscription_id: str) -> None:
    """Raise ``GlobalNameError`` when a global name ``plan`` creates is not available."""
    checks = checks_for(plan)
    if not checks:
        return
    answers: dict[int, Mapping[str, Any]] = {}
    held: dict[int, str | None] = {}

    async def one(i: int, check: NameCheck) -> None:
        answers[i] = await ask(resources, subscription_id, check)
        held[i] = (
            None
            if answers[i].get("nameAvailable") is True
            else await soft_deleted(resources, subscription_id, check)
        )

    async with anyio.create_task_group() as tg:
        for i, check in enumerate(checks):
            tg.start_soon(one, i, check)
    lines = _lines(
        lab, checks, [answers[i] for i in range(len(checks))], [held[i] for i in range(len(checks))]
    )
    if lines:
        raise GlobalNameError(lines)


def _lines(
    lab: Lab, checks: Sequence[NameCheck], answers: Sequence[Mapping[str, Any]], held: Sequence[str | None]
) -> list[str]:
    found = (problem(lab, c, a, h) for c, a, h in zip(checks, answers, held, strict=True))
    return [line for line in found if line is not None]
