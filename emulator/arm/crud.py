"""The generic ARM resource flow: PUT / GET / PATCH / DELETE / list / POST action for any type.

Where it sits: ``emulator.arm.router`` parses the path into an ``ArmAddress`` and calls here;
type-specific behaviour comes from the ``TypeSpec`` hooks (``emulator.arm.types``). Shared
rules live here once: the resource group and every parent must exist, ``If-Match`` /
``If-None-Match`` (412 on mismatch), ``ETag`` headers, the per-API write lock (409
``PessimisticConcurrencyConflict`` for overlapping writes to one API or its children),
``nextLink`` paging, deleting a resource deletes everything under it, and an ``Event`` is
published after every write so the gateway and runner can react.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import Response

from emulator.arm import authz, lro, name_rules, refusals
from emulator.arm.errors import ArmError, apim_not_found, json_response, not_found
from emulator.arm.ids import ArmAddress, parse_address
from emulator.arm.settings import ArmSettings
from emulator.arm.types import Call, Doc, TypeSpec, spec_for
from emulator.context import EmulatorContext, Event
from emulator.contracts import corrections, loader, versions
from emulator.contracts.schema import Rules, strip_read_only, validate
from emulator.store import Stored

RG_KIND = "microsoft.resources/resourcegroups"


def rg_key(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourcegroups/{resource_group}".lower()


def deep_merge(base: Any, patch: Any) -> Any:
    """JSON merge-patch (RFC 7396) as ARM PATCH applies it (``null`` removes)."""
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return patch
    out = dict(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = deep_merge(out.get(k), v)
    return out


class ApiLocks:
    """APIs with a write in progress (in memory: a write never survives a restart)."""

    def __init__(self) -> None:
        self.held: set[str] = set()


def _present(spec: TypeSpec | None, body: Doc, query: Mapping[str, str]) -> Doc:
    return spec.present(body, query) if spec is not None and spec.present is not None else body


def _visible(spec: TypeSpec, stored: Stored | None, query: Mapping[str, str]) -> Stored | None:
    """``stored`` if it exists at the request's api-version (``TypeSpec.visible``), else ``None``."""
    if stored is None or spec.visible is None or spec.visible(stored.body, query):
        return stored
    return None


def etag_headers(stored: Stored) -> dict[str, str]:
    return {"ETag": stored.etag}


def check_if_match(request: Request, existing: Stored | None) -> None:
    """412 when ``If-Match`` names another version (or any version of a missing resource)."""
    if_match = request.headers.get("if-match")
    if if_match is not None:
        wanted = {t.strip() for t in if_match.split(",")}
        if existing is None:
            if "*" in wanted:  # APIM creates with If-Match: * (the SDKs send it on every write)
                return
            raise ArmError(
                412, "PreconditionFailed", "The resource does not exist; If-Match cannot be satisfied."
            )
        if "*" not in wanted and existing.etag not in wanted and str(existing.version) not in wanted:
            raise ArmError(
                412,
                "PreconditionFailed",
                "The entity's ETag does not match the If-Match header: the resource was changed.",
            )
    if request.headers.get("if-none-match") == "*" and existing is not None:
        raise ArmError(412, "PreconditionFailed", "The resource already exists (If-None-Match: *).")


def _spec(addr: ArmAddress) -> TypeSpec:
    spec = spec_for(addr.kind)
    if spec is None:
        raise ArmError(
            400 if addr.kind.startswith("microsoft.apimanagement/") else 404,
            "InvalidResourceType",
            f"The resource type '{'/'.join(addr.types)}' could not be found in the namespace "
            f"'{addr.namespace}' for api version in use.",
        )
    return spec


def _check_scope_exists(ctx: EmulatorContext, addr: ArmAddress) -> None:
    if addr.subscription.lower() != ctx.subscription_id.lower():
        raise ArmError(
            404, "SubscriptionNotFound", f"The subscription '{addr.subscription}' could not be found."
        )
    if (
        addr.resource_group is not None
        and ctx.store.get(RG_KIND, rg_key(addr.subscription, addr.resource_group)) is None
    ):
        raise ArmError(
            404, "ResourceGroupNotFound", f"Resource group '{addr.resource_group}' could not be found."
        )
    scope_lower = addr.scope.lower()
    if "/providers/" in scope_lower:  # an extension resource: its scope resource must exist
        scope_addr = parse_address(addr.scope, "GET")
        if scope_addr is None or ctx.store.get(scope_addr.kind, scope_addr.key) is None:
            raise ArmError(404, "ResourceNotFound", f"The scope '{addr.scope}' does not exist.")


async def _check_parents(ctx: EmulatorContext, addr: ArmAddress, spec: TypeSpec) -> Stored | None:
    """Every owning resource must exist; returns the direct parent (None for top-level)."""
    parent: Stored | None = None
    if not spec.check_parents:
        return None
    for anc in addr.ancestors():
        await lro.settle(ctx, anc.key)
        parent = ctx.store.get(anc.kind, anc.key)
        if parent is None:
            if spec.apim and len(anc.types) == 1:
                raise not_found(anc.type_name, anc.name, addr.resource_group)
            if spec.apim:
                raise apim_not_found()
            raise ArmError(
                404,
                "ParentResourceNotFound",
                f"Can not perform requested operation on nested resource. Parent resource '{anc.id}' not found.",
            )
    return parent


def _missing(addr: ArmAddress, spec: TypeSpec) -> ArmError:
    if spec.apim and len(addr.types) > 1:
        return apim_not_found()
    return not_found(addr.type_name, addr.name, addr.resource_group)


def caller_of(request: Request) -> tuple[str, str]:
    """Who ARM records in ``systemData`` (``createdBy`` / ``createdByType``): the bearer token's
    user (``upn``, ``unique_name``, ``preferred_username``) or application (``appid`` / ``azp``).
    The token's claims are only read here; authenticating the call is the router's job."""
    auth = request.headers.get("authorization", "")
    token = auth.split(" ", 1)[1] if auth.lower().startswith("bearer ") else ""
    parts = token.split(".")
    if len(parts) != 3:
        return ("unknown", "User")
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error):
        return ("unknown", "User")
    if not isinstance(claims, dict):
        return ("unknown", "User")
    for name in ("upn", "unique_name", "preferred_username"):
        if isinstance(claims.get(name), str):
            return (claims[name], "User")
    for name in ("appid", "azp"):
        if isinstance(claims.get(name), str):
            return (claims[name], "Application")
    return (str(claims.get("oid") or claims.get("sub") or "unknown"), "User")


async def read_json(request: Request) -> Doc:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: {exc}",
        ) from exc
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return body


def base_body(call: Call, spec: TypeSpec) -> Doc:
    """id / name / type (+ location / tags for tracked types) of the resource being written."""
    addr, existing = call.addr, call.existing
    body: Doc = {
        "id": existing.body.get("id", addr.id) if existing else addr.id,
        "name": existing.body.get("name", addr.name) if existing else addr.name,
        "type": spec.type_name,
    }
    if spec.tracked:
        location = call.body.get("location")
        if not isinstance(location, str) or not location.strip():
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        body["location"] = location
        tags = call.body.get("tags", {})
        if tags is None:
            tags = {}
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
        ):
            raise ArmError(400, "InvalidTag", "The tags must be an object of string names and string values.")
        if len(tags) > 50:
            raise ArmError(400, "InvalidTag", "A resource can have at most 50 tags.")
        body["tags"] = tags
    props = call.body.get("properties", {})
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "'properties' must be an object.")
    body["properties"] = props
    return body


async def publish(ctx: EmulatorContext, action: str, kind: str, key: str) -> None:
    await ctx.publish(Event("put" if action == "put" else "delete", kind, key))


async def delete_tree(ctx: EmulatorContext, kind: str, key: str) -> list[Stored]:
    """Delete a resource and everything under it (children, extension resources)."""
    with ctx.store.transaction():
        below = ctx.store.list_prefix(key + "/")
        below = [d for d in below if d.kind.startswith("microsoft.")]  # ARM kinds only
        for doc in below:
            ctx.store.delete(doc.kind, doc.key)
        own = ctx.store.get(kind, key)
        ctx.store.delete(kind, key)
        ctx.store.delete(lro.PENDING_KIND, key)
    for doc in below:
        await publish(ctx, "delete", doc.kind, doc.key)
    await publish(ctx, "delete", kind, key)
    return ([own] if own else []) + below


def contract_of(request: Request) -> loader.Operation | None:
    """The vendored operation (``emulator.contracts``) the request is, at its api-version."""
    return loader.operation(request.method, request.url.path, request.query_params.get("api-version", ""))


def checked_body(namespace: str, operation: loader.Operation | None, body: Doc, *, apim: bool = False) -> Doc:
    """Validate a write's body against the vendored contract of its api-version (when vendored):
    a missing required property, a value outside a closed enum or a wrong JSON type is refused
    as the provider words it (``emulator.arm.refusals``); read-only properties are dropped, as
    ARM ignores them on a write. A body sent to an operation without one is left alone."""
    schema = operation.body_schema() if operation is not None else None
    if schema is None:
        return body
    # corrections: where Azure's own published example shows the spec stricter than Azure
    result = corrections.apply(validate(schema, body, Rules.AZURE), body)
    if any(p.path == "location" and p.kind == "missing" for p in result.problems):
        # ARM checks a tracked resource's location before the provider sees the body
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    if result.problems:
        raise refusals.body_refusal(namespace, result.problems, apim=apim)
    stripped: Doc = strip_read_only(schema, body)
    return stripped


def write_status(operation: loader.Operation | None, created: bool, long_running: bool) -> int:
    """The status a write answers, from the spec's documented responses of the operation: an
    update 200; a create 201 where documented, else 202 for a long-running create where
    documented (Storage's ``StorageAccounts_Create``: 200/202), else 200 (``Table_Create``,
    ``Components_CreateOrUpdate``: 200 only). Without a vendored operation: 201/200."""
    if operation is None or not operation.statuses:
        return 201 if created else 200
    statuses = operation.statuses
    if not created:
        return 200 if 200 in statuses else statuses[0]
    if 201 in statuses:
        return 201
    if 202 in statuses and long_running:
        return 202
    return 200 if 200 in statuses else statuses[0]


class ArmHandlers:
    """Bound to one context + settings; the router calls these."""

    def __init__(self, ctx: EmulatorContext, settings: ArmSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.locks = ApiLocks()

    # ----------------------------------------------------------------- helpers
    def _api_lock_key(self, addr: ArmAddress, spec: TypeSpec) -> str | None:
        if not spec.api_scoped or len(addr.names) < 2:
            return None
        lowered = [t.lower() for t in addr.types]
        if len(lowered) < 2 or lowered[1] != "apis":
            return None
        return ArmAddress(
            addr.subscription, addr.resource_group, addr.scope, addr.namespace, addr.types[:2], addr.names[:2]
        ).key

    async def _with_api_lock(self, addr: ArmAddress, spec: TypeSpec, request: Request) -> Response:
        key = self._api_lock_key(addr, spec)
        if key is None:
            return await self._write(addr, spec, request)
        if key in self.locks.held:
            raise ArmError(409, "PessimisticConcurrencyConflict", "Operation on the API is in progress")
        self.locks.held.add(key)
        try:
            if self.settings.api_write_seconds > 0:
                await anyio.sleep(self.settings.api_write_seconds)
            return await self._write(addr, spec, request)
        finally:
            self.locks.held.discard(key)

    # ----------------------------------------------------------------- entry
    def _check_api_version(self, addr: ArmAddress, request: Request) -> None:
        """ARM refuses an api-version the type does not have (``emulator.contracts.versions``)."""
        version = request.query_params.get("api-version", "")
        location = None
        if addr.resource_group is not None:
            group = self.ctx.store.get(RG_KIND, rg_key(addr.subscription, addr.resource_group))
            location = str(group.body.get("location")) if group is not None else None
        refusal = versions.check(addr.type_name, version, location)
        if refusal is not None:
            raise ArmError(refusal.status, refusal.code, refusal.message)

    async def handle(self, addr: ArmAddress, request: Request) -> Response:
        spec = _spec(addr)
        _check_scope_exists(self.ctx, addr)
        self._check_api_version(addr, request)
        method = request.method
        query = dict(request.query_params)
        if addr.action is not None:
            if method != "POST":
                raise ArmError(405, "MethodNotAllowed", "Actions are invoked with POST.")
            return await self._action(addr, spec, request, query)
        if addr.is_collection:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"The collection does not support {method}.")
            await _check_parents(self.ctx, addr, spec)
            docs = self.list_docs(addr, spec)
            if any(lro.is_pending(self.ctx, d.key) for d in docs):
                for d in docs:
                    await lro.settle(self.ctx, d.key)
                docs = self.list_docs(addr, spec)
            if spec.visible is not None:
                docs = [d for d in docs if spec.visible(d.body, query)]
            if spec.list_filter is not None:
                docs = spec.list_filter(docs, query)
            return self.list_response(request, docs, spec, query)
        if spec.singleton is not None and addr.name.lower() != spec.singleton:
            raise ArmError(400, "ValidationError", f"The only allowed name is '{spec.singleton}'.")
        if method in ("GET", "HEAD"):
            await _check_parents(self.ctx, addr, spec)
            await lro.settle(self.ctx, addr.key)
            stored = _visible(spec, self.ctx.store.get(addr.kind, addr.key), query)
            if stored is None:
                raise _missing(addr, spec)
            if method == "HEAD":
                return json_response(200, None, etag_headers(stored))
            return json_response(200, _present(spec, stored.body, query), etag_headers(stored))
        if method in ("PUT", "PATCH", "DELETE"):
            refused = authz.refusal_for(self.ctx, request, addr.id, addr.type_name, delete=method == "DELETE")
            if refused is not None:  # the caller's roles do not allow the write (emulator.arm.authz)
                raise refused
            return await self._with_api_lock(addr, spec, request)
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported here.")

    async def _write(self, addr: ArmAddress, spec: TypeSpec, request: Request) -> Response:
        ctx = self.ctx
        query = dict(request.query_params)
        await _check_parents(ctx, addr, spec)
        await lro.settle(ctx, addr.key)
        existing = ctx.store.get(addr.kind, addr.key)
        check_if_match(request, existing)
        if request.method == "DELETE":
            return await self._delete(addr, spec, _visible(spec, existing, query), query)
        if request.method in ("PUT", "PATCH"):
            missing = authz.unregistered(ctx, addr.subscription, addr.namespace)
            if missing is not None:
                raise missing
        if existing is None and request.method == "PUT":
            refused = name_rules.refusal(addr)  # a name Azure refuses (emulator.arm.name_rules)
            if refused is not None:
                raise refused
        operation = contract_of(request)
        body = checked_body(addr.namespace, operation, await read_json(request), apim=spec.apim)
        if request.method == "PATCH":
            if existing is None:
                raise _missing(addr, spec)
            current = existing.body
            patch = body
            body = deep_merge(
                {
                    k: v
                    for k, v in current.items()
                    if k in ("location", "tags", "properties", "sku", "identity", "kind")
                },
                patch,
            )
            if isinstance(patch.get("tags"), dict):  # ARM PATCH replaces the whole tag set
                body["tags"] = patch["tags"]
        call = Call(ctx, self.settings, addr, query, body, existing, caller_of(request))
        base = base_body(call, spec)
        for extra in ("sku", "identity", "kind", "zones", "plan", "managedBy", "extendedLocation"):
            if extra in body and body[extra] is not None:
                base[extra] = body[extra]
        doc = await spec.prepare(call, base) if spec.prepare is not None else base
        lro_seconds = (
            spec.create_lro_seconds(self.settings) if spec.create_lro_seconds and existing is None else None
        )
        stored = ctx.store.put(addr.kind, addr.key, doc, parent=addr.parent_key)
        headers = etag_headers(stored)
        if lro_seconds is not None:
            op = lro.start(ctx, spec.lro_finish_action or "noop", addr.kind, addr.key, lro_seconds)
            headers.update(lro.lro_headers(ctx, op, self.settings.retry_after_ms))
        await publish(ctx, "put", addr.kind, addr.key)
        status = write_status(operation, existing is None, lro_seconds is not None)
        if status == 202:  # accepted: the resource is at its URL once the operation completes
            return json_response(status, None, headers)
        return json_response(
            status, _present(spec, doc, {**query, "format": query.get("format", "rawxml")}), headers
        )

    async def _delete(
        self, addr: ArmAddress, spec: TypeSpec, existing: Stored | None, query: Mapping[str, str]
    ) -> Response:
        if existing is None:
            if spec.delete_missing_404:
                raise _missing(addr, spec)
            return json_response(204)
        call = Call(self.ctx, self.settings, addr, query, {}, existing)
        if spec.delete is not None:
            return await spec.delete(call, existing)
        await delete_tree(self.ctx, addr.kind, addr.key)
        if spec.delete_lro:
            op = lro.start(self.ctx, "noop", addr.kind, addr.key, 0)
            return json_response(202, None, lro.lro_headers(self.ctx, op, self.settings.retry_after_ms))
        if spec.delete_answers_body:
            return json_response(spec.delete_status, _present(spec, existing.body, query))
        return json_response(spec.delete_status)

    async def _action(
        self, addr: ArmAddress, spec: TypeSpec, request: Request, query: Mapping[str, str]
    ) -> Response:
        assert addr.action is not None
        handler = {k.lower(): v for k, v in spec.actions.items()}.get(addr.action.lower())
        if handler is None:
            raise ArmError(
                404,
                "InvalidResourceType",
                f"The action '{addr.action}' is not supported for '{spec.type_name}'.",
            )
        await _check_parents(self.ctx, addr, spec)
        stored = self.ctx.store.get(addr.kind, addr.key)
        if stored is None and addr.names and addr.names[-1].lower() in spec.implicit:
            stored = Stored(addr.kind, addr.key, addr.parent_key, {"name": addr.names[-1]}, 0)
        if stored is None:
            raise _missing(addr, spec)
        body = checked_body(addr.namespace, contract_of(request), await read_json(request), apim=spec.apim)
        return await handler(Call(self.ctx, self.settings, addr, query, body, stored), stored)

    # ----------------------------------------------------------------- lists
    def list_docs(self, addr: ArmAddress, spec: TypeSpec) -> list[Stored]:
        store = self.ctx.store
        kind = spec.list_kind or addr.kind
        if addr.names:  # children of one parent
            return store.list(kind, parent=addr.parent_key)
        if addr.resource_group is not None:
            return store.list(kind, parent=rg_key(addr.subscription, addr.resource_group))
        prefix = f"/subscriptions/{addr.subscription}/".lower()
        return [d for d in store.list(kind) if d.key.startswith(prefix)]

    def list_response(
        self, request: Request, docs: list[Stored], spec: TypeSpec | None, query: Mapping[str, str]
    ) -> Response:
        """One page of ``docs`` (``$skiptoken`` = offset, ``$top`` caps the page)."""
        try:
            offset = int(query.get("$skiptoken", "0"))
            top = int(query["$top"]) if "$top" in query else None
        except ValueError as exc:
            raise ArmError(400, "InvalidParameter", "$skiptoken and $top must be integers.") from exc
        size = self.settings.page_size if top is None else max(1, min(top, self.settings.page_size))
        page = docs[offset : offset + size]
        present_query = {**query}
        body: Doc = {"value": [_present(spec, d.body, present_query) for d in page]}
        if spec is not None and spec.list_count:
            body["count"] = len(docs)
            body["nextLink"] = ""
        if offset + size < len(docs):
            q = {k: v for k, v in query.items() if k != "$skiptoken"}
            q["$skiptoken"] = str(offset + size)
            body["nextLink"] = f"{self.ctx.base_url}{request.url.path}?{urlencode(q)}"
        return json_response(200, body)
