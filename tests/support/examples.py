"""Replay Azure's published ``x-ms-examples`` against the emulated ARM (the examples replay test).

An example file (vendored under ``emulator/contracts/specs``, listed by
``emulator.contracts.loader.examples()``) holds the request parameters of one operation and the
responses Azure documents for it. ``replay(emu, example)``:

1. renames the example's subscription to the emulator's, and its resource group, APIM service and
   storage account (names Azure keeps globally unique) to names of its own (``Renamer``), in the
   path and in every ARM id of the bodies, so the examples of one run never see each other; a
   path parameter that is an ARM id sent unencoded (``roleAssignmentId``) is renamed the same way;
2. creates what must exist first: every parent of the target (``SEEDERS``: a minimal valid body
   per resource type), every resource an ARM id in the request body names (a pool's backends, a
   revision's source API, a user-assigned identity), whatever a ``REFERENCES`` hook finds (named
   values a policy uses as ``{{name}}``, an APIM-relative ``/loggers/x``) and, for a read, update,
   delete or action, the target itself (from the example's own response body, read-only
   properties stripped as the operation's schema marks them); for a list, every listed item;
3. sends the request (its body is the example parameter named as the operation's body parameter:
   ``parameters``, ``registry``, ``InsightProperties``...) and compares: the status must be one
   the example documents, every header the example shows (``ETag``; not the polling headers of a
   long-running operation, which a synchronous answer does not carry) and every key of its
   response body for that status must be in the emulator's answer (objects
   recursively; list items matched by ``name``, else by position; lists are read to the end
   through ``nextLink``).

Extending to another resource provider (contracts-rp): vendor its spec and example files
(MANIFEST ``kind: example``), add a ``SEEDERS`` entry for each type a replay has to create first
(a function of the resource's path returning a minimal body, or ``None`` when it cannot be
created), and list in the test's ``EXCEPTIONS`` any example the emulator cannot honour, with why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from emulator.contracts import loader
from emulator.contracts.loader import Ref
from emulator.contracts.schema import strip_read_only
from tests.support.emulator import RunningEmulator

Doc = dict[str, Any]
RG_API = "2025-04-01"
APIM = "microsoft.apimanagement"
_ARM_ID = re.compile(r"^/subscriptions/[^/]+/", re.IGNORECASE)
_APIM_RELATIVE = re.compile(r"^/(loggers|backends|namedValues|apis|policyFragments)/([^/]+)$", re.IGNORECASE)
_NAMED_VALUE = re.compile(r"\{\{([^{}]+)\}\}")
# headers that say where to poll a long-running operation: present only when the emulator answers
# asynchronously, which a synchronous answer with the final body legitimately is not
_POLLING_HEADERS = frozenset({"location", "azure-asyncoperation", "retry-after"})


# ------------------------------------------------------------------------------------ naming
@dataclass
class Renamer:
    """Maps the example's names to this replay's: subscription, resource groups, and the global
    names (APIM services, storage accounts, container registries)."""

    subscription: str
    suffix: str
    groups: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    registries: dict[str, str] = field(default_factory=dict)

    def group(self, name: str) -> str:
        return self.groups.setdefault(name.lower(), f"ex{self.suffix}-{name}")

    def service(self, name: str) -> str:
        return self.services.setdefault(name.lower(), f"{name}-x{self.suffix}")

    def account(self, name: str) -> str:
        """Storage account names are global (as APIM services'): one per replay, a valid name."""
        return self.accounts.setdefault(name.lower(), f"{name.lower()[:18]}x{self.suffix}")

    def registry(self, name: str) -> str:
        """Registry names are global too (<name>.azurecr.io): one per replay, alphanumerics."""
        return self.registries.setdefault(name.lower(), f"{name[:40]}x{self.suffix}")

    def arm_id(self, value: str) -> str:
        """The same id in this replay (``/subscriptions/{s}/resourceGroups/{rg}/...``)."""
        parts = value.split("/")
        out = list(parts)
        for i in range(1, len(parts) - 1):
            seg, before = parts[i].lower(), parts[i - 1].lower()
            if seg == "subscriptions" and i == 1:
                out[i + 1] = self.subscription
            elif seg == "resourcegroups":
                out[i + 1] = self.group(parts[i + 1])
            elif (seg == "service" and before == APIM) or seg == "deletedservices":
                out[i + 1] = self.service(parts[i + 1])
            elif seg == "storageaccounts" and before == "microsoft.storage":
                out[i + 1] = self.account(parts[i + 1])
            elif seg == "registries" and before == "microsoft.containerregistry":
                out[i + 1] = self.registry(parts[i + 1])
        return "/".join(out)

    def value(self, node: Any) -> Any:
        """``node`` with every ARM id (string value or object key) renamed."""
        if isinstance(node, dict):
            return {(self.arm_id(k) if _ARM_ID.match(k) else k): self.value(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.value(v) for v in node]
        if isinstance(node, str) and _ARM_ID.match(node):
            return self.arm_id(node)
        return node


def request_path(example: loader.Example, params: Doc, names: Renamer) -> str:
    """The operation's path template filled from the example's parameters (renamed)."""

    def fill(m: re.Match[str]) -> str:
        key = m.group(1)
        value = str(params[key])
        if key == "subscriptionId":
            return names.subscription
        if key == "resourceGroupName":
            return names.group(value)
        if key == "serviceName":
            return names.service(value)
        if key == "accountName" and "/Microsoft.Storage/" in example.operation.template:
            return names.account(value)
        if key == "registryName":
            return names.registry(value)
        if value.lower().startswith("subscriptions/"):  # an ARM id sent unencoded (roleAssignmentId)
            return quote(names.arm_id("/" + value).lstrip("/"), safe="/;=,")
        return quote(value, safe=";=,")

    return re.sub(r"\{([^}]+)\}", fill, example.operation.template)


# ------------------------------------------------------------------------------------ seeding
Seeder = Callable[[str], "Doc | None"]


_POLICY = "<policies><inbound /><backend><forward-request /></backend><outbound /></policies>"


def _named(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _group_path(path: str) -> str:
    """``/subscriptions/{s}/resourceGroups/{rg}`` of a resource path."""
    return "/".join(path.split("/")[:5])


# Resource type (lower-cased, ``Namespace/type[/child...]``) -> a minimal body that creates it.
SEEDERS: dict[str, Seeder] = {
    "microsoft.resources/resourcegroups": lambda p: {"location": "westus"},
    f"{APIM}/service": lambda p: {
        "location": "westus",
        "sku": {"name": "Developer", "capacity": 1},
        "properties": {"publisherEmail": "examples@contoso.com", "publisherName": "examples"},
    },
    f"{APIM}/service/apis": lambda p: {
        "properties": {
            "displayName": _named(p).split(";")[0],
            "path": _named(p).split(";")[0],
            "serviceUrl": f"https://{_named(p).split(';')[0].lower()}.example.com",
        }
    },
    f"{APIM}/service/apis/operations": lambda p: {
        "properties": {"displayName": _named(p), "method": "GET", "urlTemplate": f"/{_named(p)}"}
    },
    f"{APIM}/service/backends": lambda p: {
        "properties": {"url": f"https://{_named(p).lower()}.example.com", "protocol": "http"}
    },
    f"{APIM}/service/loggers": lambda p: {"properties": {"loggerType": "azureMonitor"}},
    f"{APIM}/service/namedvalues": lambda p: {"properties": {"displayName": _named(p), "value": "example"}},
    f"{APIM}/service/policyfragments": lambda p: {
        "properties": {"format": "xml", "value": "<fragment><base /></fragment>"}
    },
    f"{APIM}/service/diagnostics": lambda p: {
        "properties": {"loggerId": f"{service_path(p)}/loggers/examples-logger"}
    },
    f"{APIM}/service/policies": lambda p: {"properties": {"format": "xml", "value": _POLICY}},
    f"{APIM}/service/products": lambda p: {"properties": {"displayName": _named(p)}},
    f"{APIM}/service/groups": lambda p: {"properties": {"displayName": _named(p), "description": "example"}},
    f"{APIM}/service/users": lambda p: {
        "properties": {"email": f"{_named(p)}@contoso.com", "firstName": "example", "lastName": _named(p)}
    },
    f"{APIM}/service/subscriptions": lambda p: {
        "properties": {"scope": f"{service_path(p)}/apis", "displayName": _named(p)}
    },
    f"{APIM}/service/apis/policies": lambda p: {"properties": {"format": "xml", "value": _POLICY}},
    f"{APIM}/service/apis/operations/policies": lambda p: {"properties": {"format": "xml", "value": _POLICY}},
    "microsoft.managedidentity/userassignedidentities": lambda p: {"location": "westus"},
    "microsoft.containerregistry/registries": lambda p: {"location": "westus", "sku": {"name": "Basic"}},
    "microsoft.app/managedenvironments": lambda p: {"location": "westus", "properties": {}},
    "microsoft.app/containerapps": lambda p: {
        "location": "westus",
        "properties": {
            "managedEnvironmentId": f"{_group_path(p)}/providers/Microsoft.App/managedEnvironments/examples-env",
            "template": {
                "containers": [{"name": "app", "image": "mcr.microsoft.com/k8se/quickstart:latest"}]
            },
        },
    },
    "microsoft.operationalinsights/workspaces": lambda p: {"location": "westus"},
    "microsoft.insights/components": lambda p: {
        "location": "westus",
        "kind": "web",
        "properties": {"Application_Type": "web"},
    },
    "microsoft.storage/storageaccounts": lambda p: {
        "location": "westus",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS"},
    },
    "microsoft.storage/storageaccounts/tableservices/tables": lambda p: {},
}
# Resource types that cannot be created with a PUT: how a replay brings one into being.
AsyncSeeder = Callable[["Replayer", str], Awaitable[None]]


async def _soft_deleted_service(replayer: Replayer, path: str) -> None:
    """``locations/{loc}/deletedservices/{name}``: create the service, then delete it."""
    parts = path.split("/")
    sub, location, name = parts[2], parts[-3], parts[-1]
    group = f"/subscriptions/{sub}/resourceGroups/{name}-rg"
    service = f"{group}/providers/Microsoft.ApiManagement/service/{name}"
    await replayer.seed(group)
    body = SEEDERS[f"{APIM}/service"](service)
    assert body is not None
    await replayer.seed(service, {**body, "location": location})
    response = await replayer.http.delete(service, params={"api-version": "2024-05-01"})
    if response.status_code not in (200, 202, 204):
        raise SeedError(f"deleting {service} answered {response.status_code}: {response.text[:300]}")
    await replayer._lro(response)


ASYNC_SEEDERS: dict[str, AsyncSeeder] = {
    f"{APIM}/locations/deletedservices": _soft_deleted_service,
}
API_VERSIONS: dict[str, str] = {
    "microsoft.resources/resourcegroups": RG_API,
    "microsoft.managedidentity/userassignedidentities": "2023-01-31",
    "microsoft.containerregistry/registries": "2023-07-01",
    "microsoft.containerregistry/registries/runs": "2019-06-01-preview",
    "microsoft.app/managedenvironments": "2024-03-01",
    "microsoft.app/containerapps": "2024-03-01",
    "microsoft.operationalinsights/workspaces": "2023-09-01",
    "microsoft.insights/components": "2020-02-02",
    "microsoft.storage/storageaccounts": "2023-05-01",
    "microsoft.storage/storageaccounts/tableservices": "2023-05-01",
    "microsoft.storage/storageaccounts/tableservices/tables": "2023-05-01",
    "microsoft.authorization/roleassignments": "2022-04-01",
}


def resource_type(path: str) -> str:
    """Lower-cased type of an ARM resource path (resource groups included)."""
    rtype = loader.resource_type_of(path).lower()
    if rtype:
        return rtype
    parts = [p.lower() for p in path.split("/") if p]
    return "microsoft.resources/resourcegroups" if len(parts) == 4 and parts[2] == "resourcegroups" else ""


def ancestors(path: str) -> list[str]:
    """Every resource path that must exist before ``path`` (outermost first, not itself)."""
    parts = [p for p in path.split("/") if p]
    lower = [p.lower() for p in parts]
    out: list[str] = []
    if len(parts) > 4 and lower[2] == "resourcegroups":
        out.append("/" + "/".join(parts[:4]))
    if "providers" in lower:
        i = len(lower) - 1 - lower[::-1].index("providers")
        rest = parts[i + 2 :]
        for n in range(2, len(rest), 2):
            if rest[n - 2].lower() != "locations":  # ``locations/{l}`` is a proxy, never created
                out.append("/" + "/".join([*parts[: i + 2], *rest[:n]]))
    return out


def arm_ids(node: Any) -> Iterator[str]:
    """Every ARM id a body names (string values and object keys)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if _ARM_ID.match(k):
                yield k
            yield from arm_ids(v)
    elif isinstance(node, list):
        for v in node:
            yield from arm_ids(v)
    elif isinstance(node, str) and _ARM_ID.match(node):
        yield node


def _apim_references(service_path: str, body: Any) -> Iterator[tuple[str, Doc]]:
    """APIM bodies name other entities without a full ARM id: ``/loggers/x`` (diagnostics),
    ``{{name}}`` in a policy document (a named value)."""
    if not service_path:
        return
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            m = _APIM_RELATIVE.match(node)
            if m:
                child = f"{service_path}/{m.group(1)}/{m.group(2)}"
                maker = SEEDERS.get(resource_type(child))
                seeded = maker(child) if maker is not None else None
                if seeded is not None:
                    yield child, seeded
            for name in _NAMED_VALUE.findall(node):
                if not name.startswith("Logger-Credentials"):
                    yield (
                        f"{service_path}/namedValues/{name}",
                        {"properties": {"displayName": name, "value": "example"}},
                    )


REFERENCES: list[Callable[[str, Any], Iterator[tuple[str, Doc]]]] = [_apim_references]


def _apim_implied(path: str) -> list[str]:
    """``apis/{api};rev={n}`` revises ``apis/{api}``: that API must exist first."""
    m = re.match(r"^(.*/apis/)([^/;]+);rev=[0-9]+$", path, re.IGNORECASE)
    return [m.group(1) + m.group(2)] if m else []


def _apim_linked(path: str) -> list[str]:
    """``products/{p}/apis/{a}``, ``products/{p}/groups/{g}``, ``groups/{g}/users/{u}`` link an
    entity of the service that must exist first."""
    m = re.match(r"^(.*)/(?:products|groups)/[^/]+/(apis|groups|users)/([^/]+)$", path, re.IGNORECASE)
    return [f"{m.group(1)}/{m.group(2)}/{m.group(3)}"] if m and service_path(path) == m.group(1) else []


# path -> resources that must exist before it although they are not its parents
IMPLIED: list[Callable[[str], list[str]]] = [_apim_implied, _apim_linked]


def service_path(path: str) -> str:
    m = re.match(
        r"^(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ApiManagement/service/[^/]+)",
        path,
        re.I,
    )
    return m.group(1) if m else ""


# ------------------------------------------------------------------------------------ replay
@dataclass
class Outcome:
    example: str
    status: int
    documented: tuple[int, ...]
    missing: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.status in self.documented and not self.missing

    def __str__(self) -> str:
        if self.error:
            return f"{self.example}: {self.error}"
        why = [] if self.status in self.documented else [f"status {self.status} not in {self.documented}"]
        if self.missing:
            why.append("missing keys: " + ", ".join(self.missing[:12]))
        return f"{self.example}: " + ("; ".join(why) or "ok")


class SeedError(Exception):
    pass


class Replayer:
    def __init__(self, emu: RunningEmulator, client: httpx.AsyncClient) -> None:
        self.emu = emu
        self.http = client

    async def _lro(self, response: httpx.Response) -> None:
        """Wait until a long-running operation the response started is done."""
        url = response.headers.get("azure-asyncoperation") or response.headers.get("location")
        if response.status_code not in (201, 202) or not url:
            return
        with anyio.fail_after(30):
            while True:
                polled = await self.http.get(url)
                status = (polled.json() if polled.content else {}).get("status")
                if polled.status_code != 202 and status not in ("InProgress", "Accepted", "Running"):
                    return
                await anyio.sleep(0.02)

    async def exists(self, path: str) -> bool:
        version = API_VERSIONS.get(resource_type(path), "2024-05-01")
        response = await self.http.get(path, params={"api-version": version})
        return response.status_code == 200

    async def seed(self, path: str, body: Doc | None = None, version: str | None = None) -> None:
        """Create ``path`` (and what it needs) unless it exists."""
        rtype = resource_type(path)
        for implied in (p for hook in IMPLIED for p in hook(path)):
            if not await self.exists(implied):
                await self.seed(implied)
        if rtype in ASYNC_SEEDERS:
            if not await self.exists(path):
                await ASYNC_SEEDERS[rtype](self, path)
            return
        for parent in ancestors(path):
            if not await self.exists(parent):
                await self.seed(parent)
        if body is None:
            if await self.exists(path):
                return
            maker = SEEDERS.get(rtype)
            body = maker(path) if maker is not None else None
            if body is None:
                raise SeedError(f"cannot create {path} first (no seeder for {rtype or 'it'})")
        for ref in list(arm_ids(body)):
            if ref.lower() != path.lower() and resource_type(ref) in SEEDERS and not await self.exists(ref):
                await self.seed(ref)
        for ref, ref_body in (r for hook in REFERENCES for r in hook(service_path(path), body)):
            if ref.lower() != path.lower() and not await self.exists(ref):
                await self.seed(ref, ref_body)
        version = version or API_VERSIONS.get(rtype, "2024-05-01")
        response = await self.http.put(path, params={"api-version": version}, json=body)
        if response.status_code not in (200, 201, 202):
            raise SeedError(f"creating {path} first answered {response.status_code}: {response.text[:300]}")
        await self._lro(response)

    async def seed_from_response(self, example: loader.Example, path: str, body: Doc) -> None:
        """Create the resource an example reads, from the example's own response body."""
        if resource_type(path) in ASYNC_SEEDERS:
            await self.seed(path)
            return
        put = loader.operation("put", path, example.operation.api_version)
        schema = put.body_schema() if put is not None else None
        keep = {
            k: v
            for k, v in body.items()
            if k in ("location", "tags", "sku", "identity", "properties", "zones", "kind")
        }
        if not isinstance(keep.get("tags", {}), dict):  # the Insights examples answer "tags": ""
            keep.pop("tags")
        if schema is not None:
            keep = strip_read_only(schema, keep)
        await self.seed(path, keep, example.operation.api_version)

    async def read_all(self, response: httpx.Response) -> Doc:
        """A list answer with every page's ``value`` (first page's other keys kept)."""
        first: Doc = response.json()
        items = list(first.get("value") or [])
        link = first.get("nextLink")
        while link:
            page = (await self.http.get(link)).json()
            items += page.get("value") or []
            link = page.get("nextLink")
        return {**first, "value": items}


def _schema_at(schema: Ref | None, key: str) -> Ref | None:
    """The schema of property ``key`` of an object schema (``allOf`` followed), if vendored."""
    if schema is None:
        return None
    try:
        ref = loader.resolve(schema.file, schema.node)
        for part in [ref, *(loader.resolve(ref.file, p) for p in ref.node.get("allOf") or [])]:
            props = part.node.get("properties") or {}
            if key in props:
                return Ref(part.file, props[key])
            deeper = _schema_at(Ref(part.file, part.node), key) if part is not ref else None
            if deeper is not None:
                return deeper
    except loader.ContractError:
        return None
    return None


def _is_map(schema: Ref | None) -> bool:
    """A free-form dictionary (``additionalProperties`` without ``properties``): its keys are
    data (tags, custom properties, credentials), not the contract."""
    if schema is None:
        return False
    try:
        node = loader.resolve(schema.file, schema.node).node
    except loader.ContractError:
        return False
    return "additionalProperties" in node and not node.get("properties")


def _items(schema: Ref | None) -> Ref | None:
    if schema is None:
        return None
    try:
        ref = loader.resolve(schema.file, schema.node)
    except loader.ContractError:
        return None
    items = ref.node.get("items")
    return Ref(ref.file, items) if isinstance(items, dict) else None


def _item_key(item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    return str(item.get("id") or item.get("name") or "").lower()


def missing_keys(expected: Any, actual: Any, schema: Ref | None = None, where: str = "") -> list[str]:
    """Paths of keys the example's response has and the emulator's lacks. ``schema`` (the
    operation's response schema) tells free-form maps apart: their keys are not compared."""
    out: list[str] = []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [where or "(body)"] if expected else []
        if _is_map(schema):
            return []
        for key, value in expected.items():
            here = f"{where}.{key}" if where else key
            if key not in actual:
                out.append(here)
            else:
                out += missing_keys(value, actual[key], _schema_at(schema, key), here)
    elif isinstance(expected, list) and expected and isinstance(expected[0], dict):
        if not isinstance(actual, list):
            return [where]
        by_key = {_item_key(a): a for a in actual if _item_key(a)}
        for i, item in enumerate(expected):
            key = _item_key(item)
            if key:
                other = by_key.get(key)
            else:  # no id or name: the item that lacks the fewest of the example's keys
                scored = [(len(missing_keys(item, a, _items(schema))), n) for n, a in enumerate(actual)]
                other = actual[min(scored)[1]] if scored else None
            label = f"{where}[{str(item.get('name') or i) if isinstance(item, dict) else i}]"
            if other is None:
                out.append(label)
            else:
                out += missing_keys(item, other, _items(schema), label)
    return out


def body_name(op: loader.Operation) -> str:
    """The name of the operation's body parameter: the key of the request body among the
    example's parameters (``parameters``, ``registry``, ``InsightProperties``, ``runRequest``...)."""
    for param in op.node.get("parameters") or []:
        if param.get("in") == "body" and param.get("name"):
            return str(param["name"])
    return "parameters"


def response_schema(op: loader.Operation, status: int) -> Ref | None:
    node = (op.node.get("responses") or {}).get(str(status)) or {}
    schema = node.get("schema")
    return Ref(op.file, schema) if isinstance(schema, dict) else None


async def replay(emu: RunningEmulator, example: loader.Example, suffix: str) -> Outcome:
    """Replay one example on a running emulator (see the module docstring)."""
    doc = example.load()
    names = Renamer(emu.subscription_id, suffix)
    params = names.value(dict(doc.get("parameters") or {}))
    responses = {int(code): r for code, r in (doc.get("responses") or {}).items() if str(code).isdigit()}
    responses = {code: names.value(r) for code, r in responses.items()}
    documented = tuple(sorted(responses))
    op = example.operation
    path = request_path(example, params, names)
    method = op.method.upper()
    outcome = Outcome(example.name, 0, documented)
    async with emu.http(headers=emu.arm_headers(), timeout=30) as client:
        replayer = Replayer(emu, client)
        try:
            collection = "value" in (responses.get(200, {}).get("body") or {}) and method == "GET"
            for parent in ancestors(path) if not collection else [*ancestors(path + "/x")]:
                if not await replayer.exists(parent):
                    await replayer.seed(parent)
            for implied in (p for hook in IMPLIED for p in hook(path)):
                if not await replayer.exists(implied):
                    await replayer.seed(implied)
            body = params.get(body_name(op))
            if isinstance(body, dict):
                for ref in list(arm_ids(body)):
                    if resource_type(ref) in SEEDERS and not await replayer.exists(ref):
                        await replayer.seed(ref)
                for ref, ref_body in (r for hook in REFERENCES for r in hook(service_path(path), body)):
                    if not await replayer.exists(ref):
                        await replayer.seed(ref, ref_body)
            if collection:
                for item in responses[200]["body"].get("value") or []:
                    if isinstance(item, dict) and item.get("id"):
                        await replayer.seed_from_response(example, str(item["id"]), item)
            elif method != "PUT":
                target = path if method != "POST" else path.rsplit("/", 1)[0]
                shown = next(
                    (
                        r.get("body")
                        for r in responses.values()
                        if isinstance(r.get("body"), dict)
                        and "id" in r["body"]
                        # an action answers something else than its resource (a run, a URL)
                        and (method != "POST" or str(r["body"]["id"]).lower() == target.lower())
                    ),
                    None,
                )
                if shown is not None:  # the resource as the example shows it
                    await replayer.seed_from_response(example, target, shown)
                elif not await replayer.exists(target):
                    await replayer.seed(target)
        except SeedError as exc:
            outcome.error = str(exc)
            return outcome
        headers = {"If-Match": str(params["If-Match"])} if "If-Match" in params else {}
        kwargs: dict[str, Any] = {"params": {"api-version": op.api_version}, "headers": headers}
        if body_name(op) in params:
            kwargs["content"] = json.dumps(params[body_name(op)])
            headers["Content-Type"] = "application/json"
        response = await client.request(method, path, **kwargs)
        outcome.status = response.status_code
        if response.status_code >= 400:
            outcome.error = f"{method} answered {response.status_code}: {response.text[:400]}"
            return outcome
        documented_headers = (responses.get(response.status_code) or {}).get("headers") or {}
        outcome.missing = [
            f"header {name}"
            for name in documented_headers
            if name.lower() not in _POLLING_HEADERS and name.lower() not in response.headers
        ]
        expected = (responses.get(response.status_code) or {}).get("body")
        if expected is not None:
            actual: Any = response.json() if response.content else None
            if isinstance(actual, dict) and "value" in actual and "nextLink" in actual:
                actual = await replayer.read_all(response)
            outcome.missing += missing_keys(expected, actual, response_schema(op, response.status_code))
        await replayer._lro(response)
    return outcome
