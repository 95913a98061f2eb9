"""The gateway's view of one APIM service, read from the store (ARM GET shapes).

``ServiceConfig.snapshot()`` returns an immutable ``Snapshot`` of the service's APIs,
operations, policies (global, product, API, operation), named values, backends, fragments and the ``subscriptions.Directory``
(subscriptions, products, users, groups); it is rebuilt when
an ARM write under the service is published (``invalidate``) and re-checked against the
documents' versions at most once a second (writes that bypass the event bus). Compiled
policy documents are cached by (document, version, named values, fragments), so a rebuild
recompiles only what changed; composed pipelines are cached per operation and product in the snapshot.
Versions are the store's revision of each write, never reused after a delete (``store.py``):
a document deleted and re-created is a new key for both caches.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.gateway import subscriptions
from emulator.gateway.errors import PolicyCompileError
from emulator.gateway.policy import Pipeline, PolicyDocument, compile_document, compose, default_global
from emulator.gateway.subscriptions import Directory
from emulator.store import Store, Stored

P = "microsoft.apimanagement/service"
KIND_SERVICE = P
KIND_API = P + "/apis"
KIND_OPERATION = P + "/apis/operations"
KIND_API_POLICY = P + "/apis/policies"
KIND_OPERATION_POLICY = P + "/apis/operations/policies"
KIND_GLOBAL_POLICY = P + "/policies"
KIND_PRODUCT_POLICY = P + "/products/policies"
KIND_NAMED_VALUE = P + "/namedvalues"
KIND_BACKEND = P + "/backends"
KIND_FRAGMENT = P + "/policyfragments"
KIND_LOGGER = P + "/loggers"
RECHECK_S = 1.0


@dataclass(frozen=True)
class OperationRoute:
    key: str
    name: str
    method: str
    template: str
    pattern: re.Pattern[str]
    specificity: tuple[int, int]
    display_name: str


@dataclass(frozen=True)
class ApiRoute:
    key: str
    name: str
    path: str  # no leading/trailing slash
    body: Mapping[str, Any]
    type: str
    service_url: str | None
    subscription_required: bool
    operations: tuple[OperationRoute, ...]


@dataclass(frozen=True)
class Match:
    api: ApiRoute
    operation: OperationRoute | None
    params: dict[str, str]
    remainder: str


def template_pattern(template: str) -> tuple[re.Pattern[str], tuple[int, int]]:
    """APIM URL template -> regex over the path after the API suffix; plus a sort key."""
    path = template.split("?", 1)[0] or "/"
    if not path.startswith("/"):
        path = "/" + path
    out: list[str] = []
    params = 0
    wild = 0
    i = 0
    while i < len(path):
        c = path[i]
        if c == "{":
            end = path.find("}", i)
            if end < 0:
                out.append(re.escape(path[i:]))
                break
            name = path[i + 1 : end]
            group = re.sub(r"\W", "_", name.lstrip("*")) or f"p{params}"
            if name.startswith("*"):
                out.append(f"(?P<{group}>.*)")
                wild += 1
            else:
                out.append(f"(?P<{group}>[^/]+)")
                params += 1
            i = end + 1
            continue
        if c == "*":
            out.append(".*")
            wild += 1
            i += 1
            continue
        out.append(re.escape(c))
        i += 1
    regex = "".join(out)
    if regex.endswith("/"):
        regex = regex[:-1] + "/?"
    elif not regex.endswith(".*") and not regex.endswith(")"):
        regex += "/?"
    return re.compile(regex, re.IGNORECASE), (wild, params)


def _doc_name(doc: Stored) -> str:
    return str(doc.body.get("name") or doc.key.rsplit("/", 1)[-1])


class Snapshot:
    def __init__(
        self,
        docs: list[Stored],
        service_key: str,
        compiled: dict[tuple[Any, ...], PolicyDocument | PolicyCompileError],
    ) -> None:
        self.fingerprint = tuple(sorted((d.kind, d.key, d.version) for d in docs))
        by_kind: dict[str, list[Stored]] = {}
        for d in docs:
            by_kind.setdefault(d.kind, []).append(d)
        self.named_values = {
            str((d.body.get("properties") or {}).get("displayName") or _doc_name(d)): str(
                (d.body.get("properties") or {}).get("value") or ""
            )
            for d in by_kind.get(KIND_NAMED_VALUE, [])
        }
        self.fragments = {
            _doc_name(d): str((d.body.get("properties") or {}).get("value") or "")
            for d in by_kind.get(KIND_FRAGMENT, [])
        }
        self.backends = {
            _doc_name(d).lower(): str((d.body.get("properties") or {}).get("url") or "")
            for d in by_kind.get(KIND_BACKEND, [])
        }
        self.app_insights = next(
            (
                str((d.body.get("properties") or {}).get("resourceId") or d.key)
                for d in sorted(by_kind.get(KIND_LOGGER, []), key=lambda d: d.key)
                if (d.body.get("properties") or {}).get("loggerType") == "applicationInsights"
            ),
            "",
        )
        self.directory = Directory.build(
            (d for kind in subscriptions.KINDS for d in by_kind.get(kind, [])), service_key
        )
        self.policies: dict[str, Stored] = {}
        for kind in (KIND_API_POLICY, KIND_OPERATION_POLICY, KIND_GLOBAL_POLICY, KIND_PRODUCT_POLICY):
            for d in by_kind.get(kind, []):
                self.policies[d.parent or ""] = d
        ops_by_api: dict[str, list[OperationRoute]] = {}
        for d in by_kind.get(KIND_OPERATION, []):
            props = d.body.get("properties") or {}
            template = str(props.get("urlTemplate") or "/")
            pattern, spec = template_pattern(template)
            route = OperationRoute(
                d.key,
                _doc_name(d),
                str(props.get("method") or "GET").upper(),
                template,
                pattern,
                spec,
                str(props.get("displayName") or _doc_name(d)),
            )
            ops_by_api.setdefault(d.parent or "", []).append(route)
        apis: list[ApiRoute] = []
        for d in by_kind.get(KIND_API, []):
            props = d.body.get("properties") or {}
            if props.get("isCurrent") is False:
                continue
            ops = tuple(sorted(ops_by_api.get(d.key, []), key=lambda o: o.specificity))
            api_type = str(props.get("type") or "http").lower()
            apis.append(
                ApiRoute(
                    d.key, _doc_name(d), str(props.get("path") or "").strip("/"), d.body, api_type,
                    self._service_url(api_type, props), bool(props.get("subscriptionRequired", True)), ops,
                )
            )  # fmt: skip
        self.apis = sorted(apis, key=lambda a: len(a.path), reverse=True)
        self.service_key = service_key
        self._compiled = compiled
        self._pipelines: dict[tuple[str, str, str], Pipeline | PolicyCompileError] = {}
        self._nv_fp = tuple(sorted(self.named_values.items()))
        self._frag_fp = tuple(sorted(self.fragments.items()))

    def _service_url(self, api_type: str, props: dict[str, Any]) -> str | None:
        """Where the API forwards: an MCP API to its ``backendId``'s ``url`` (APIM's MCP API has
        no ``serviceUrl``; Learn, "Expose and govern an existing MCP server"), any other API to
        its ``serviceUrl``. ``None``: no backend configured (a policy may still set one)."""
        if api_type == "mcp":
            backend = props.get("backendId")
            url = self.backends.get(str(backend).lower()) if backend else None
            return url or None
        return str(props["serviceUrl"]) if props.get("serviceUrl") else None

    def match(self, path: str, method: str) -> Match | None:
        lower = path.lower()
        for api in self.apis:
            prefix = "/" + api.path.lower() if api.path else ""
            if prefix and not (lower == prefix or lower.startswith(prefix + "/")):
                continue
            remainder = path[len(prefix) :] or "/"
            candidates = [op for op in api.operations if op.pattern.fullmatch(remainder)]
            if not candidates and remainder == "/":
                candidates = [op for op in api.operations if op.pattern.fullmatch("")]
            chosen = next((op for op in candidates if op.method == method.upper()), None)
            if chosen is not None:
                m = chosen.pattern.fullmatch(remainder) or chosen.pattern.fullmatch("")
                params = {k: v for k, v in (m.groupdict() if m else {}).items() if v is not None}
                return Match(api, chosen, params, remainder)
            if api.type == "mcp" or (not api.operations and api.type in ("websocket",)):
                return Match(api, None, {}, remainder)
            if candidates or api.operations:
                continue
        return None

    def _document(self, scope_key: str) -> PolicyDocument | None:
        stored = self.policies.get(scope_key)
        if stored is None:
            return None
        cache_key = (stored.key, stored.version, self._nv_fp, self._frag_fp)
        hit = self._compiled.get(cache_key)
        if hit is None:
            xml = str((stored.body.get("properties") or {}).get("value") or "")
            try:
                hit = compile_document(xml, self.named_values, self.fragments)
            except PolicyCompileError as exc:
                hit = exc
            except RecursionError:
                hit = PolicyCompileError("policies", 0, "The policy is nested too deeply.")
            self._compiled[cache_key] = hit
        if isinstance(hit, PolicyCompileError):
            raise hit
        return hit

    def pipeline(self, match: Match, product: str = "") -> Pipeline:
        """The effective pipeline of the request: the global, product, API and operation policies
        in APIM's order (Learn "Policies in Azure API Management", "Scopes"). ``product``: the
        id of the product the request is admitted in (a product subscription's key, or the open
        product without a key: ``subscriptions.Admission.product``); "" for none (a key scoped
        to an API, all APIs or the service), and then no product policy applies."""
        op_key = match.operation.key if match.operation else ""
        key = (match.api.key, op_key, product.lower())
        cached = self._pipelines.get(key)
        if cached is None:
            try:
                global_doc = self._document(self.service_key) or default_global()
                product_doc = (
                    self._document(f"{self.service_key}/products/{product.lower()}") if product else None
                )
                api_doc = self._document(match.api.key)
                op_doc = self._document(op_key) if op_key else None
                cached = compose(
                    [global_doc, product_doc, api_doc, op_doc], ("global", "product", "api", "operation")
                )
            except PolicyCompileError as exc:
                cached = exc
            self._pipelines[key] = cached
        if isinstance(cached, PolicyCompileError):
            raise cached
        return cached


@dataclass
class ServiceConfig:
    store: Store
    service_key: str
    _snapshot: Snapshot | None = None
    _checked: float = 0.0
    _dirty: bool = True
    _compiled: dict[tuple[Any, ...], PolicyDocument | PolicyCompileError] = field(default_factory=dict)

    def invalidate(self) -> None:
        self._dirty = True

    def service_body(self) -> dict[str, Any]:
        doc = self.store.get(KIND_SERVICE, self.service_key)
        return dict(doc.body) if doc else {}

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        if self._snapshot is not None and not self._dirty and now - self._checked < RECHECK_S:
            return self._snapshot
        docs = self.store.list_prefix(self.service_key + "/", P + "/")
        self._checked = now
        self._dirty = False
        fingerprint = tuple(sorted((d.kind, d.key, d.version) for d in docs))
        if self._snapshot is not None and self._snapshot.fingerprint == fingerprint:
            return self._snapshot
        if len(self._compiled) > 2000:
            self._compiled.clear()
        self._snapshot = Snapshot(docs, self.service_key, self._compiled)
        return self._snapshot
