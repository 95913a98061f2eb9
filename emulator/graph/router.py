"""The Microsoft Graph v1.0 endpoint: one route for ``/v1.0/...`` that dispatches on the raw path.

Where it sits: mounted by ``emulator.graph.routes``. Every call needs a valid Graph bearer token,
checked first as Graph checks it (``emulator.graph.auth``); every write then needs the permission
Graph asks of it (``emulator.graph.authz``: the token's roles, or scopes + directory roles, and
ownership for Application.ReadWrite.OwnedBy), else 403 ``Authorization_RequestDenied``. Entity rules live in
``emulator.graph.entities``; OData options in ``emulator.graph.odata``. Routes on the *raw*
path because alternate keys arrive percent-encoded (``applications(uniqueName='a%20b')``).

Served: ``applications`` (+ ``(appId='..')`` / ``(uniqueName='..')``, upsert ``PATCH`` with
``Prefer: create-if-missing``, ``addPassword`` / ``removePassword``,
``federatedIdentityCredentials``), ``servicePrincipals`` (+ ``(appId='..')``), ``users``
(by id or UPN), ``oauth2PermissionGrants``, ``domains`` (read only), ``me``. Lists take ``$filter``, ``$select``,
``$top``, ``$count`` and page with ``@odata.nextLink``. Deleting an application, service
principal or user soft-deletes it into ``/directory/deletedItems`` (list by type, get, purge
with ``DELETE``, ``restore``); a soft-deleted application still holds its ``identifierUris``
and ``uniqueName`` until purged, as in Entra.

Entra replication delay (fault ``replication_delay_s``): a new application is invisible to
GET, to lists/``$filter``, to service principal creation and to federated credential
creation for that many seconds, as a read from another Graph replica would be; a new
``oauth2PermissionGrant`` likewise (and the token service does not honour it yet either).

Every tenant starts with its initial domain (``domains``: the identifier-URI rules of
``entities`` check against its verified domains) and Microsoft Graph's service principal.
Deleting an application deletes its federated credentials and its service principal (its
home-tenant service principal is removed with it, as Entra does).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import EmulatorContext, Event
from emulator.contracts import graph as contract
from emulator.graph import authz, domains
from emulator.graph import entities as ent
from emulator.graph.auth import GraphAuthError, authenticate
from emulator.graph.errors import (
    GraphError,
    bad_request,
    contract_refusal,
    error_response,
    graph_response,
    not_found,
)
from emulator.graph.odata import FilterError, compile_filter, select
from emulator.store import Stored

log = logging.getLogger("emulator.graph")
_SEGMENT = re.compile(r"^([A-Za-z0-9_.]+)(?:\((.*)\))?$", re.DOTALL)
_KEY = re.compile(r"^(?:(\w+)=)?'((?:[^']|'')*)'$", re.DOTALL)
_ME_SCOPES = {
    "user.read",
    "user.readwrite",
    "user.readbasic.all",
    "user.read.all",
    "user.readwrite.all",
    "directory.read.all",
}

_ODATA_TYPES = {
    "applications": "#microsoft.graph.application",
    "servicePrincipals": "#microsoft.graph.servicePrincipal",
    "users": "#microsoft.graph.user",
    "federatedIdentityCredentials": "#microsoft.graph.federatedIdentityCredential",
    "oauth2PermissionGrants": "#microsoft.graph.oAuth2PermissionGrant",
    "passwordCredential": "#microsoft.graph.passwordCredential",
}
_KINDS = {
    "applications": ent.APPS,
    "servicePrincipals": ent.SPS,
    "users": ent.USERS,
    "oauth2PermissionGrants": ent.GRANTS,
}
# The permission each write needs (emulator.graph.authz).
_CREATE_OPS = {
    "applications": authz.Op.CREATE_APP,
    "servicePrincipals": authz.Op.CREATE_SP,
    "users": authz.Op.WRITE_USER,
    "oauth2PermissionGrants": authz.Op.WRITE_GRANT,
}
_WRITE_OPS = {
    ent.APPS: authz.Op.WRITE_APP,
    ent.SPS: authz.Op.WRITE_SP,
    ent.USERS: authz.Op.WRITE_USER,
    ent.GRANTS: authz.Op.WRITE_GRANT,
}


def _checked(odata_type: str, body: dict[str, Any], *, create: bool) -> None:
    """Refuse a body that breaks the vendored Graph v1.0 schema of its entity
    (``emulator.contracts.graph``), as Graph answers it (``contract_refusal``)."""
    problems = contract.validate(odata_type.lstrip("#"), body, create=create)
    if problems:
        raise contract_refusal(problems, odata_type.lstrip("#"))


def _segments(raw_path: str) -> list[tuple[str, str | None, str | None]]:
    """``/v1.0/applications(uniqueName='x')/federatedIdentityCredentials`` ->
    [("applications", "uniqueName", "x"), ("federatedIdentityCredentials", None, None)]."""
    out: list[tuple[str, str | None, str | None]] = []
    for part in [p for p in raw_path.split("/") if p][1:]:
        text = unquote(part)
        m = _SEGMENT.match(text)
        if m is None:
            out.append((text, None, None))
            continue
        name, key = m.group(1), m.group(2)
        if key is None:
            out.append((name, None, None))
            continue
        km = _KEY.match(key.strip())
        if km is None:
            raise bad_request(f"Invalid key syntax '{key}'.")
        out.append((name, km.group(1) or "id", km.group(2).replace("''", "'")))
    return out


class GraphRouter:
    def __init__(self, ctx: EmulatorContext, page_size: int) -> None:
        self.ctx = ctx
        self.page_size = page_size
        # applications created while a replication delay was set -> when (monotonic); each stays
        # hidden until the *current* delay has passed since then, so a test that sets the delay
        # back to 0 sees it at once instead of waiting (issue 17 item 5: no timing in tests).
        self.created_during_delay: dict[str, float] = {}
        self._seed()

    def _seed(self) -> None:
        """What every tenant has before anyone writes: its initial domain and Microsoft Graph's
        service principal (the ``resourceId`` of grants of Graph permissions)."""
        from emulator.identity import GRAPH_APP_ID, GRAPH_DELEGATED_SCOPES

        store = self.ctx.store
        domains.ensure_initial_domain(store)
        sp = ent.graph_service_principal(self.ctx.tenant_id, GRAPH_APP_ID, GRAPH_DELEGATED_SCOPES)
        if store.get(ent.SPS, sp["id"]) is None:
            store.put(ent.SPS, sp["id"], sp)

    def _replicated(self, body: Mapping[str, Any]) -> bool:
        """A grant younger than the replication delay is not visible yet (as a new app)."""
        delay = self.ctx.faults.replication_delay_s
        created = ent.created_at(body) if delay > 0 else None
        return created is None or time.time() - created >= delay

    # ------------------------------------------------------------------ plumbing
    async def endpoint(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except GraphAuthError as exc:
            return error_response(request, exc, {"WWW-Authenticate": exc.challenge})
        except GraphError as exc:
            return error_response(request, exc)
        except Exception:  # a bug here must still answer in Graph's envelope (and be logged)
            log.exception("Graph request failed: %s %s", request.method, request.url.path)
            return error_response(
                request, GraphError(500, "generalException", "The emulator failed to process the request.")
            )

    def _entity(
        self,
        request: Request,
        collection: str,
        body: Mapping[str, Any],
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        out = {"@odata.context": f"{self.ctx.base_url}/v1.0/$metadata#{collection}/$entity", **body}
        return graph_response(request, status, out, headers)

    async def _publish(self, action: str, kind: str, key: str) -> None:
        await self.ctx.publish(Event("put" if action == "put" else "delete", kind, key))

    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"Unable to read JSON request payload: {exc}", "BadRequest") from exc
        if not isinstance(body, dict):
            raise bad_request("Unable to read JSON request payload.", "BadRequest")
        return body

    def _visible(self, app_id: str) -> bool:
        created = self.created_during_delay.get(app_id)
        if created is None:
            return True
        if time.monotonic() >= created + self.ctx.faults.replication_delay_s:
            del self.created_during_delay[app_id]
            return True
        return False

    # ------------------------------------------------------------------ dispatch
    async def _dispatch(self, request: Request) -> Response:
        claims = authenticate(self.ctx, request.headers.get("authorization"))  # 401 (graph.auth)
        who = authz.caller(claims)  # what the verified token may write: 403 (graph.authz)
        raw = request.scope.get("raw_path") or request.url.path.encode()
        segs = _segments(raw.decode("latin-1").split("?", 1)[0])
        if not segs:
            raise GraphError(404, "BadRequest", "Resource not found for the segment ''.")
        method = request.method
        head, key_name, key_value = segs[0]
        if head == "me" and len(segs) == 1 and key_name is None and method == "GET":
            return self._me(request, claims)
        if head == "domains" and method == "GET" and len(segs) <= 2:
            return self._domains(request, segs)
        if head == "directory" and len(segs) >= 2 and segs[1][0] == "deletedItems":
            rest = segs[2:]
            if len(segs) >= 2 and segs[1][1] is not None:  # deletedItems('id')
                rest = [(str(segs[1][2]), None, None), *segs[2:]]
            return await self._deleted_items(request, rest, who)
        if head not in _KINDS:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{head}'.")
        kind = _KINDS[head]
        if len(segs) == 1 and key_name is None:
            if method == "GET":
                return self._list(request, head, kind, self._docs(kind))
            if method == "POST":
                return await self._create(request, head, await self._body(request), who)
            raise GraphError(405, "Request_BadRequest", f"{method} is not supported on '{head}'.")
        if key_name is None:  # /collection/{id}
            if len(segs) < 2:
                raise not_found(head)
            key_name, key_value = "id", segs[1][0]
            rest = segs[2:]
        else:
            rest = segs[1:]
        assert key_value is not None
        if head == "applications" and rest:
            return await self._app_child(request, key_name, key_value, rest, who)
        if rest:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[0][0]}'.")
        return await self._item(request, head, kind, key_name, key_value, who)

    def _docs(self, kind: str, parent: str | None = None) -> list[Stored]:
        docs = self.ctx.store.list(kind, parent=parent)
        if kind == ent.APPS and self.created_during_delay:
            docs = [d for d in docs if self._visible(d.key)]
        if kind == ent.GRANTS:
            docs = [d for d in docs if self._replicated(d.body)]
        return docs

    def _domains(self, request: Request, segs: list[tuple[str, str | None, str | None]]) -> Response:
        """``GET /domains`` and ``/domains/{name}`` (``domain`` resources; read only here)."""
        docs = self.ctx.store.list(domains.DOMAINS)
        if len(segs) == 1 and segs[0][1] is None:
            return self._list(request, "domains", domains.DOMAINS, docs)
        name = segs[0][2] if segs[0][1] is not None else segs[1][0]
        doc = next((d for d in docs if d.key.lower() == str(name).lower()), None)
        if doc is None:
            raise not_found(str(name))
        return self._entity(request, "domains", doc.body)

    def _find(self, kind: str, key_name: str, key_value: str, *, for_read: bool = True) -> Stored | None:
        store = self.ctx.store
        if key_name == "id":
            doc = store.get(kind, key_value)
            if doc is None and kind == ent.USERS:  # users are also addressed by UPN
                doc = next(
                    (
                        d
                        for d in store.list(kind)
                        if str(d.body.get("userPrincipalName", "")).lower() == key_value.lower()
                    ),
                    None,
                )
        else:
            allowed = {ent.APPS: ("appId", "uniqueName"), ent.SPS: ("appId",)}.get(kind, ())
            if key_name not in allowed:
                raise bad_request(f"Property '{key_name}' is not an alternate key of this resource.")
            doc = next(
                (d for d in store.list(kind) if str(d.body.get(key_name) or "").lower() == key_value.lower()),
                None,
            )
        if doc is not None and kind == ent.APPS and for_read and not self._visible(doc.key):
            return None
        if doc is not None and kind == ent.GRANTS and for_read and not self._replicated(doc.body):
            return None
        return doc

    # ------------------------------------------------------------------ lists
    def _list(
        self,
        request: Request,
        collection: str,
        kind: str,
        docs: list[Stored],
        view: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None,
    ) -> Response:
        q = request.query_params
        items = [d.body for d in docs]
        if q.get("$filter"):
            try:
                pred = compile_filter(q["$filter"])
            except FilterError as exc:
                raise bad_request(f"Invalid filter clause: {exc}", "Request_UnsupportedQuery") from exc
            items = [i for i in items if pred(i)]
        try:
            offset = int(q.get("$skiptoken", "0"))
            top = int(q["$top"]) if "$top" in q else None
        except ValueError as exc:
            raise bad_request("Invalid $top or $skiptoken.", "Request_BadRequest") from exc
        if top is not None and not 1 <= top <= 999:
            raise bad_request(
                "Invalid page size specified: the value must be between 1 and 999.", "Request_BadRequest"
            )
        size = top or self.page_size
        page = items[offset : offset + size]
        fields = q.get("$select")
        shown = [select(self._view(kind, i, bool(fields)) if view is None else view(i), fields) for i in page]
        body: dict[str, Any] = {"@odata.context": f"{self.ctx.base_url}/v1.0/$metadata#{collection}"}
        if q.get("$count", "").lower() == "true":
            body["@odata.count"] = len(items)
        body["value"] = shown
        if offset + size < len(items):
            params = {k: v for k, v in q.items() if k != "$skiptoken"}
            params["$skiptoken"] = str(offset + size)
            body["@odata.nextLink"] = f"{self.ctx.base_url}{request.url.path}?{urlencode(params)}"
        return graph_response(request, 200, body)

    @staticmethod
    def _view(kind: str, body: Mapping[str, Any], selected: bool = False) -> dict[str, Any]:
        if kind == ent.APPS:
            return ent.view_application(body)
        if kind == ent.USERS:
            return ent.view_user(body, selected)
        if kind == ent.GRANTS:
            return ent.view_grant(body)
        return dict(body)

    # ------------------------------------------------------------------ create / item
    async def _create(
        self,
        request: Request,
        collection: str,
        body: dict[str, Any],
        who: authz.Caller,
        unique_name: str | None = None,
    ) -> Response:
        store = self.ctx.store
        authz.check_permitted(who, _CREATE_OPS[collection])
        if collection == "oauth2PermissionGrants":
            authz.check(who, authz.Op.WRITE_GRANT, grant=body)
        elif collection != "servicePrincipals":  # a service principal: once its app is known
            authz.check(who, _CREATE_OPS[collection])
        _checked(_ODATA_TYPES[collection], body, create=True)
        data = ent.clean_input(body, _ODATA_TYPES[collection])
        if collection == "applications":
            doc = ent.new_application(store, data, unique_name)
            if self.ctx.faults.replication_delay_s > 0:
                self.created_during_delay[doc["id"]] = time.monotonic()
        elif collection == "servicePrincipals":
            app_id = data.get("appId")
            if not isinstance(app_id, str) or not app_id:
                raise bad_request(
                    "Invalid value specified for property 'appId' of resource 'ServicePrincipal'."
                )
            app = self._find(ent.APPS, "appId", app_id)
            if app is None:
                raise bad_request(
                    f"The appId '{app_id}' of the service principal does not reference a valid application object."
                )
            authz.check(who, authz.Op.CREATE_SP, owned_by=authz.owners(store, app.key))
            doc = ent.new_service_principal(store, data, app.body)
        elif collection == "users":
            doc = ent.new_user(store, data)
        else:
            doc = ent.new_grant(store, data)
        kind = _KINDS[collection]
        with store.transaction():
            store.put(kind, doc["id"], doc)
            if collection in ("applications", "servicePrincipals"):
                authz.record_owner(store, doc["id"], who)
        await self._publish("put", kind, doc["id"])
        location = f"{self.ctx.base_url}/v1.0/{collection}/{doc['id']}"
        return self._entity(request, collection, self._view(kind, doc, True), 201, {"Location": location})

    async def _item(
        self, request: Request, collection: str, kind: str, key_name: str, key_value: str, who: authz.Caller
    ) -> Response:
        method = request.method
        store = self.ctx.store
        op = _WRITE_OPS[kind]
        if method in ("PATCH", "DELETE"):
            authz.check_permitted(who, op)
        if method == "GET":
            doc = self._find(kind, key_name, key_value)
            if doc is None:
                raise not_found(key_value)
            fields = request.query_params.get("$select")
            return self._entity(request, collection, select(self._view(kind, doc.body, bool(fields)), fields))
        if method == "PATCH":
            raw = await self._body(request)
            doc = self._find(kind, key_name, key_value, for_read=False)
            if doc is not None:  # an upsert that creates is checked as a create (``_create``)
                _checked(_ODATA_TYPES[collection], raw, create=False)
            body = ent.clean_input(raw, _ODATA_TYPES[collection])
            if doc is None:
                prefer = request.headers.get("prefer", "").lower()
                if (
                    "create-if-missing" in prefer
                    and key_name != "id"
                    and collection in ("applications", "servicePrincipals")
                ):
                    if collection == "applications" and key_name == "uniqueName":
                        return await self._create(request, collection, body, who, unique_name=key_value)
                    if collection == "servicePrincipals":
                        return await self._create(request, collection, {**body, "appId": key_value}, who)
                raise not_found(key_value)
            self._check_write(who, op, kind, doc)
            if kind == ent.APPS:
                new = ent.update_application(store, doc.body, body)
            elif kind == ent.SPS:
                new = ent.update_service_principal(doc.body, body)
            elif kind == ent.USERS:
                new = ent.update_user(store, doc.body, body)
            else:
                new = {**doc.body, **{k: v for k, v in body.items() if k in ("scope",)}}
            store.put(kind, doc.key, new, parent=doc.parent)
            await self._publish("put", kind, doc.key)
            return graph_response(request, 204)
        if method == "DELETE":
            doc = self._find(kind, key_name, key_value, for_read=False)
            if doc is None:
                raise not_found(key_value)
            self._check_write(who, op, kind, doc)
            await self._delete(kind, doc)
            return graph_response(request, 204)
        raise GraphError(405, "Request_BadRequest", f"{method} is not supported here.")

    def _check_write(self, who: authz.Caller, op: authz.Op, kind: str, doc: Stored) -> None:
        """``who`` may change or delete ``doc`` (its owners; a grant's consent type), else 403."""
        authz.check(
            who,
            op,
            owned_by=authz.owners(self.ctx.store, doc.key),
            grant=doc.body if kind == ent.GRANTS else None,
        )

    async def _delete(self, kind: str, doc: Stored) -> None:
        """Applications, service principals and users are soft-deleted into ``deletedItems``;
        an application takes its home-tenant service principal with it; its federated
        credentials are deleted for good."""
        store = self.ctx.store
        removed: list[tuple[str, str]] = []
        when = ent.now_iso()

        def soft_delete(k: str, d: Stored) -> None:
            odata_type = next((t for t, c in ent.DELETED_TYPES.items() if c == k), None)
            if odata_type is not None:
                store.put(ent.DELETED, d.key, {**d.body, "@odata.type": odata_type, "deletedDateTime": when})
            store.delete(k, d.key)
            removed.append((k, d.key))

        with store.transaction():
            if kind == ent.APPS:
                for fic in store.list(ent.FICS, parent=doc.key):
                    store.delete(ent.FICS, fic.key)
                    removed.append((ent.FICS, fic.key))
                app_id = str(doc.body.get("appId", "")).lower()
                for sp in store.list(ent.SPS):
                    if str(sp.body.get("appId", "")).lower() == app_id:
                        soft_delete(ent.SPS, sp)
            soft_delete(kind, doc)
        self.created_during_delay.pop(doc.key, None)
        for k, key in removed:
            await self._publish("delete", k, key)

    async def _deleted_items(
        self, request: Request, rest: list[tuple[str, str | None, str | None]], who: authz.Caller
    ) -> Response:
        """``/directory/deletedItems``: list by type, get, purge (DELETE), ``restore``."""
        store = self.ctx.store
        method = request.method
        if not rest:
            raise GraphError(400, "BadRequest", "Resource not found for the segment 'deletedItems'.")
        ref = rest[0][0]
        cast = ref.lower().removeprefix("microsoft.").removeprefix("graph.")
        by_type = {t.rsplit(".", 1)[-1].lower(): t for t in ent.DELETED_TYPES}
        if cast in by_type and len(rest) == 1 and method == "GET":
            odata_type = by_type[cast]
            docs = [d for d in store.list(ent.DELETED) if d.body.get("@odata.type") == odata_type]
            return self._list(request, f"directory/deletedItems/{odata_type.lstrip('#')}", ent.DELETED, docs)
        doc = store.get(ent.DELETED, ref)
        if doc is None:
            raise not_found(ref)
        if method != "GET":  # purge or restore (directory-deleteditems-delete / -restore)
            user = doc.body.get("@odata.type") == "#microsoft.graph.user"
            op = authz.Op.PURGE_USER if user else authz.Op.PURGE_APP
            authz.check(who, op, owned_by=authz.owners(store, ref))
        if len(rest) == 1 and method == "GET":
            return self._entity(
                request,
                "directoryObjects",
                self._view(ent.APPS, doc.body)
                if doc.body.get("@odata.type") == "#microsoft.graph.application"
                else doc.body,
            )
        if len(rest) == 1 and method == "DELETE":
            with store.transaction():
                store.delete(ent.DELETED, ref)
                authz.forget_owners(store, ref)
            return graph_response(request, 204)
        if len(rest) == 2 and rest[1][0] == "restore" and method == "POST":
            kind = ent.DELETED_TYPES[str(doc.body["@odata.type"])]
            body = {k: v for k, v in doc.body.items() if k != "@odata.type"}
            body["deletedDateTime"] = None
            with store.transaction():
                store.put(kind, ref, body)
                store.delete(ent.DELETED, ref)
            await self._publish("put", kind, ref)
            return self._entity(
                request,
                "directoryObjects",
                {"@odata.type": doc.body["@odata.type"], **self._view(kind, body, True)},
            )
        raise GraphError(405, "Request_BadRequest", f"{method} is not supported here.")

    # ------------------------------------------------------------------ application children
    async def _app_child(
        self,
        request: Request,
        key_name: str,
        key_value: str,
        rest: list[tuple[str, str | None, str | None]],
        who: authz.Caller,
    ) -> Response:
        store = self.ctx.store
        method = request.method
        name = rest[0][0]
        if method != "GET":  # addPassword, removePassword, federated credential writes
            authz.check_permitted(who, authz.Op.WRITE_APP)
        app = self._find(ent.APPS, key_name, key_value)
        if app is None:
            raise not_found(key_value)
        if method != "GET":
            authz.check(who, authz.Op.WRITE_APP, owned_by=authz.owners(store, app.key))
        if name in ("addPassword", "removePassword") and len(rest) == 1 and method == "POST":
            body = await self._body(request)
            if name == "addPassword":
                new, cred = ent.add_password(app.body, body)
                store.put(ent.APPS, app.key, new)
                await self._publish("put", ent.APPS, app.key)
                return graph_response(
                    request,
                    200,
                    {
                        "@odata.context": f"{self.ctx.base_url}/v1.0/$metadata#microsoft.graph.passwordCredential",
                        **cred,
                    },
                )
            store.put(ent.APPS, app.key, ent.remove_password(app.body, body))
            await self._publish("put", ent.APPS, app.key)
            return graph_response(request, 204)
        if name != "federatedIdentityCredentials":
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{name}'.")
        collection = f"applications/{app.key}/federatedIdentityCredentials"
        if len(rest) == 1:
            if method == "GET":
                return self._list(request, collection, ent.FICS, store.list(ent.FICS, parent=app.key))
            if method == "POST":
                raw = await self._body(request)
                _checked(_ODATA_TYPES["federatedIdentityCredentials"], raw, create=True)
                body = ent.clean_input(raw, _ODATA_TYPES["federatedIdentityCredentials"])
                fic = ent.new_fic(store, app.key, body)
                store.put(ent.FICS, fic["id"], fic, parent=app.key)
                await self._publish("put", ent.FICS, fic["id"])
                return self._entity(request, collection, fic, 201)
            raise GraphError(405, "Request_BadRequest", f"{method} is not supported here.")
        if len(rest) != 2:
            raise GraphError(400, "BadRequest", "Resource not found.")
        ref = rest[1][2] if rest[1][1] is not None else rest[1][0]
        assert ref is not None
        fic_doc = next(
            (
                d
                for d in store.list(ent.FICS, parent=app.key)
                if d.key == ref or str(d.body.get("name", "")).lower() == ref.lower()
            ),
            None,
        )
        if fic_doc is None:
            raise not_found(ref)
        if method == "GET":
            return self._entity(request, collection, fic_doc.body)
        if method == "PATCH":
            raw = await self._body(request)
            _checked(_ODATA_TYPES["federatedIdentityCredentials"], raw, create=False)
            body = ent.clean_input(raw, _ODATA_TYPES["federatedIdentityCredentials"])
            store.put(
                ent.FICS, fic_doc.key, ent.update_fic(store, app.key, fic_doc.body, body), parent=app.key
            )
            await self._publish("put", ent.FICS, fic_doc.key)
            return graph_response(request, 204)
        if method == "DELETE":
            store.delete(ent.FICS, fic_doc.key)
            await self._publish("delete", ent.FICS, fic_doc.key)
            return graph_response(request, 204)
        raise GraphError(405, "Request_BadRequest", f"{method} is not supported here.")

    # ------------------------------------------------------------------ /me
    def _me(self, request: Request, claims: Mapping[str, Any]) -> Response:
        ctx = self.ctx
        scopes = {s.lower() for s in str(claims.get("scp") or "").split()}
        if not scopes or claims.get("idtyp") == "app":
            raise GraphError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        if not scopes & _ME_SCOPES:
            raise GraphError(
                403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
            )
        user = ctx.store.get(ent.USERS, str(claims.get("oid") or ""))
        if user is None:
            raise not_found(str(claims.get("oid")))
        fields = request.query_params.get("$select")
        return self._entity(request, "users", select(ent.view_user(user.body, bool(fields)), fields))
