"""The rest of the lab's ARM resources (driven by ``azure-mgmt-resource``'s generic client).

Where it sits: registers ``TypeSpec``s for user-assigned identities, container registries,
managed environments, container apps, role assignments, Log Analytics workspaces and
Application Insights components; ``emulator.arm.crud`` runs the shared flow. Each type fills
in what Azure generates and keeps it across updates:

* identities: ``principalId``, ``clientId``, ``tenantId``;
* container apps: the image pull from a registry of the store (``image_pull``: the registry
  identity's pull role, in effect), a free 127.0.0.1 port as ``configuration.ingress.fqdn`` = ``127.0.0.1:<port>``
  and ``latestRevisionFqdn`` (the runner listens there), a revision name per template change,
  ``identity`` ids filled from the identities; secret values hidden on GET;
* role assignments: the name must be a GUID; the same principal/role/scope twice is 409
  ``RoleAssignmentExists``;
* workspaces: ``customerId`` (+ ``sharedKeys`` action); components: ``InstrumentationKey``,
  ``ConnectionString``.

Store shape as everywhere in ARM: the GET JSON (secrets included) under the lower-cased id.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from emulator.arm import acr_access, image_pull, local_ports, lro, names
from emulator.arm.apim_service import managed_identity
from emulator.arm.errors import ArmError, json_response
from emulator.arm.ids import parse_address
from emulator.arm.types import Call, Doc, TypeSpec, register
from emulator.contracts import versions

IDENTITIES = "microsoft.managedidentity/userassignedidentities"
CONTAINER_APPS = "microsoft.app/containerapps"
ENVIRONMENTS = "microsoft.app/managedenvironments"
ROLE_ASSIGNMENTS = "microsoft.authorization/roleassignments"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _old_props(call: Call) -> dict[str, Any]:
    return dict((call.existing.body.get("properties") or {}) if call.existing else {})


def _normalise_location(base: Doc) -> None:
    if "location" in base:
        base["location"] = str(base["location"]).replace(" ", "").lower()


async def _prepare_identity(call: Call, base: Doc) -> Doc:
    _normalise_location(base)
    old = _old_props(call)
    base["properties"] = {
        "tenantId": call.ctx.tenant_id,
        "principalId": old.get("principalId") or str(uuid.uuid4()),
        "clientId": old.get("clientId") or str(uuid.uuid4()),
        "isolationScope": base["properties"].get("isolationScope", "None"),
    }
    return base


async def _prepare_registry(call: Call, base: Doc) -> Doc:
    if call.existing is None and names.registry_taken(call.ctx, call.addr.name, call.addr.key):
        # global: <name>.azurecr.io (emulator.arm.names)
        raise ArmError(409, "AlreadyInUse", names.registry_in_use_message(call.addr.name))
    _normalise_location(base)
    old = _old_props(call)
    props = base["properties"]
    sent = base.get("sku")
    sku: dict[str, Any] = sent if isinstance(sent, dict) else {"name": "Basic"}
    base["sku"] = {**sku, "tier": sku.get("name", "Basic")}  # read-only: the tier of the SKU name
    # anonymous pull (per api-version, Standard/Premium only) and the admin user's passwords
    acr_access.settle(call, props, old, str(sku.get("name", "Basic")))
    props["loginServer"] = old.get("loginServer") or f"{call.addr.name.lower()}.azurecr.io"
    now = lro.iso(time.time())
    props["creationDate"] = old.get("creationDate") or now
    # the spec's defaults (RegistryProperties) and what Azure answers for a registry that sets
    # nothing (examples/RegistryCreate.json, RegistryGet.json)
    props.setdefault("adminUserEnabled", False)
    props.setdefault("networkRuleSet", {"defaultAction": "Allow", "ipRules": []})
    policies = dict(props.get("policies") or {})
    policies.setdefault("quarantinePolicy", {"status": "disabled"})
    policies.setdefault("trustPolicy", {"type": "Notary", "status": "disabled"})
    policies.setdefault("retentionPolicy", {"days": 7, "status": "disabled"})
    policies["retentionPolicy"] = {
        **policies["retentionPolicy"],
        "lastUpdatedTime": ((old.get("policies") or {}).get("retentionPolicy") or {}).get("lastUpdatedTime")
        or now,
    }
    policies.setdefault("exportPolicy", {"status": "enabled"})
    props["policies"] = policies
    props.setdefault("encryption", {"status": "disabled"})
    props["status"] = None
    props.setdefault("dataEndpointEnabled", False)
    props["dataEndpointHostNames"] = []
    props["privateEndpointConnections"] = []
    props.setdefault("publicNetworkAccess", "Enabled")
    props.setdefault("networkRuleBypassOptions", "AzureServices")
    props.setdefault("zoneRedundancy", "Disabled")
    props["provisioningState"] = "Succeeded"
    return base


async def _prepare_environment(call: Call, base: Doc) -> Doc:
    _normalise_location(base)
    old = _old_props(call)
    props = {**base["properties"]}
    props["provisioningState"] = "Succeeded"
    props["defaultDomain"] = old.get("defaultDomain") or "127.0.0.1"
    props["staticIp"] = "127.0.0.1"
    props["deploymentErrors"] = None  # read-only; Azure answers null (examples/ManagedEnvironments_Get.json)
    props["eventStreamEndpoint"] = _event_stream(call)
    base["properties"] = props
    return base


def _event_stream(call: Call) -> str:
    """``eventStreamEndpoint`` (read-only): Azure names an endpoint of its region per resource;
    the emulator names one of its own (not served: nothing reads it)."""
    return f"{call.ctx.base_url}{call.addr.id}/eventstream"


def _hide(body: Doc, path: tuple[str, ...], field: str) -> Doc:
    """A copy of ``body`` without ``field`` in the object(s) at ``path`` (lists are walked)."""
    out: Doc = json.loads(json.dumps(body))

    def walk(node: Any, rest: tuple[str, ...]) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, rest)
            return
        if not isinstance(node, dict):
            return
        if not rest:
            node.pop(field, None)
            return
        walk(node.get(rest[0]), rest[1:])

    walk(out, path)
    return out


def _present_environment(body: Doc, query: Mapping[str, str]) -> Doc:
    return _hide(body, ("properties", "appLogsConfiguration", "logAnalyticsConfiguration"), "sharedKey")


async def _prepare_container_app(call: Call, base: Doc) -> Doc:
    ctx = call.ctx
    _normalise_location(base)
    old = _old_props(call)
    props = dict(base["properties"])
    env_id = props.get("managedEnvironmentId") or props.get("environmentId")
    if not isinstance(env_id, str) or not env_id:
        raise ArmError(400, "InvalidRequestContent", "'properties.managedEnvironmentId' is required.")
    env = parse_address(env_id, "GET")
    if env is None or env.kind != ENVIRONMENTS or ctx.store.get(ENVIRONMENTS, env.key) is None:
        raise ArmError(
            404, "ManagedEnvironmentNotFound", f"The managed environment '{env_id}' was not found."
        )
    props["managedEnvironmentId"] = env_id
    props["environmentId"] = env_id
    config = dict(props.get("configuration") or {})
    ingress = config.get("ingress")
    old_ingress = (old.get("configuration") or {}).get("ingress") or {}
    if isinstance(ingress, dict):
        fqdn = old_ingress.get("fqdn")
        if not fqdn:
            fqdn = f"127.0.0.1:{local_ports.port_for(ctx, call.addr.id)}"
        ingress = {**ingress, "fqdn": fqdn}
        ingress.setdefault("external", False)
        ingress.setdefault("transport", "Auto")
        ingress.setdefault("allowInsecure", False)
        config["ingress"] = ingress
        props["latestRevisionFqdn"] = fqdn
    else:
        props.pop("latestRevisionFqdn", None)
    config.setdefault("activeRevisionsMode", "Single")
    props["configuration"] = config
    template = props.get("template") or {}
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:7]
    suffix = template.get("revisionSuffix") if isinstance(template, dict) else None
    revision = f"{call.addr.name}--{suffix or digest}"
    props["latestRevisionName"] = revision
    props["latestReadyRevisionName"] = revision
    props["provisioningState"] = "Succeeded"
    # runner-owned fields (see docs/DEVELOPING.md "Runner ↔ ARM") survive an update
    props["runningStatus"] = old.get("runningStatus") or "Running"
    if "localRunner" in old:
        props["localRunner"] = old["localRunner"]
    props["outboundIpAddresses"] = ["127.0.0.1"]
    props["customDomainVerificationId"] = (
        old.get("customDomainVerificationId") or secrets.token_hex(32).upper()
    )
    props.setdefault("workloadProfileName", "Consumption")
    props["eventStreamEndpoint"] = _event_stream(call)
    base["properties"] = props
    if "identity" in base:
        base["identity"] = managed_identity(
            ctx, base["identity"], call.existing.body.get("identity") if call.existing else None
        )
    # the new revision pulls its images: the registry identity's pull role must be in effect
    refused = image_pull.refusal(ctx, props, base.get("identity"))
    if refused is not None:
        raise refused
    return base


def _present_container_app(body: Doc, query: Mapping[str, str]) -> Doc:
    return _hide(body, ("properties", "configuration", "secrets"), "value")


async def _prepare_role_assignment(call: Call, base: Doc) -> Doc:
    addr = call.addr
    if not _GUID.fullmatch(addr.name):
        raise ArmError(
            400,
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{addr.name}' is not valid. The role assignment ID must be a GUID.",
        )
    props = dict(base["properties"])
    for name in ("roleDefinitionId", "principalId"):
        if not isinstance(props.get(name), str) or not props[name]:
            raise ArmError(400, "InvalidRequestContent", f"'properties.{name}' is required.")
    if call.existing is not None:
        old = call.existing.body.get("properties") or {}
        if (old.get("roleDefinitionId"), old.get("principalId")) != (
            props["roleDefinitionId"],
            props["principalId"],
        ):
            raise ArmError(
                400,
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
    for doc in call.ctx.store.list(ROLE_ASSIGNMENTS, parent=addr.parent_key):
        p = doc.body.get("properties") or {}
        if (
            doc.key != addr.key
            and p.get("principalId") == props["principalId"]
            and str(p.get("roleDefinitionId", "")).lower() == props["roleDefinitionId"].lower()
        ):
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
    props["scope"] = addr.scope
    props.setdefault("principalType", "ServicePrincipal")
    now = lro.iso(time.time())
    props["createdOn"] = (
        (call.existing.body.get("properties") or {}).get("createdOn", now) if call.existing else now
    )
    props["updatedOn"] = now
    base["properties"] = props
    return base


async def _prepare_workspace(call: Call, base: Doc) -> Doc:
    _normalise_location(base)
    old = _old_props(call)
    props = dict(base["properties"])
    props["customerId"] = old.get("customerId") or str(uuid.uuid4())
    props["sharedKeys"] = old.get("sharedKeys") or {
        "primarySharedKey": secrets.token_urlsafe(48),
        "secondarySharedKey": secrets.token_urlsafe(48),
    }
    props.setdefault("sku", {"name": "PerGB2018"})
    props.setdefault("retentionInDays", 30)
    props.setdefault("publicNetworkAccessForIngestion", "Enabled")  # PublicNetworkAccessType default
    props.setdefault("publicNetworkAccessForQuery", "Enabled")
    props["provisioningState"] = "Succeeded"
    base["properties"] = props
    return base


def _present_workspace(body: Doc, query: Mapping[str, str]) -> Doc:
    props = {k: v for k, v in (body.get("properties") or {}).items() if k != "sharedKeys"}
    return {**body, "properties": props}


async def _shared_keys(call: Call, stored: Any) -> Response:
    return json_response(200, (stored.body.get("properties") or {}).get("sharedKeys") or {})


async def _prepare_component(call: Call, base: Doc) -> Doc:
    _normalise_location(base)
    old = _old_props(call)
    props = dict(base["properties"])
    key = old.get("InstrumentationKey") or str(uuid.uuid4())
    base.setdefault("kind", "web")
    # ApplicationInsightsComponentProperties' defaults, and what Azure answers for a component
    # that sets nothing else (examples/ComponentsCreate.json)
    props.setdefault("Application_Type", "web")
    props.setdefault("Flow_Type", "Bluefield")
    props.setdefault("Request_Source", "rest")
    props.setdefault("IngestionMode", "LogAnalytics")
    props.setdefault("publicNetworkAccessForIngestion", "Enabled")
    props.setdefault("publicNetworkAccessForQuery", "Enabled")
    props.setdefault("SamplingPercentage", 100.0)
    props.setdefault("DisableIpMasking", False)
    props["HockeyAppId"] = old.get("HockeyAppId", "")
    props["HockeyAppToken"] = old.get("HockeyAppToken", "")
    props["ApplicationId"] = call.addr.name
    props["AppId"] = old.get("AppId") or str(uuid.uuid4())
    props["InstrumentationKey"] = key
    props["ConnectionString"] = (
        f"InstrumentationKey={key};IngestionEndpoint={call.ctx.base_url}/_emulator/ingest/;"
        f"LiveEndpoint={call.ctx.base_url}/_emulator/live/;ApplicationId={props['AppId']}"
    )
    props["TenantId"] = call.ctx.subscription_id
    props["CreationDate"] = old.get("CreationDate") or lro.iso(time.time())
    props["provisioningState"] = "Succeeded"
    base["properties"] = props
    return base


def register_all() -> None:
    register(
        TypeSpec(
            IDENTITIES,
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            tracked=True,
            prepare=_prepare_identity,
            list_at_subscription=True,
        )
    )
    register(
        TypeSpec(
            "microsoft.containerregistry/registries",
            "Microsoft.ContainerRegistry/registries",
            tracked=True,
            prepare=_prepare_registry,
            present=acr_access.present,
            list_at_subscription=True,
        )
    )
    register(
        TypeSpec(
            ENVIRONMENTS,
            "Microsoft.App/managedEnvironments",
            tracked=True,
            prepare=_prepare_environment,
            present=_present_environment,
            list_at_subscription=True,
        )
    )
    register(
        TypeSpec(
            CONTAINER_APPS,
            "Microsoft.App/containerApps",
            tracked=True,
            prepare=_prepare_container_app,
            present=_present_container_app,
            list_at_subscription=True,
        )
    )
    register(
        TypeSpec(
            ROLE_ASSIGNMENTS,
            "Microsoft.Authorization/roleAssignments",
            prepare=_prepare_role_assignment,
            delete_answers_body=True,  # RoleAssignments_DeleteById: 200 with the deleted assignment
        )
    )
    register(
        TypeSpec(
            "microsoft.operationalinsights/workspaces",
            "Microsoft.OperationalInsights/workspaces",
            tracked=True,
            prepare=_prepare_workspace,
            present=_present_workspace,
            actions={"sharedKeys": _shared_keys},
            list_at_subscription=True,
        )
    )
    register(
        TypeSpec(
            "microsoft.insights/components",
            "Microsoft.Insights/components",
            tracked=True,
            prepare=_prepare_component,
            list_at_subscription=True,
        )
    )


# Provider metadata: what ``GET /subscriptions/{s}/providers/{ns}`` answers (types not in the vendored
# api-version table keep these lists).
API_VERSIONS: dict[str, dict[str, list[str]]] = {
    "Microsoft.ApiManagement": {
        "service": ["2024-06-01-preview", "2024-05-01", "2023-05-01-preview", "2022-08-01"],
        "deletedservices": ["2024-05-01", "2022-08-01"],
        "locations": ["2024-05-01"],
    },
    "Microsoft.ManagedIdentity": {"userAssignedIdentities": ["2024-11-30", "2023-01-31", "2018-11-30"]},
    "Microsoft.ContainerRegistry": {"registries": ["2025-04-01", "2023-07-01", "2019-05-01"]},
    "Microsoft.App": {
        "managedEnvironments": ["2025-01-01", "2024-03-01", "2023-05-01"],
        "containerApps": ["2025-01-01", "2024-03-01", "2023-05-01"],
    },
    "Microsoft.Authorization": {
        "roleAssignments": ["2022-04-01", "2020-04-01-preview"],
        "roleDefinitions": ["2022-04-01"],
    },
    "Microsoft.OperationalInsights": {"workspaces": ["2025-02-01", "2023-09-01", "2022-10-01"]},
    "Microsoft.Insights": {"components": ["2020-02-02", "2015-05-01"]},
    "Microsoft.Storage": {
        "storageAccounts": ["2024-01-01", "2023-05-01", "2023-01-01", "2022-09-01"],
        "storageAccounts/tableServices": ["2024-01-01", "2023-05-01", "2023-01-01", "2022-09-01"],
        "storageAccounts/tableServices/tables": ["2024-01-01", "2023-05-01", "2023-01-01", "2022-09-01"],
    },
    "Microsoft.Resources": {"resourceGroups": ["2025-04-01", "2024-03-01", "2021-04-01"]},
}


def provider_doc(subscription: str, namespace: str) -> Doc | None:
    for ns, types in API_VERSIONS.items():
        if ns.lower() == namespace.lower():
            return {
                "id": f"/subscriptions/{subscription}/providers/{ns}",
                "namespace": ns,
                "registrationState": "Registered",
                "registrationPolicy": "RegistrationRequired",
                "resourceTypes": [
                    {
                        "resourceType": t,
                        "locations": ["West Europe", "East US", "Sweden Central"],
                        # the vendored table (emulator.contracts.versions) where the type is in it,
                        # so the provider metadata and the api-version check never disagree
                        "apiVersions": list(versions.supported(f"{ns}/{t}") or v),
                        "capabilities": "None",
                    }
                    for t, v in types.items()
                ],
            }
    return None
