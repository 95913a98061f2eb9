"""Microsoft.ApiManagement as the emulated ARM serves it (api-version 2024-05-01 and others).

Where it sits: registers one ``TypeSpec`` per APIM resource type with ``emulator.arm.types``;
``emulator.arm.crud`` runs the shared flow. What APIM does differently lives here:

* ``service`` and its soft-deleted form: ``emulator.arm.apim_service``.
* ``namedValues`` — secret values are hidden on GET/list; ``POST .../listValue`` reveals them;
  ``provisioningState`` and, for a Key Vault reference, ``keyVault.lastStatus`` (no vault is
  emulated: the refresh is reported failed, never ``Success``).
* policies (service, product, API, operation) and ``policyFragments`` — stored as the policy checker
  reformats them (``EmulatorContext.policy_checker``: the gateway registers its PUT-time gate;
  ARM does not import the gateway); a bad document or a ``{{name}}`` without a named value (matched on
  ``displayName``) or an ``include-fragment`` of a missing fragment is refused with APIM's
  400 ``ValidationError`` envelope. GET echoes ``format`` (``rawxml`` / ``xml``).
* ``apis`` — ``path`` unique per service (revisions of one API and versions of a version set
  share it); ``type`` defaults to ``http``; ``type: mcp`` (with ``mcpProperties`` and
  ``backendId``) only at the api-versions that have the MCP API (``serves_mcp``, evidence there),
  refused elsewhere, and an MCP API does not exist for the others (GET 404, left out of lists,
  DELETE finds nothing); ``isOnline`` and
  ``provisioningState`` answered; ``oAuth2`` / ``openid`` settings also in their list form.
  ``apis/{api};rev={n}`` is a revision: created without ``displayName`` from the API it revises
  (404 when that API does not exist). Writes to one API or its children never overlap
  (409 ``PessimisticConcurrencyConflict``).
* ``backends`` — ``url`` and ``protocol`` required unless ``type: Pool``; a pool names at least
  one existing backend of the service (``emulator.contracts.corrections``).
* ``loggers`` — credentials are moved into a secret named value ``Logger-Credentials--<id>``
  and answered as ``{{Logger-Credentials--<id>}}``, as APIM does; ``resourceId`` names the
  Application Insights component of the instrumentation key when the request does not.
* collections answer ``count`` and ``nextLink`` ("" on the last page), as the examples do.
* ``diagnostics`` (service and API) — ``loggerId`` must name an existing logger.
* ``products``, ``subscriptions``, ``users``, ``groups``, ``certificates`` — stored with the
  required properties of their create contracts (apimproducts/apimsubscriptions/apimusers/
  apimgroups/apimcertificates.json, 2024-05-01); subscription keys are generated and, as in APIM,
  never returned by GET (``POST .../listSecrets``; ``regeneratePrimaryKey`` /
  ``regenerateSecondaryKey`` replace one). The gateway checks subscription keys.
* links ``products/{p}/apis/{api}``, ``products/{p}/groups/{g}``, ``groups/{g}/users/{u}``: PUT
  without a body adds an existing entity (404 otherwise) and answers its contract.
* Azure's own children of a new service, created with it in every tier (Learn: "How to create and
  use groups" — the immutable system groups; the administrator user, id ``1``, with the publisher
  email; the ``master`` "Built-in all-access subscription"): groups ``administrators``,
  ``developers``, ``guests`` (``builtIn: true``, ``type: system``), user ``1``, subscription
  ``master``. Classic tiers' samples (products ``starter``/``unlimited``, ``echo-api``) are not
  emulated.

Store shape: ``kind`` = lower-cased type, ``key`` = lower-cased id, ``parent`` = parent id; body
= the GET JSON with secrets included (named value ``value``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from emulator.arm import apim_tracing, lro
from emulator.arm.apim_service import NS, properties_of, register_service, require_properties
from emulator.arm.crud import delete_tree, publish
from emulator.arm.errors import ArmError, apim_not_found, json_response, validation_error
from emulator.arm.ids import ArmAddress
from emulator.arm.types import Call, Doc, TypeSpec, register
from emulator.context import EmulatorContext, PolicyRejectedError
from emulator.store import Stored

NAMED_VALUES = "microsoft.apimanagement/service/namedvalues"
FRAGMENTS = "microsoft.apimanagement/service/policyfragments"
LOGGERS = "microsoft.apimanagement/service/loggers"
APIS = "microsoft.apimanagement/service/apis"
BACKENDS = "microsoft.apimanagement/service/backends"
COMPONENTS = "microsoft.insights/components"
TAGS = "microsoft.apimanagement/service/tags"
PRODUCTS = "microsoft.apimanagement/service/products"
GROUPS = "microsoft.apimanagement/service/groups"
USERS = "microsoft.apimanagement/service/users"
CERTIFICATES = "microsoft.apimanagement/service/certificates"

_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_FRAGMENT_REF = re.compile(r"<include-fragment\s+fragment-id\s*=\s*[\"']([^\"']+)[\"']")


def _service_addr(addr: ArmAddress) -> ArmAddress:
    return ArmAddress(
        addr.subscription, addr.resource_group, addr.scope, addr.namespace, addr.types[:1], addr.names[:1]
    )


def _service_key(addr: ArmAddress) -> str:
    return _service_addr(addr).key


def _keep(props: dict[str, Any], existing: Stored | None, *names: str) -> None:
    """Server-generated properties survive a PUT that does not send them."""
    if existing is None:
        return
    old = existing.body.get("properties") or {}
    for name in names:
        if name in old and name not in props:
            props[name] = old[name]


# ============================================================================ named values


def named_value_names(ctx: EmulatorContext, service_key: str) -> list[str]:
    """Display names of a service's named values (what ``{{...}}`` in a policy refers to)."""
    names = []
    for doc in ctx.store.list(NAMED_VALUES, parent=service_key):
        props = doc.body.get("properties") or {}
        names.append(str(props.get("displayName") or doc.body.get("name")))
    return names


async def _prepare_named_value(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    require_properties(props, "displayName")
    display = str(props["displayName"])
    if not _NAME_RE.fullmatch(display) or len(display) > 256:
        raise validation_error(
            "'displayName' may contain only letters, digits, '.', '-' and '_'.", "displayName"
        )
    if "keyVault" not in props:
        _keep(props, call.existing, "value")
        require_properties(props, "value")
    if not isinstance(props.get("secret", False), bool):
        raise validation_error("'secret' must be a boolean.", "secret")
    props.setdefault("secret", False)
    props.setdefault("tags", [])
    # NamedValueContractProperties.provisioningState (read-only), answered as the examples show
    props["provisioningState"] = "Succeeded"
    key_vault = props.get("keyVault")
    if isinstance(key_vault, dict):
        # KeyVaultContractProperties.lastStatus: the last refresh of the secret from the vault.
        # No Key Vault is emulated, so the refresh is reported failed (the shape Azure answers
        # when it cannot read the secret), never "Success".
        props["keyVault"] = {
            **{k: v for k, v in key_vault.items() if k != "lastStatus"},
            "lastStatus": {
                "code": "NotEmulated",
                "message": "The local emulator does not read Azure Key Vault; the value is not available.",
                "timeStampUtc": lro.iso(time.time()),
            },
        }
    service_key = _service_key(call.addr)
    for doc in call.ctx.store.list(NAMED_VALUES, parent=service_key):
        other = (doc.body.get("properties") or {}).get("displayName", "")
        if doc.key != call.addr.key and str(other).lower() == display.lower():
            raise validation_error(
                f"A named value with displayName '{display}' already exists.", "displayName"
            )
    return base


def _present_named_value(body: Doc, query: Mapping[str, str]) -> Doc:
    props = body.get("properties") or {}
    if not props.get("secret"):
        return body
    return {**body, "properties": {k: v for k, v in props.items() if k != "value"}}


async def _list_value(call: Call, stored: Stored) -> Response:
    value = (stored.body.get("properties") or {}).get("value")
    return json_response(200, {"value": value}, {"ETag": stored.etag})


# ============================================================================ policies


# the scope of a policy document, from its ARM type (Learn "Policies in Azure API Management",
# Scopes: global, workspace, product, API, operation): elements limited to some scopes (quota:
# product only) are refused elsewhere when the policy is stored
_POLICY_SCOPES = {
    ("policies",): "global",
    ("products", "policies"): "product",
    ("apis", "policies"): "api",
    ("apis", "operations", "policies"): "operation",
}


def _fragment_ids(ctx: EmulatorContext, service_key: str) -> set[str]:
    return {str(d.body.get("name", "")).lower() for d in ctx.store.list(FRAGMENTS, parent=service_key)}


def _policy_value(call: Call, base: Doc, *, fragment: bool) -> str:
    props = properties_of(base)
    value = props.get("value")
    fmt = str(props.get("format") or "xml")
    if fmt not in ("xml", "rawxml"):
        raise validation_error(
            f"Policy format '{fmt}' is not supported by the local emulator (use 'xml' or 'rawxml').", "format"
        )
    if not isinstance(value, str) or not value.strip():
        raise validation_error("'value' is required.", "value")
    service_key = _service_key(call.addr)
    names = named_value_names(call.ctx, service_key)
    known_fragments = _fragment_ids(call.ctx, service_key)
    for ref in _FRAGMENT_REF.findall(value):
        if ref.lower() not in known_fragments:
            raise validation_error(
                f"Policy fragment '{ref}' referenced by the policy does not exist.", "representation"
            )
    checker = call.ctx.policy_checker
    scope = _POLICY_SCOPES.get(tuple(t.lower() for t in call.addr.types[1:]), "")
    if checker is None:  # never store a policy nobody checked
        raise ArmError(
            500, "InternalServerError", "The emulator has no policy checker (the gateway sub-app)."
        )
    try:
        if fragment:
            return checker.check_fragment(value, names)
        return checker.check_policy(value, names, scope)
    except PolicyRejectedError as exc:
        raise ArmError(
            400,
            exc.code,
            exc.message,
            [{"code": exc.code, "target": "representation", "message": exc.message}],
        ) from exc


async def _prepare_policy(call: Call, base: Doc) -> Doc:
    value = _policy_value(call, base, fragment=False)
    base["properties"] = {"value": value, "format": "xml"}
    return base


async def _prepare_fragment(call: Call, base: Doc) -> Doc:
    value = _policy_value(call, base, fragment=True)
    props = properties_of(base)
    base["properties"] = {
        "value": value,
        "format": "xml",
        "description": props.get("description"),
        "provisioningState": "Succeeded",
    }
    return base


def _present_policy(body: Doc, query: Mapping[str, str]) -> Doc:
    fmt = query.get("format", "xml")
    if fmt not in ("xml", "rawxml"):
        fmt = "xml"
    props = dict(body.get("properties") or {})
    props["format"] = fmt
    return {**body, "properties": props}


# ============================================================================ apis, operations


_REVISION = re.compile(r"^(?P<api>[^;]+);rev=(?P<rev>[0-9]+)$", re.IGNORECASE)
# what a revision takes over from the API it revises (ApiManagementCreateApiRevisionFromExistingApi:
# the request names only path, serviceUrl, sourceApiId and apiRevisionDescription; the answer
# carries the source's displayName, protocols, subscriptionRequired, subscriptionKeyParameterNames)
_REVISION_INHERITS = (
    "displayName",
    "description",
    "serviceUrl",
    "path",
    "protocols",
    "type",
    "subscriptionRequired",
    "subscriptionKeyParameterNames",
    "authenticationSettings",
    "apiVersion",
    "apiVersionSetId",
    "contact",
    "license",
    "termsOfServiceUrl",
)


# The MCP API (``type: mcp``, ``mcpProperties``, ``backendId`` naming a backend; Learn, "Expose
# and govern an existing MCP server") exists only in APIM's preview api-versions from
# 2024-06-01-preview on. Evidence: the original lab (Azure-Samples/AI-Gateway labs/mcp-prm-oauth,
# src/bicep/apim-mcp/mcp-api.bicep) and Azure-Samples/AI-Gateway modules/apim-streamable-mcp/api.bicep
# deploy it as ``apis@2024-06-01-preview``; a field report in public code ("Exposing MCP Servers
# Through Azure API Management Using Bicep") found ``type``, ``mcpProperties`` and ``backendId``
# "invisible at API version 2024-05-01 (stable)", working at 2024-06-01-preview, 2024-10-01-preview
# and 2025-03-01-preview, and "If you query the API with a stable version, you get
# ResourceNotFound"; ApiManagement's TypeSpec source has ``ApiType.mcp`` / ``McpProperties``. The
# published JSON specs (2024-05-01 included) list no ``mcp``: Azure's answer to ``type: mcp`` at
# another api-version is not documented, so it is refused in APIM's ValidationError shape naming
# the property.


def serves_mcp(api_version: str) -> bool:
    """Whether ``api-version`` has the MCP API: the previews from 2024-06-01-preview on."""
    return api_version.endswith("-preview") and api_version[:10] >= "2024-06-01"


def _is_mcp(props: Mapping[str, Any]) -> bool:
    return str(props.get("type") or "").lower() == "mcp" or "mcpProperties" in props


def _api_visible(body: Doc, query: Mapping[str, str]) -> bool:
    """An MCP API does not exist for the api-versions without the MCP API (see ``serves_mcp``)."""
    return not _is_mcp(body.get("properties") or {}) or serves_mcp(query.get("api-version", ""))


def _check_mcp(call: Call, props: Mapping[str, Any]) -> None:
    version = call.query.get("api-version", "")
    if serves_mcp(version):
        return
    if str(props.get("type") or "").lower() == "mcp":
        raise validation_error(
            f"API type 'mcp' is not supported in api-version '{version}'; MCP APIs are available "
            "from api-version 2024-06-01-preview.",
            "type",
        )
    if "mcpProperties" in props:
        raise validation_error(
            f"Property 'mcpProperties' is not supported in api-version '{version}'.", "mcpProperties"
        )


def _base_api(name: str) -> str:
    """``echo-api;rev=3`` -> ``echo-api`` (an API and its revisions share a path)."""
    m = _REVISION.fullmatch(name)
    return (m.group("api") if m else name).lower()


def _authentication_settings(settings: Any) -> Any:
    """APIM answers the single ``oAuth2`` / ``openid`` settings in the list form too
    (ApiManagementCreateApi: request ``oAuth2`` -> response ``oAuth2`` and
    ``oAuth2AuthenticationSettings: [that]``)."""
    if not isinstance(settings, dict):
        return settings
    out = dict(settings)
    if isinstance(out.get("oAuth2"), dict) and not out.get("oAuth2AuthenticationSettings"):
        out["oAuth2AuthenticationSettings"] = [out["oAuth2"]]
    if isinstance(out.get("openid"), dict) and not out.get("openidAuthenticationSettings"):
        out["openidAuthenticationSettings"] = [out["openid"]]
    return out


def _revision_source(call: Call) -> Stored | None:
    """For ``apis/{api};rev={n}``: the API it revises (which must exist), else ``None``."""
    m = _REVISION.fullmatch(call.addr.name)
    if m is None:
        return None
    source = call.ctx.store.get(APIS, f"{_service_key(call.addr)}/apis/{m.group('api').lower()}")
    if source is None:
        raise apim_not_found()
    return source


async def _prepare_api(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    existing = call.existing
    source = _revision_source(call) if existing is None else None
    if source is not None:
        # a new revision: displayName and the rest come from the API it revises
        inherited = source.body.get("properties") or {}
        props = {**{k: inherited[k] for k in _REVISION_INHERITS if k in inherited}, **props}
        revision = _REVISION.fullmatch(call.addr.name)
        assert revision is not None
        props["apiRevision"] = revision.group("rev")
        props["isCurrent"] = False
        base["properties"] = props
    elif existing is None:
        require_properties(props, "displayName")
    else:
        old = dict(existing.body.get("properties") or {})
        props = {**old, **props}
        base["properties"] = props
    if "path" not in props or not isinstance(props["path"], str):
        raise validation_error("'path' is required.", "path")
    path = props["path"].strip("/")
    props["path"] = path
    _check_unique_path(call, props, path)
    if "type" not in props:
        props["type"] = props.get("apiType") or "http"
    _check_mcp(call, props)
    props.setdefault("protocols", ["https"])
    props.setdefault("subscriptionRequired", True)
    props.setdefault("isCurrent", True)
    props.setdefault("apiRevision", "1")
    props.setdefault(
        "subscriptionKeyParameterNames", {"header": "Ocp-Apim-Subscription-Key", "query": "subscription-key"}
    )
    if "authenticationSettings" in props:
        props["authenticationSettings"] = _authentication_settings(props["authenticationSettings"])
    # read-only, as ApiContractProperties / ApiEntityBaseContract define them and the examples answer
    props["isOnline"] = True
    props["provisioningState"] = "Succeeded"
    for transient in (
        "format",
        "value",
        "wsdlSelector",
        "soapApiType",
        "translateRequiredQueryParameters",
        "sourceApiId",
    ):
        props.pop(transient, None)
    return base


def _check_unique_path(call: Call, props: dict[str, Any], path: str) -> None:
    """``path`` is unique per service, except between an API and its revisions and between the
    versions of a version set (ApiManagementListApis: two APIs share ``api1``, one with
    ``apiVersion: v1``). The refusal is APIM's, verbatim (two spaces before "unless" included):
    400 ValidationError, target ``path``, "Cannot create API '<id>' with the same Path '<path>' as
    API '<other id>'  unless it's a part of the same version set" — quoted from production answers
    in Azure/apiops#697 and #712 (api-version 2023-09-01-preview) and Azure/azure-powershell#11027."""
    service_key = _service_key(call.addr)
    base = _base_api(call.addr.name)
    version = str(props.get("apiVersion") or "")
    for doc in call.ctx.store.list(APIS, parent=service_key):
        other = doc.body.get("properties") or {}
        if doc.key == call.addr.key or _base_api(str(doc.body.get("name", ""))) == base:
            continue
        same_path = str(other.get("path", "")).strip("/").lower() == path.lower()
        if same_path and str(other.get("apiVersion") or "") == version:
            raise validation_error(
                f"Cannot create API '{call.addr.name}' with the same Path '{path}' as API "
                f"'{doc.body.get('name')}'  unless it's a part of the same version set",
                "path",
            )


async def _prepare_operation(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    require_properties(props, "displayName", "method", "urlTemplate")
    props["method"] = str(props["method"]).upper()
    props.setdefault("templateParameters", [])
    props.setdefault("responses", [])
    return base


async def _delete_api(call: Call, stored: Stored) -> Response:
    await delete_tree(call.ctx, call.addr.kind, call.addr.key)
    op = lro.start(call.ctx, "noop", call.addr.kind, call.addr.key, 0)
    return json_response(202, None, lro.lro_headers(call.ctx, op, call.settings.retry_after_ms))


# ============================================================================ others


async def _prepare_backend(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    if str(props.get("type") or "Single").lower() != "pool":
        require_properties(props, "url", "protocol")
        return base
    # A load-balanced pool (ApiManagementCreateBackendWithPriorityBasedLoadBalancer): no url or
    # protocol (emulator.contracts.corrections); BackendPool.services has minItems 1 and each
    # item "should refer to an already existing backend entity" (definitions.json, BackendPoolItem.id).
    services = (props.get("pool") or {}).get("services") if isinstance(props.get("pool"), dict) else None
    if not isinstance(services, list) or not services:
        raise validation_error("'pool.services' must name at least one backend.", "services")
    service_key = _service_key(call.addr)
    for i, item in enumerate(services):
        rid = str((item or {}).get("id") or "") if isinstance(item, dict) else ""
        key = rid.rstrip("/").lower()
        if not key.startswith(f"{service_key}/backends/") or call.ctx.store.get(BACKENDS, key) is None:
            raise validation_error(
                f"Backend '{rid}' in 'pool.services[{i}].id' does not exist in this service.", "id"
            )
    for name in ("title", "url", "protocol"):  # the pool example's answer carries them as null
        props.setdefault(name, None)
    return base


async def _prepare_logger(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    require_properties(props, "loggerType")
    creds = props.get("credentials")
    if not props.get("resourceId") and isinstance(creds, dict):
        # APIM names the Application Insights resource of the instrumentation key in
        # ``resourceId`` (ApiManagementCreateAILogger answers it though the request has none)
        component = _component_of_key(call.ctx, creds.get("instrumentationKey"))
        if component is not None:
            props["resourceId"] = component
    if isinstance(creds, dict):
        service = _service_addr(call.addr)
        hidden: dict[str, Any] = {}
        for name, value in creds.items():
            if isinstance(value, str) and not value.startswith("{{"):
                nv_id = secrets.token_hex(12)
                display = f"Logger-Credentials--{nv_id}"
                nv_addr = ArmAddress(
                    service.subscription,
                    service.resource_group,
                    service.scope,
                    NS,
                    (*service.types, "namedValues"),
                    (*service.names, nv_id),
                )
                call.ctx.store.put(
                    NAMED_VALUES,
                    nv_addr.key,
                    {
                        "id": nv_addr.id,
                        "type": "Microsoft.ApiManagement/service/namedValues",
                        "name": nv_id,
                        "properties": {"displayName": display, "value": value, "secret": True, "tags": []},
                    },
                    parent=service.key,
                )
                hidden[name] = "{{" + display + "}}"
            else:
                hidden[name] = value
        props["credentials"] = hidden
    props.setdefault("isBuffered", True)
    return base


def _component_of_key(ctx: EmulatorContext, key: Any) -> str | None:
    """The id of the emulated Application Insights component with this instrumentation key."""
    if not isinstance(key, str) or not key:
        return None
    for doc in ctx.store.list(COMPONENTS):
        if (doc.body.get("properties") or {}).get("InstrumentationKey") == key:
            return str(doc.body.get("id"))
    return None


async def _prepare_diagnostic(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    require_properties(props, "loggerId")
    logger_name = str(props["loggerId"]).rstrip("/").rsplit("/", 1)[-1].lower()
    service_key = _service_key(call.addr)
    if call.ctx.store.get(LOGGERS, f"{service_key}/loggers/{logger_name}") is None:
        raise validation_error(f"Logger '{props['loggerId']}' was not found.", "loggerId")
    return base


async def _prepare_tag(call: Call, base: Doc) -> Doc:
    require_properties(properties_of(base), "displayName")
    return base


# ============================================================================ products, subscriptions,
# users, groups, certificates: the required properties of each create contract (2024-05-01)


async def _prepare_product(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    _keep(props, call.existing, "displayName")
    require_properties(props, "displayName")
    props.setdefault("state", "notPublished")
    props.setdefault("subscriptionRequired", True)
    if props["subscriptionRequired"]:
        # ProductContractProperties: approvalRequired "can be present only if subscriptionRequired
        # ... has a value of true"; ApiManagementCreateProduct answers false when not sent
        props.setdefault("approvalRequired", False)
    return base


async def _prepare_subscription(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    _keep(
        props, call.existing, "scope", "displayName", "primaryKey", "secondaryKey", "createdDate", "ownerId"
    )
    require_properties(props, "scope", "displayName")
    for key in ("primaryKey", "secondaryKey"):
        props.setdefault(key, secrets.token_hex(16))
    props.setdefault("state", "submitted")  # the contract's default when none is given
    props.setdefault("createdDate", lro.iso(time.time()))
    return base


def _present_subscription(body: Doc, query: Mapping[str, str]) -> Doc:
    """Subscription keys are never returned by GET (``listSecrets`` reveals them)."""
    props = body.get("properties") or {}
    return {**body, "properties": {k: v for k, v in props.items() if k not in ("primaryKey", "secondaryKey")}}


async def _list_subscription_secrets(call: Call, stored: Stored) -> Response:
    props = stored.body.get("properties") or {}
    keys = {"primaryKey": props.get("primaryKey"), "secondaryKey": props.get("secondaryKey")}
    return json_response(200, keys, {"ETag": stored.etag})


def _regenerate(which: str) -> Any:
    """``POST .../regeneratePrimaryKey`` / ``regenerateSecondaryKey``: a new key, 204 no content
    (apimsubscriptions.json 2024-05-01, examples ApiManagementSubscriptionRegenerate*Key). The
    gateway accepts the new key and refuses the old one from the next request on."""

    async def action(call: Call, stored: Stored) -> Response:
        body = {
            **stored.body,
            "properties": {**(stored.body.get("properties") or {}), which: secrets.token_hex(16)},
        }
        call.ctx.store.put(stored.kind, stored.key, body, parent=stored.parent)
        await publish(call.ctx, "put", stored.kind, stored.key)
        return json_response(204)

    return action


async def _prepare_user(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    _keep(props, call.existing, "email", "firstName", "lastName", "registrationDate")
    require_properties(props, "email", "firstName", "lastName")
    props.pop("password", None)  # write-only
    props.setdefault("state", "active")
    props.setdefault("registrationDate", lro.iso(time.time()))
    props.setdefault("identities", [{"provider": "Basic", "id": props["email"]}])
    # read-only "Collection of groups user is part of" (UserContractProperties): APIM answers []
    # on create (ApiManagementCreateUser); membership is groups/{g}/users/{u}, which the gateway
    # reads for context.User.Groups
    props["groups"] = []
    return base


async def _prepare_group(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    require_properties(props, "displayName")
    existing = (call.existing.body.get("properties") or {}) if call.existing else {}
    props["builtIn"] = bool(existing.get("builtIn", False))  # read-only
    props["type"] = existing.get("type") or props.get("type") or "custom"
    return base


def _link(target_kind: str, what: str) -> Any:
    """A link resource (``products/{p}/apis/{api}``, ``products/{p}/groups/{g}``,
    ``groups/{g}/users/{u}``): PUT without a body adds an existing entity of the service and
    answers that entity's contract (apimproducts.json / apimgroups.json 2024-05-01, examples
    ApiManagementCreateProductApi, -ProductGroup, -GroupUser); 404 when it does not exist."""

    async def prepare(call: Call, base: Doc) -> Doc:
        target = call.ctx.store.get(
            target_kind, f"{_service_key(call.addr)}/{what}s/{call.addr.name.lower()}"
        )
        if target is None:
            raise apim_not_found()
        base["properties"] = dict(target.body.get("properties") or {})
        return base

    return prepare


async def _prepare_certificate(call: Call, base: Doc) -> Doc:
    props = properties_of(base)
    if "keyVault" not in props:
        require_properties(props, "data")
    props.pop("password", None)  # write-only
    data = props.pop("data", None)
    props.setdefault("subject", "CN=emulated")
    props.setdefault("thumbprint", hashlib.sha1(str(data).encode()).hexdigest().upper())  # noqa: S324
    props.setdefault("expirationDate", lro.iso(time.time() + 365 * 86400))
    return base


async def _prepare_tag_link(call: Call, base: Doc) -> Doc:
    """``apis/{api}/tags/{tag}`` links an existing service tag; answers the tag contract."""
    tag = call.ctx.store.get(TAGS, f"{_service_key(call.addr)}/tags/{call.addr.name.lower()}")
    if tag is None:
        raise ArmError(404, "ResourceNotFound", "Tag not found.")
    base["properties"] = {"displayName": (tag.body.get("properties") or {}).get("displayName")}
    return base


def _child(kind_tail: str, type_tail: str, **kw: Any) -> TypeSpec:
    return TypeSpec(
        kind=f"microsoft.apimanagement/service/{kind_tail}".lower(),
        type_name=f"Microsoft.ApiManagement/service/{type_tail}",
        apim=True,
        list_count=True,
        **kw,
    )


def register_all() -> None:
    register_service()
    api_child = {"api_scoped": True}
    for spec in (
        _child(
            "namedValues",
            "namedValues",
            prepare=_prepare_named_value,
            present=_present_named_value,
            actions={"listValue": _list_value},
        ),
        _child("backends", "backends", prepare=_prepare_backend),
        _child("loggers", "loggers", prepare=_prepare_logger),
        _child("diagnostics", "diagnostics", prepare=_prepare_diagnostic),
        _child("tags", "tags", prepare=_prepare_tag),
        _child("policies", "policies", prepare=_prepare_policy, present=_present_policy, singleton="policy"),
        _child("policyFragments", "policyFragments", prepare=_prepare_fragment, present=_present_policy),
        _child("apis", "apis", prepare=_prepare_api, delete=_delete_api, visible=_api_visible, **api_child),
        _child("apis/operations", "apis/operations", prepare=_prepare_operation, **api_child),
        _child(
            "apis/policies",
            "apis/policies",
            prepare=_prepare_policy,
            present=_present_policy,
            singleton="policy",
            **api_child,
        ),
        _child(
            "apis/operations/policies",
            "apis/operations/policies",
            prepare=_prepare_policy,
            present=_present_policy,
            singleton="policy",
            **api_child,
        ),
        _child("apis/diagnostics", "apis/diagnostics", prepare=_prepare_diagnostic, **api_child),
        _child("apis/tags", "apis/tags", prepare=_prepare_tag_link, **api_child),
        _child("apis/operations/tags", "apis/operations/tags", prepare=_prepare_tag_link, **api_child),
        _child("products", "products", prepare=_prepare_product),
        _child(
            "products/policies",
            "products/policies",
            prepare=_prepare_policy,
            present=_present_policy,
            singleton="policy",
        ),
        _child(
            "subscriptions",
            "subscriptions",
            prepare=_prepare_subscription,
            present=_present_subscription,
            actions={
                "listSecrets": _list_subscription_secrets,
                "regeneratePrimaryKey": _regenerate("primaryKey"),
                "regenerateSecondaryKey": _regenerate("secondaryKey"),
            },
        ),
        _child("users", "users", prepare=_prepare_user),
        _child("groups", "groups", prepare=_prepare_group),
        _child("products/apis", "products/apis", prepare=_link(APIS, "api")),
        _child("products/groups", "products/groups", prepare=_link(GROUPS, "group")),
        _child("groups/users", "groups/users", prepare=_link(USERS, "user")),
        _child("certificates", "certificates", prepare=_prepare_certificate),
        # request tracing (``apim_tracing``): the built-in managed gateway's debug actions
        _child(
            "gateways",
            "gateways",
            implicit=frozenset({"managed"}),
            actions={
                "listDebugCredentials": apim_tracing.list_debug_credentials,
                "listTrace": apim_tracing.list_trace,
                "invalidateDebugCredentials": apim_tracing.invalidate_debug_credentials,
            },
        ),
    ):
        register(spec)
