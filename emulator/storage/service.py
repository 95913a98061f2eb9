"""The Table service REST API on ``<base>/storage/<account>/table/...`` (one Starlette endpoint).

Where it sits: mounted on the main port by ``emulator.storage.routes``; behind the request log and
fault middleware like every main-port route. Reads the account and table documents ARM stored
(``emulator.arm.storage``), keeps entities as store documents (``emulator.storage_names``),
authenticates and authorizes every call first (``emulator.storage.auth``).

Operations (paths relative to the table endpoint; keys URL-encoded, ``'`` doubled):

* ``POST <table>`` insert: 201 + entity (ETag, Location), or 204 with ``Prefer:
  return-no-content`` (``Preference-Applied``); 409 ``EntityAlreadyExists``.
* ``GET <table>(PartitionKey='p',RowKey='r')`` get: 200 + entity + ``ETag``; 404 ``ResourceNotFound``.
* ``PUT`` (replace) / ``MERGE`` / ``PATCH`` / ``POST`` + ``X-HTTP-Method: MERGE`` on the same URL:
  insert-or-replace / insert-or-merge without ``If-Match``; with ``If-Match`` (``*`` or the ETag)
  update only (404 when missing, 412 ``UpdateConditionNotSatisfied`` on another ETag); 204 + ETag.
* ``DELETE`` on the same URL: ``If-Match`` required (400 ``MissingRequiredHeader``); 204.
* ``GET <table>()`` query: ``$filter``, ``$select``, ``$top`` and continuation (``emulator.storage.query``).
* ``GET Tables``, ``POST Tables`` (``{"TableName": ...}``), ``DELETE Tables('t')``: the account's
  tables (the same documents ARM serves).
* Not emulated (501 ``NotImplemented``): ``$batch``, table ACLs, service properties/stats, other
  services (blob, queue, file), AtomPub/XML payloads.

Every answer carries ``x-ms-request-id`` and ``x-ms-version`` (uvicorn adds ``Date``). A missing
table is 404 ``TableNotFound``; an unknown account 404 ``ResourceNotFound``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from emulator.context import EmulatorContext, Event
from emulator.storage import auth
from emulator.storage.entities import Entity, Level, key_path, merged, parse_entity, render, stamped
from emulator.storage.errors import (
    TableError,
    base_headers,
    error_response,
    invalid_input,
    not_found,
    table_not_found,
)
from emulator.storage.query import compile_filter, encode_token, page, parse_select, parse_top
from emulator.storage_names import (
    ACCOUNTS,
    ENTITIES,
    PATH_PREFIX,
    TABLES,
    table_endpoint,
    table_key,
    table_name_error,
)

log = logging.getLogger("emulator.storage")

DEFAULT_VERSION = "2019-02-02"
MAX_REQUEST_BYTES = 4 * 1024 * 1024
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ENTITY_PATH = re.compile(
    r"^(?P<table>[^()/]+)\((?:PartitionKey='(?P<pk>(?:[^']|'')*)',RowKey='(?P<rk>(?:[^']|'')*)'"
    r"|RowKey='(?P<rk2>(?:[^']|'')*)',PartitionKey='(?P<pk2>(?:[^']|'')*)')\)$"
)
_TABLE_PATH = re.compile(r"^(?P<table>[^()/]+)(?P<parens>\(\))?$")
_TABLES_ITEM = re.compile(r"^Tables\('(?P<table>(?:[^']|'')*)'\)$", re.IGNORECASE)
_LEVELS: dict[str, Level] = {
    "nometadata": "nometadata",
    "minimalmetadata": "minimalmetadata",
    "fullmetadata": "fullmetadata",
}


def _content_type(level: Level) -> str:
    return f"application/json;odata={level};streaming=true;charset=utf-8"


def _level(request: Request) -> Level:
    text = request.query_params.get("$format") or request.headers.get("accept") or "application/json"
    lowered = text.lower().replace(" ", "")
    if "application/json" not in lowered and "*/*" not in lowered:
        raise TableError(501, "NotImplemented", "Only JSON payloads are emulated (no AtomPub/XML).")
    m = re.search(r"odata=(\w+)", lowered)
    return _LEVELS.get(m.group(1) if m else "minimalmetadata", "minimalmetadata")


def _entity_key(tkey: str, pk: str, rk: str) -> str:
    return f"{tkey}/{json.dumps([pk, rk], ensure_ascii=False, separators=(',', ':'))}"


def delete_entities_under(ctx: EmulatorContext, key: str) -> int:
    """Remove the entities of a table (or of every table of an account) by its store key."""
    return ctx.store.delete_prefix(key + "/", ENTITIES)


def sweep_orphans(ctx: EmulatorContext) -> int:
    """Entities whose table is gone (a crash between the ARM delete and the event) are removed."""
    removed = 0
    parents = {doc.parent for doc in ctx.store.list(ENTITIES) if doc.parent}
    for parent in parents:
        if ctx.store.get(TABLES, parent) is None:
            removed += delete_entities_under(ctx, parent)
    return removed


async def on_event(ctx: EmulatorContext, event: Event) -> None:
    if event.action == "delete" and event.kind in (ACCOUNTS, TABLES):
        delete_entities_under(ctx, event.key)


class TableService:
    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx

    async def endpoint(self, request: Request) -> Response:
        version = request.headers.get("x-ms-version")
        answer_version = version if version and _VERSION.fullmatch(version) else DEFAULT_VERSION
        try:
            response = await self._handle(request, version)
        except TableError as exc:
            return error_response(exc, answer_version)
        except Exception:  # a bug must still answer in the service's envelope (and be logged)
            log.exception("Table request failed: %s %s", request.method, request.url.path)
            return error_response(
                TableError(
                    500,
                    "InternalError",
                    "Server encountered an internal error. Please try again after some time.",
                ),
                answer_version,
            )
        response.headers.update(base_headers(answer_version))
        return response

    # ------------------------------------------------------------------ dispatch
    async def _handle(self, request: Request, version: str | None) -> Response:
        raw = request.scope.get("raw_path") or request.url.path.encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        parts = path[len(PATH_PREFIX) :].lstrip("/").split("/", 2)
        account = unquote(parts[0]) if parts else ""
        service = parts[1] if len(parts) > 1 else ""
        rest = unquote(parts[2]) if len(parts) > 2 else ""
        if version is not None and not _VERSION.fullmatch(version):
            raise TableError(
                400,
                "InvalidHeaderValue",
                "The value for one of the HTTP headers is not in the correct format.",
            )
        doc = self._account(account)
        if doc is None:
            raise TableError(404, "ResourceNotFound", f"The storage account '{account}' does not exist.")
        account_key, account_body = doc
        caller = auth.authenticate(
            self.ctx,
            {k.lower(): v for k, v in request.headers.items()},
            dict(request.query_params),
            account,
            account_body.get("properties") or {},
            version,
        )
        if service != "table":
            raise TableError(
                501, "NotImplemented", f"The emulator serves only the Table service, not '{service}'."
            )
        method = request.method.upper()
        if method == "POST" and request.headers.get("x-http-method", "").upper() in (
            "MERGE",
            "DELETE",
            "PUT",
        ):
            method = request.headers["x-http-method"].upper()
        endpoint = table_endpoint(self.ctx.base_url, account)
        call = _Call(self.ctx, request, caller, account, account_key, endpoint, method)
        if rest == "" or rest.startswith("$") or "/" in rest:
            raise TableError(
                501, "NotImplemented", f"'{rest or '/'}' is not emulated (batch, service properties)."
            )
        if rest in ("Tables", "Tables()"):
            return await call.tables()
        m = _TABLES_ITEM.fullmatch(rest)
        if m is not None:
            return await call.delete_table(m.group("table").replace("''", "'"))
        if "comp" in request.query_params:
            raise TableError(501, "NotImplemented", "Table ACLs are not emulated.")
        m = _ENTITY_PATH.fullmatch(rest)
        if m is not None:
            pk = (m.group("pk") if m.group("pk") is not None else m.group("pk2")).replace("''", "'")
            rk = (m.group("rk") if m.group("rk") is not None else m.group("rk2")).replace("''", "'")
            return await call.entity(m.group("table"), pk, rk)
        m = _TABLE_PATH.fullmatch(rest)
        if m is None:
            raise invalid_input("The request URI is not valid.")
        return await call.collection(m.group("table"), bool(m.group("parens")))

    def _account(self, name: str) -> tuple[str, dict[str, Any]] | None:
        for doc in self.ctx.store.list(ACCOUNTS):
            if str(doc.body.get("name", "")).lower() == name.lower() and name:
                return doc.key, doc.body
        return None


class _Call:
    """One authenticated request to an account's table endpoint."""

    def __init__(
        self,
        ctx: EmulatorContext,
        request: Request,
        caller: auth.Caller,
        account: str,
        account_key: str,
        endpoint: str,
        method: str,
    ) -> None:
        self.ctx = ctx
        self.request = request
        self.caller = caller
        self.account = account
        self.account_key = account_key
        self.endpoint = endpoint
        self.method = method

    # ------------------------------------------------------------------ helpers
    async def _body(self) -> bytes:
        ctype = self.request.headers.get("content-type", "application/json").lower()
        if "json" not in ctype:
            raise TableError(501, "NotImplemented", "Only JSON payloads are emulated (no AtomPub/XML).")
        raw = await self.request.body()
        if len(raw) > MAX_REQUEST_BYTES:
            raise TableError(
                413,
                "RequestBodyTooLarge",
                "The request body is too large and exceeds the maximum permissible limit.",
            )
        return raw

    async def _table(self, table: str, *, write: bool) -> str:
        """The table's store key, after the caller's permission was checked."""
        tkey = table_key(self.account_key, table)
        auth.authorize(self.ctx, self.caller, tkey, write=write)
        if table_name_error(table) is not None or self.ctx.store.get(TABLES, tkey) is None:
            raise table_not_found()
        return tkey

    def _json(
        self, status: int, body: Mapping[str, Any], level: Level, headers: Mapping[str, str] | None = None
    ) -> Response:
        return Response(
            json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            status_code=status,
            headers={"DataServiceVersion": "3.0;", "Cache-Control": "no-cache", **(headers or {})},
            media_type=_content_type(level),
        )

    def _empty(self, status: int, headers: Mapping[str, str] | None = None) -> Response:
        return Response(status_code=status, headers={"Cache-Control": "no-cache", **(headers or {})})

    def _prefer_no_content(self) -> bool:
        return "return-no-content" in self.request.headers.get("prefer", "").lower()

    # ------------------------------------------------------------------ tables
    async def tables(self) -> Response:
        if self.method == "GET":
            auth.authorize(self.ctx, self.caller, self.account_key, write=False)
            level = _level(self.request)
            parent = f"{self.account_key}/tableservices/default"
            names = [str(d.body.get("name")) for d in self.ctx.store.list(TABLES, parent=parent)]
            names.sort(key=str.lower)
            items: list[dict[str, Any]] = []
            for name in names:
                item: dict[str, Any] = {"TableName": name}
                if level == "fullmetadata":
                    item = {
                        "odata.type": f"{self.account}.Tables",
                        "odata.id": f"{self.endpoint}Tables('{name}')",
                        "odata.editLink": f"Tables('{name}')",
                        **item,
                    }
                items.append(item)
            body: dict[str, Any] = {"value": items}
            if level != "nometadata":
                body = {"odata.metadata": f"{self.endpoint}$metadata#Tables", **body}
            return self._json(200, body, level)
        if self.method == "POST":
            return await self.create_table()
        raise TableError(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")

    async def create_table(self) -> Response:
        auth.authorize(self.ctx, self.caller, self.account_key, write=True)
        level = _level(self.request)
        try:
            body = json.loads(await self._body() or b"{}")
        except ValueError as exc:
            raise invalid_input("The request body is not valid JSON.") from exc
        name = body.get("TableName") if isinstance(body, dict) else None
        if not isinstance(name, str):
            raise TableError(
                400, "PropertiesNeedValue", "The values are not specified for all properties in the entity."
            )
        problem = table_name_error(name)
        if problem is not None:
            raise TableError(400, *problem)
        tkey = table_key(self.account_key, name)
        account_doc = self.ctx.store.get(ACCOUNTS, self.account_key)
        account_id = str(account_doc.body.get("id", "")) if account_doc is not None else ""
        with self.ctx.store.transaction():
            if self.ctx.store.get(TABLES, tkey) is not None:
                raise TableError(409, "TableAlreadyExists", "The table specified already exists.")
            doc = {
                "id": f"{account_id}/tableServices/default/tables/{name}",
                "name": name,
                "type": "Microsoft.Storage/storageAccounts/tableServices/tables",
                "properties": {"tableName": name},
            }
            self.ctx.store.put(TABLES, tkey, doc, parent=f"{self.account_key}/tableservices/default")
        await self.ctx.publish(Event("put", TABLES, tkey))
        location = {"Location": f"{self.endpoint}Tables('{name}')"}
        if self._prefer_no_content():
            return self._empty(204, {**location, "Preference-Applied": "return-no-content"})
        out: dict[str, Any] = {"TableName": name}
        if level != "nometadata":
            out = {"odata.metadata": f"{self.endpoint}$metadata#Tables/@Element", **out}
        prefer = {"Preference-Applied": "return-content"} if self.request.headers.get("prefer") else {}
        return self._json(201, out, level, {**location, **prefer})

    async def delete_table(self, name: str) -> Response:
        if self.method != "DELETE":
            raise TableError(
                405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb."
            )
        tkey = table_key(self.account_key, name)
        auth.authorize(self.ctx, self.caller, tkey, write=True)
        if not self.ctx.store.delete(TABLES, tkey):
            raise not_found()
        delete_entities_under(self.ctx, tkey)
        await self.ctx.publish(Event("delete", TABLES, tkey))
        return self._empty(204)

    # ------------------------------------------------------------------ entities
    async def collection(self, table: str, parens: bool) -> Response:
        if self.method == "GET":
            return await self.query(table)
        if self.method == "POST" and not parens:
            return await self.insert(table)
        raise TableError(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")

    async def insert(self, table: str) -> Response:
        tkey = await self._table(table, write=True)
        level = _level(self.request)
        entity = parse_entity(await self._body())
        key = _entity_key(tkey, entity.partition_key, entity.row_key)
        with self.ctx.store.transaction():
            if self.ctx.store.get(ENTITIES, key) is not None:
                raise TableError(409, "EntityAlreadyExists", "The specified entity already exists.")
            entity = stamped(entity)
            self.ctx.store.put(ENTITIES, key, entity.to_doc(), parent=tkey)
        url = f"{self.endpoint}{key_path(table, entity.partition_key, entity.row_key)}"
        headers = {"ETag": entity.etag, "Location": url}
        if self._prefer_no_content():
            return self._empty(
                204, {**headers, "DataServiceId": url, "Preference-Applied": "return-no-content"}
            )
        if self.request.headers.get("prefer"):
            headers["Preference-Applied"] = "return-content"
        body = render(entity, level, endpoint=self.endpoint, account=self.account, table=table, single=True)
        return self._json(201, body, level, headers)

    async def entity(self, table: str, pk: str, rk: str) -> Response:
        method = self.method
        if method == "GET":
            tkey = await self._table(table, write=False)
            level = _level(self.request)
            select = parse_select(self.request.query_params.get("$select"))
            stored = self.ctx.store.get(ENTITIES, _entity_key(tkey, pk, rk))
            if stored is None:
                raise not_found()
            entity = Entity.from_doc(stored.body)
            body = render(
                entity,
                level,
                endpoint=self.endpoint,
                account=self.account,
                table=table,
                single=True,
                select=select,
            )
            return self._json(200, body, level, {"ETag": entity.etag})
        if method in ("PUT", "MERGE", "PATCH"):
            return await self.update(table, pk, rk, merge=method != "PUT")
        if method == "DELETE":
            return await self.delete(table, pk, rk)
        raise TableError(405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.")

    def _check_match(self, existing: Entity | None, if_match: str | None) -> None:
        if if_match is None:
            return
        if existing is None:
            raise not_found()
        wanted = {t.strip() for t in if_match.split(",")}
        if "*" not in wanted and existing.etag not in wanted:
            raise TableError(
                412,
                "UpdateConditionNotSatisfied",
                "The update condition specified in the request was not satisfied.",
            )

    async def update(self, table: str, pk: str, rk: str, *, merge: bool) -> Response:
        tkey = await self._table(table, write=True)
        new = parse_entity(await self._body(), keys=(pk, rk))
        key = _entity_key(tkey, pk, rk)
        with self.ctx.store.transaction():
            stored = self.ctx.store.get(ENTITIES, key)
            existing = Entity.from_doc(stored.body) if stored is not None else None
            self._check_match(existing, self.request.headers.get("if-match"))
            entity = stamped(merged(existing, new) if merge and existing is not None else new)
            self.ctx.store.put(ENTITIES, key, entity.to_doc(), parent=tkey)
        return self._empty(204, {"ETag": entity.etag})

    async def delete(self, table: str, pk: str, rk: str) -> Response:
        tkey = await self._table(table, write=True)
        if_match = self.request.headers.get("if-match")
        if if_match is None:
            raise TableError(
                400,
                "MissingRequiredHeader",
                "An HTTP header that's mandatory for this request is not specified.",
            )
        key = _entity_key(tkey, pk, rk)
        with self.ctx.store.transaction():
            stored = self.ctx.store.get(ENTITIES, key)
            if stored is None:
                raise not_found()
            self._check_match(Entity.from_doc(stored.body), if_match)
            self.ctx.store.delete(ENTITIES, key)
        return self._empty(204)

    async def query(self, table: str) -> Response:
        tkey = await self._table(table, write=False)
        level = _level(self.request)
        q = self.request.query_params
        predicate = compile_filter(q.get("$filter"))
        select = parse_select(q.get("$select"))
        top = parse_top(q.get("$top"))
        docs = self.ctx.store.list(ENTITIES, parent=tkey)
        result = page(
            (Entity.from_doc(d.body) for d in docs),
            predicate,
            top,
            q.get("NextPartitionKey"),
            q.get("NextRowKey"),
        )
        values = [
            render(
                e,
                level,
                endpoint=self.endpoint,
                account=self.account,
                table=table,
                single=False,
                select=select,
            )
            for e in result.entities
        ]
        body: dict[str, Any] = {"value": values}
        if level != "nometadata":
            body = {"odata.metadata": f"{self.endpoint}$metadata#{table}", **body}
        headers: dict[str, str] = {}
        if result.next_keys is not None:
            headers["x-ms-continuation-NextPartitionKey"] = encode_token(result.next_keys[0])
            headers["x-ms-continuation-NextRowKey"] = encode_token(result.next_keys[1])
        return self._json(200, body, level, headers)
