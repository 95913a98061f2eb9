"""The ARM endpoint: one route for ``/subscriptions/...`` that dispatches on the path.

Where it sits: mounted by ``emulator.arm.routes``. Handles here what is not a typed resource
(subscriptions, resource groups — whose delete is a long-running operation that deletes, and
for APIM soft-deletes, everything they hold — ``resources`` lists with ``$filter``, provider
metadata, operation status) and hands every ``/providers/{ns}/{type}/...`` path to
``emulator.arm.crud``. Every call needs ``api-version`` and a valid ARM bearer token, checked
first as ARM checks it (``emulator.arm.auth``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.arm import apim_service, authz, lro, names, role_reads
from emulator.arm.auth import authenticate
from emulator.arm.crud import (
    RG_KIND,
    ArmHandlers,
    check_if_match,
    checked_body,
    contract_of,
    delete_tree,
    etag_headers,
    publish,
    read_json,
    rg_key,
)
from emulator.arm.errors import ArmError, error_response, json_response
from emulator.arm.generic import API_VERSIONS, provider_doc
from emulator.arm.ids import parse_address, split_path
from emulator.arm.settings import ArmSettings
from emulator.arm.types import REGISTRY
from emulator.context import EmulatorContext
from emulator.contracts import versions
from emulator.store import Stored

log = logging.getLogger("emulator.arm")
RG_TYPE = "Microsoft.Resources/resourceGroups"
_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_RG_NAME = re.compile(r"^[-\w._()]{1,90}$")


def _check_resources_version(request: Request) -> None:
    """ARM's front door refuses an api-version its own API (Microsoft.Resources: resource groups,
    the resources of a group; one resources.json per version) does not have: 400
    ``InvalidApiVersionParameter`` (``emulator.contracts.versions``)."""
    refusal = versions.check(RG_TYPE, request.query_params.get("api-version", ""))
    if refusal is not None:
        raise ArmError(refusal.status, refusal.code, refusal.message)


def parse_filter(text: str | None) -> dict[str, str]:
    """ARM ``$filter`` as the lab uses it: ``a eq 'x' and b eq 'y'`` (lower-cased field names)."""
    if not text:
        return {}
    out: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", text, flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        if m is None:
            raise ArmError(400, "InvalidFilterInQueryString", f"Invalid $filter '{text}'.")
        out[m.group(1).lower()] = m.group(2).replace("''", "'")
    return out


def _match_tags(tags: dict[str, str], flt: dict[str, str]) -> bool:
    if "tagname" not in flt:
        return True
    name = flt["tagname"].lower()
    return any(k.lower() == name and ("tagvalue" not in flt or v == flt["tagvalue"]) for k, v in tags.items())


def _generic_view(body: dict[str, Any]) -> dict[str, Any]:
    """What ``resources`` lists answer (no properties), like ARM's GenericResourceExpanded."""
    keys = ("id", "name", "type", "kind", "location", "tags", "sku", "identity", "managedBy")
    return {k: body[k] for k in keys if k in body}


class ArmRouter:
    def __init__(self, ctx: EmulatorContext, settings: ArmSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.crud = ArmHandlers(ctx, settings)

    async def endpoint(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except ArmError as exc:
            return error_response(exc)
        except Exception:  # a bug here must still answer in ARM's envelope (and be logged)
            log.exception("ARM request failed: %s %s", request.method, request.url.path)
            return error_response(
                ArmError(500, "InternalServerError", "The emulator failed to process the request.")
            )

    async def _dispatch(self, request: Request) -> Response:
        claims = authenticate(self.ctx, request.headers.get("authorization"))  # ArmError 401 (arm.auth)
        request.state.arm_claims = claims  # who calls: writes are authorized by its roles (authz)
        raw = request.scope.get("raw_path") or request.url.path.encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        parts = split_path(path)
        lower = [p.lower() for p in parts]
        method = request.method
        if "api-version" not in request.query_params:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        ctx = self.ctx
        if lower == ["subscriptions"]:
            return json_response(200, {"value": [self._subscription()]})
        if len(parts) >= 2 and parts[1].lower() != ctx.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
        n = len(lower)
        if n == 2:
            return json_response(200, self._subscription())
        if n == 3 and lower[2] == "resourcegroups" and method == "GET":
            _check_resources_version(request)
            return self._list_groups(request)
        if n == 4 and lower[2] == "resourcegroups":
            return await self._group(request, parts[3])
        if n == 5 and lower[2] == "resourcegroups" and lower[4] == "resources" and method == "GET":
            _check_resources_version(request)
            if ctx.store.get(RG_KIND, rg_key(parts[1], parts[3])) is None:
                raise ArmError(
                    404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found."
                )
            return self._list_resources(request, rg_key(parts[1], parts[3]))
        if (
            n == 7
            and lower[2] == "resourcegroups"
            and lower[4:7]
            == [
                "providers",
                "microsoft.authorization",
                "permissions",
            ]
        ):
            oid = claims.get("oid")
            return self._permissions(request, parts[1], parts[3], oid if isinstance(oid, str) else None)
        if n == 3 and lower[2] == "resources" and method == "GET":
            return self._list_resources(request, None)
        if (
            method == "GET"
            and n == 5
            and lower[2:5] == ["providers", "microsoft.authorization", "roleassignments"]
        ):
            return self._role_assignments(request, parts[1])  # RoleAssignments_ListForSubscription
        if method == "GET" and n in (5, 6, 7, 8) and "roledefinitions" in lower:
            found = self._role_definitions(request, parts, lower)  # RoleDefinitions_Get / _List
            if found is not None:
                return found
        if n == 5 and lower[2] == "providers" and lower[4] == "checknameavailability":
            return await self._check_name(request, parts[1], parts[3])
        if n >= 3 and lower[2] == "providers" and n <= 5:
            if n == 3:
                subscription = parts[1]
                listed = [provider_doc(subscription, ns) or {} for ns in API_VERSIONS]
                for entry in listed:
                    entry["registrationState"] = authz.registration_state(
                        ctx, subscription, entry["namespace"]
                    )
                return json_response(200, {"value": listed})
            registering = n == 5 and lower[4] in ("register", "unregister") and method == "POST"
            if registering and provider_doc(parts[1], parts[3]) is not None:  # Providers_(Un)register
                authz.set_registered(ctx, parts[1], parts[3], lower[4] == "register")
            if n == 4 or registering:
                doc = provider_doc(parts[1], parts[3])
                if doc is not None:
                    doc["registrationState"] = authz.registration_state(ctx, parts[1], parts[3])
                    return json_response(200, doc)
                if n == 4:
                    raise ArmError(
                        404, "InvalidResourceNamespace", f"The resource namespace '{parts[3]}' is invalid."
                    )
        if n == 6 and lower[2:5] == ["providers", "microsoft.resources", "operationstatuses"]:
            op = await lro.poll(ctx, parts[5])
            if op is None:
                raise ArmError(404, "OperationNotFound", f"The operation '{parts[5]}' was not found.")
            headers = (
                {"retry-after-ms": str(self.settings.retry_after_ms)} if op["status"] == "InProgress" else {}
            )
            return json_response(200, lro.status_body(op), headers)
        addr = parse_address(path, method)
        if addr is None:
            raise ArmError(404, "NotFound", f"No ARM route for {method} {path}.")
        return await self.crud.handle(addr, request)

    @staticmethod
    def _check_version(request: Request, type_name: str) -> None:
        refusal = versions.check(type_name, request.query_params.get("api-version", ""))
        if refusal is not None:
            raise ArmError(refusal.status, refusal.code, refusal.message)

    def _role_assignments(self, request: Request, subscription: str) -> Response:
        """``RoleAssignments_ListForSubscription`` (``emulator.arm.role_reads``)."""
        self._check_version(request, role_reads.ROLE_ASSIGNMENTS_TYPE)
        flt = role_reads.parse_filter(request.query_params.get("$filter"))
        items = role_reads.assignments_for_subscription(self.ctx, subscription, flt)
        url = f"{self.ctx.base_url}{request.url.path}"
        return json_response(200, role_reads.page(items, request.query_params, self.settings.page_size, url))

    def _role_definitions(self, request: Request, parts: list[str], lower: list[str]) -> Response | None:
        """``RoleDefinitions_Get`` / ``RoleDefinitions_List`` at a subscription or resource group
        scope (``emulator.arm.role_reads``); None: not such a path."""
        n = len(lower)
        at = 4 if lower[2] == "resourcegroups" else 2
        if lower[at : at + 3] != ["providers", "microsoft.authorization", "roledefinitions"] or n > at + 4:
            return None
        self._check_version(request, role_reads.ROLE_DEFINITIONS_TYPE)
        if at == 4 and self.ctx.store.get(RG_KIND, rg_key(parts[1], parts[3])) is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found.")
        scope = "/".join(["", *parts[:at]])
        if n == at + 4:
            found = role_reads.role_definition(scope, parts[at + 3])
            if found is None:
                raise role_reads.no_role_definition(parts[at + 3])
            return json_response(200, found)
        if request.query_params.get("$filter"):
            # the spec's RoleDefinitionFilter (roleName, type) is not served: refused, not ignored
            raise ArmError(400, "UnsupportedQuery", "The emulator serves no $filter on role definitions.")
        url = f"{self.ctx.base_url}{request.url.path}"
        items = role_reads.role_definitions(scope)
        return json_response(200, role_reads.page(items, request.query_params, self.settings.page_size, url))

    def _permissions(self, request: Request, subscription: str, group: str, oid: str | None) -> Response:
        """``Permissions_ListForResourceGroup``: what the caller (``oid`` of its verified token) may
        do there (``emulator.arm.authz``)."""
        if request.method != "GET":
            raise ArmError(405, "MethodNotAllowed", "The permissions of a resource group are read with GET.")
        key = rg_key(subscription, group)
        if self.ctx.store.get(RG_KIND, key) is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")
        return json_response(200, authz.permissions(self.ctx, subscription, key, oid))

    async def _check_name(self, request: Request, subscription: str, namespace: str) -> Response:
        """``checkNameAvailability`` of a global name (``emulator.arm.names``)."""
        if request.method != "POST":
            raise ArmError(405, "MethodNotAllowed", "checkNameAvailability is invoked with POST.")
        if namespace.lower() not in names.NAMESPACES:
            raise ArmError(
                404,
                "InvalidResourceType",
                f"The resource type 'checkNameAvailability' could not be found in the namespace '{namespace}' "
                "for api version in use.",
            )
        operation = contract_of(request)
        body = checked_body(
            namespace,
            operation,
            await read_json(request),
            apim=namespace.lower() == "microsoft.apimanagement",
        )
        return json_response(200, names.check(self.ctx, subscription, namespace, body))

    def _subscription(self) -> dict[str, Any]:
        sid = self.ctx.subscription_id
        return {
            "id": f"/subscriptions/{sid}",
            "subscriptionId": sid,
            "tenantId": self.ctx.tenant_id,
            "displayName": "prmlab local emulator",
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
            "authorizationSource": "RoleBased",
        }

    # ----------------------------------------------------------------- resource groups
    def _list_groups(self, request: Request) -> Response:
        flt = parse_filter(request.query_params.get("$filter"))
        prefix = f"/subscriptions/{self.ctx.subscription_id}/".lower()
        docs = [
            d
            for d in self.ctx.store.list(RG_KIND)
            if d.key.startswith(prefix) and _match_tags(d.body.get("tags") or {}, flt)
        ]
        return self.crud.list_response(request, docs, None, dict(request.query_params))

    async def _group(self, request: Request, name: str) -> Response:
        ctx = self.ctx
        key = rg_key(ctx.subscription_id, name)
        existing = ctx.store.get(RG_KIND, key)
        method = request.method
        _check_resources_version(request)
        if method == "HEAD":
            return json_response(204 if existing else 404)
        if method == "GET":
            if existing is None:
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
            return json_response(200, existing.body, etag_headers(existing))
        if method in ("PUT", "PATCH", "DELETE"):
            refused = authz.refusal_for(
                ctx,
                request,
                f"/subscriptions/{ctx.subscription_id}/resourceGroups/{name}",
                "Microsoft.Resources/subscriptions/resourceGroups",
                delete=method == "DELETE",
            )
            if refused is not None:
                raise refused
        if method in ("PUT", "PATCH"):
            check_if_match(request, existing)
            body = await read_json(request)
            if method == "PATCH":
                if existing is None:
                    raise ArmError(
                        404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found."
                    )
                body = {**existing.body, **{k: v for k, v in body.items() if k in ("tags", "managedBy")}}
            if not _RG_NAME.fullmatch(name) or name.endswith("."):
                raise ArmError(
                    400,
                    "InvalidResourceGroup",
                    f"The provided resource group name '{name}' has these invalid characters.",
                )
            location = body.get("location")
            if existing is not None:
                location = existing.body["location"]
            if not isinstance(location, str) or not location:
                raise ArmError(
                    400, "LocationRequired", "The location property is required for this definition."
                )
            tags = body.get("tags") or {}
            if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
                raise ArmError(
                    400, "InvalidTag", "The tags must be an object of string names and string values."
                )
            if method == "PUT":  # the vendored ResourceGroups_CreateOrUpdate contract (resources.json)
                checked_body("Microsoft.Resources", contract_of(request), body)
            doc = {
                "id": existing.body["id"]
                if existing
                else f"/subscriptions/{ctx.subscription_id}/resourceGroups/{name}",
                "name": existing.body["name"] if existing else name,
                "type": "Microsoft.Resources/resourceGroups",
                "location": location.replace(" ", "").lower(),
                "tags": tags,
                "properties": {"provisioningState": "Succeeded"},
            }
            if body.get("managedBy"):
                doc["managedBy"] = body["managedBy"]
            stored = ctx.store.put(RG_KIND, key, doc, parent=f"/subscriptions/{ctx.subscription_id}".lower())
            await publish(ctx, "put", RG_KIND, key)
            return json_response(200 if existing or method == "PATCH" else 201, doc, etag_headers(stored))
        if method == "DELETE":
            if existing is None:
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
            await self.delete_group(existing)
            op = lro.start(ctx, "noop", RG_KIND, key, 0)
            return json_response(
                202,
                None,
                {
                    **lro.lro_headers(ctx, op, self.settings.retry_after_ms),
                    "Location": lro.status_url(ctx, op),
                },
            )
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on resource groups.")

    async def delete_group(self, group: Stored) -> None:
        """Delete everything in the group; APIM services are soft-deleted, as Azure does."""
        ctx = self.ctx
        for service in list(ctx.store.list(apim_service.SERVICE, parent=group.key)):
            await lro.settle(ctx, service.key)
            current = ctx.store.get(apim_service.SERVICE, service.key)
            if current is not None:
                await apim_service.soft_delete_service(ctx, current)
        await delete_tree(ctx, RG_KIND, group.key)

    # ----------------------------------------------------------------- resources lists
    def _list_resources(self, request: Request, group_key: str | None) -> Response:
        flt = parse_filter(request.query_params.get("$filter"))
        prefix = (
            group_key + "/providers/"
            if group_key
            else f"/subscriptions/{self.ctx.subscription_id}/resourcegroups/".lower()
        )
        docs: list[Stored] = []
        for d in self.ctx.store.list_prefix(prefix, "microsoft."):
            spec = REGISTRY.get(d.kind)
            if spec is None or not spec.tracked:
                continue
            if group_key is not None and d.parent != group_key:
                continue
            if group_key is None and (d.parent is None or d.parent.count("/") != 4):
                continue
            body = d.body
            if not _match_tags(body.get("tags") or {}, flt):
                continue
            if "resourcetype" in flt and str(body.get("type", "")).lower() != flt["resourcetype"].lower():
                continue
            if "name" in flt and str(body.get("name", "")).lower() != flt["name"].lower():
                continue
            if (
                "location" in flt
                and str(body.get("location", "")).replace(" ", "").lower()
                != flt["location"].replace(" ", "").lower()
            ):
                continue
            docs.append(Stored(d.kind, d.key, d.parent, _generic_view(body), d.version))
        return self.crud.list_response(request, docs, None, dict(request.query_params))
