"""The desired resources of a lab as a dependency graph (pure).

Second step of a reconcile (after ``orchestrator.spec.load_lab``): every resource to provision
is a ``Node``; edges come from references (``{ref: ...}``: the node depends on the node that
provides the referenced output, see ``orchestrator.spec.refs``) and from structure (an API
depends on its service and backend, an operation on its API, a policy on its API/operation and
on the named values it uses, a federated credential and a service principal on their app, an
admin consent grant on the app's service principal, the
server on its identity, environment and registry, ...).

Addresses are ``<kind>.<key>`` (``entra_app.mcp``, ``api.mcp``, ``named_value.McpClientId``),
``<kind>.<parent>.<key>`` for children (``operation.mcp.prm``, ``federated_credential.mcp.msiAsFic``),
and ``<kind>.main`` for the lab's singletons (``apim_service.main``, ``resource_group.main``).

Containment (``Node.container``): the node whose delete takes this one with it, so that a
replacement of the container re-creates it too (``plan``: ``-/+`` "parent replaced"). A resource
group holds the lab's ARM resources; an APIM service its loggers, diagnostics, named values,
backends and APIs; an API its operations and policy; an operation its policy; a storage account
its table; a registry or storage account the role assignments scoped to it (extension
resources); an app registration its service principal and federated credentials (Graph deletes
them with it); a container apps environment its container apps. The container is always a
dependency too.

Late binding: references in an Entra app's redirect URIs do not order the graph (the app is
created first; the redirect URIs are set by an update once their providers exist — the
server's URL is only known after the server, and the server needs the app's client id).
They are listed in ``Node.deferred``. A cycle through the other edges is a ``SpecError``.
"""

from __future__ import annotations

import graphlib
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.kinds import Kind
from orchestrator.resolve import walk_refs
from orchestrator.spec.models import Lab, Policy
from orchestrator.spec.refs import provider_node
from orchestrator.spec.values import NamedValueToken, Ref
from orchestrator.spec.yamlsource import PathT, Positions, format_path

# Reference locations (first YAML keys below an entra app) that bind late.
_DEFERRED_FIELDS = frozenset({"spa", "web", "public_client"})


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    """A role granted to a lab principal on a lab resource (AcrPull on the registry for the
    server's identity; Storage Table Data Contributor on the client store for APIM's identity)."""

    role: str
    principal: str  # node address of the identity: managed_identity.<key> or apim_service.main
    scope: str  # node address of the resource the role is granted on


@dataclass(frozen=True, slots=True)
class Node:
    """One resource to provision.

    ``spec`` is its spec object (``EntraApp``, ``Api``, ``Policy``, ...; the target for the
    resource group); ``path`` is where that object is in lab.yaml; ``refs`` are the references
    inside it (YAML path, ``Ref``) that the provider resolves; ``deferred`` are providers of
    late-bound references (set by an update after they exist, never an ordering edge).
    """

    address: str
    kind: str
    depends_on: frozenset[str]
    spec: Any = field(compare=False)
    path: PathT = ()
    refs: tuple[tuple[PathT, Ref], ...] = ()
    deferred: frozenset[str] = frozenset()
    container: str | None = None  # the node whose delete takes this one with it (module doc)

    @property
    def key(self) -> str:
        """The address without its kind: ``mcp`` for ``api.mcp``, ``mcp.prm`` for ``operation.mcp.prm``."""
        return self.address.split(".", 1)[1]


@dataclass(frozen=True, slots=True)
class ResourceGraph:
    nodes: Mapping[str, Node]

    def __getitem__(self, address: str) -> Node:
        return self.nodes[address]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def of_kind(self, kind: str) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes.values() if n.kind == kind)

    def dependants(self, address: str) -> frozenset[str]:
        """Nodes that depend on ``address`` directly."""
        return frozenset(n.address for n in self.nodes.values() if address in n.depends_on)

    def topological_order(self) -> tuple[str, ...]:
        """Addresses, dependencies first; ties broken by address (deterministic)."""
        sorter = graphlib.TopologicalSorter({a: n.depends_on for a, n in self.nodes.items()})
        sorter.prepare()
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order += ready
            sorter.done(*ready)
        return tuple(order)

    def reverse(self) -> tuple[str, ...]:
        """Destroy order: dependants first."""
        return tuple(reversed(self.topological_order()))


def _tokens(policy: Policy) -> frozenset[str]:
    names: set[str] = set()
    for value in policy.variables.values():
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, NamedValueToken):
                names.add(item.named_value)
    return frozenset(names)


class _Builder:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def add(
        self,
        kind: Kind,
        key: str,
        spec: Any,
        path: PathT,
        needs: set[str] | None = None,
        skip: frozenset[str] = frozenset(),
        late: frozenset[str] = frozenset(),
        container: str | None = None,
    ) -> str:
        address = f"{kind}.{key}"
        refs: tuple[tuple[PathT, Ref], ...] = tuple(walk_refs(spec, path, skip))
        depends = set(needs or ()) | ({container} if container else set())
        deferred: set[str] = set()
        for ref_path, ref in refs:
            provider = provider_node(ref)
            if provider is None:
                continue
            # A reference to the node's own output (a backend whose url is its own url) can never
            # resolve: it stays an edge, so it is reported as a cycle of one at load time.
            if len(ref_path) > len(path) and ref_path[len(path)] in late:
                deferred.add(provider)
            else:
                depends.add(provider)
        self.nodes[address] = Node(
            address, kind, frozenset(depends), spec, path, refs, frozenset(deferred - depends), container
        )
        return address


def build_graph(lab: Lab) -> ResourceGraph:
    """Every resource of ``lab`` with its dependencies. Raises ``SpecError`` on a cycle."""
    graph = _build(lab)
    _raise_on_cycle(graph, lab._positions)
    return graph


def _build(lab: Lab) -> ResourceGraph:
    """Every node of ``lab``, area by area (each section adds its nodes and returns the addresses
    later sections depend on)."""
    b = _Builder()
    rg = b.add(Kind.RESOURCE_GROUP, "main", lab.target, ("target",))
    workspace, app_insights = _monitoring(b, lab, rg)
    for key, identity in lab.managed_identities.items():
        b.add(Kind.MANAGED_IDENTITY, key, identity, ("managed_identities", key), container=rg)
    _entra(b, lab)
    service = _apim_service(b, lab, rg, app_insights)
    _client_store(b, lab, rg, service)
    _apim_children(b, lab, service)
    _server(b, lab, rg, workspace)
    return ResourceGraph(MappingProxyType(dict(sorted(b.nodes.items()))))


def _monitoring(b: _Builder, lab: Lab, rg: str) -> tuple[str | None, str | None]:
    """Log Analytics workspace and Application Insights: (workspace, app_insights) addresses."""
    mon = lab.monitoring
    workspace = app_insights = None
    if mon.log_analytics is not None:
        workspace = b.add(
            Kind.LOG_ANALYTICS_WORKSPACE,
            "main",
            mon.log_analytics,
            ("monitoring", "log_analytics"),
            container=rg,
        )
    if mon.app_insights is not None:
        needs = {rg} | ({workspace} if workspace else set())
        app_insights = b.add(
            Kind.APP_INSIGHTS, "main", mon.app_insights, ("monitoring", "app_insights"), needs, container=rg
        )
    return workspace, app_insights


def _entra(b: _Builder, lab: Lab) -> None:
    """App registrations (redirect URIs late-bound), their service principals, FICs and admin
    consent grants (``permission_grant.<app>.<resource app id>``, on the service principal)."""
    for key, app in lab.entra.apps.items():
        where = ("entra", "apps", key)
        app_node = b.add(
            Kind.ENTRA_APP, key, app, where, skip=frozenset({"federated_credentials"}), late=_DEFERRED_FIELDS
        )
        if app.service_principal:
            skip = frozenset(type(app).model_fields)
            sp_node = b.add(Kind.SERVICE_PRINCIPAL, key, app, where, skip=skip, container=app_node)
            for i, access in enumerate(app.required_resource_access):
                if access.admin_consent:
                    b.add(
                        Kind.PERMISSION_GRANT,
                        f"{key}.{access.resource_app_id}",
                        access,
                        (*where, "required_resource_access", i),
                        container=sp_node,
                    )
        for i, fic in enumerate(app.federated_credentials):
            b.add(
                Kind.FEDERATED_CREDENTIAL,
                f"{key}.{fic.name}",
                fic,
                (*where, "federated_credentials", i),
                container=app_node,
            )


def _apim_service(b: _Builder, lab: Lab, rg: str, app_insights: str | None) -> str:
    """The APIM service, its logger (on App Insights) and diagnostic; the service's address."""
    mon = lab.monitoring
    service = b.add(Kind.APIM_SERVICE, "main", lab.apim.service, ("apim", "service"), container=rg)
    logger = None
    if mon.apim_logger is not None:
        needs = {service} | ({app_insights} if app_insights else set())
        logger = b.add(
            Kind.APIM_LOGGER, "main", mon.apim_logger, ("monitoring", "apim_logger"), needs, container=service
        )
    if mon.apim_diagnostic is not None:
        needs = {service} | ({logger} if logger else set())
        where: PathT = ("monitoring", "apim_diagnostic")
        b.add(Kind.APIM_DIAGNOSTIC, "main", mon.apim_diagnostic, where, needs, container=service)
    return service


def _client_store(b: _Builder, lab: Lab, rg: str, service: str) -> None:
    """Gateway mode: the storage account and table of client registrations, APIM's grant on it."""
    store = lab.authorization.client_store
    if store is None:
        return
    store_at: PathT = ("authorization", "client_store")
    account = b.add(Kind.STORAGE_ACCOUNT, "client_store", store, store_at, container=rg)
    b.add(Kind.STORAGE_TABLE, "client_store", store, store_at, container=account)
    grant = RoleAssignment("Storage Table Data Contributor", service, account)
    b.add(Kind.ROLE_ASSIGNMENT, "apim-client-store", grant, store_at, {service}, container=account)


def _apim_children(b: _Builder, lab: Lab, service: str) -> None:
    """Named values, backends, APIs, operations and their policies (a policy also depends on the
    named values its variables name)."""
    apim = lab.apim
    for name, nv in apim.named_values.items():
        needs = set()
        if nv.key_vault is not None and nv.key_vault.identity is not None:
            needs.add(Kind.MANAGED_IDENTITY.at(nv.key_vault.identity))
        b.add(Kind.NAMED_VALUE, name, nv, ("apim", "named_values", name), needs, container=service)
    for key, backend in apim.backends.items():
        b.add(Kind.BACKEND, key, backend, ("apim", "backends", key), container=service)
    for key, api in apim.apis.items():
        where = ("apim", "apis", key)
        needs = {Kind.BACKEND.at(api.backend)} if api.backend else set()
        skip = frozenset({"policy", "operations"})
        api_node = b.add(Kind.API, key, api, where, needs, skip=skip, container=service)
        if api.policy is not None:
            tokens = {Kind.NAMED_VALUE.at(t) for t in _tokens(api.policy)}
            b.add(Kind.API_POLICY, key, api.policy, (*where, "policy"), tokens, container=api_node)
        for op_key, op in api.operations.items():
            op_where = (*where, "operations", op_key)
            op_node = b.add(
                Kind.OPERATION,
                f"{key}.{op_key}",
                op,
                op_where,
                skip=frozenset({"policy"}),
                container=api_node,
            )
            if op.policy is not None:
                tokens = {Kind.NAMED_VALUE.at(t) for t in _tokens(op.policy)}
                b.add(
                    Kind.OPERATION_POLICY,
                    f"{key}.{op_key}",
                    op.policy,
                    (*op_where, "policy"),
                    tokens,
                    container=op_node,
                )
    _products(b, lab, service)


def _products(b: _Builder, lab: Lab, service: str) -> None:
    """Products (each needs the APIs it holds), their policies, and subscriptions (each needs its
    product or API)."""
    apim = lab.apim
    for key, product in apim.products.items():
        where = ("apim", "products", key)
        needs = {Kind.API.at(api) for api in product.apis}
        node = b.add(Kind.PRODUCT, key, product, where, needs, skip=frozenset({"policy"}), container=service)
        if product.policy is not None:
            tokens = {Kind.NAMED_VALUE.at(t) for t in _tokens(product.policy)}
            b.add(Kind.PRODUCT_POLICY, key, product.policy, (*where, "policy"), tokens, container=node)
    for key, sub in apim.subscriptions.items():
        scope = Kind.PRODUCT.at(sub.product) if sub.product else Kind.API.at(str(sub.api))
        b.add(Kind.SUBSCRIPTION, key, sub, ("apim", "subscriptions", key), {scope}, container=service)


def _server(b: _Builder, lab: Lab, rg: str, workspace: str | None) -> None:
    """The MCP server: registry (+ AcrPull for its identity), environment, container app; then
    every more server of ``servers`` in the same environment."""
    server = lab.server
    if server is None:
        return
    needs = {rg}
    identity_node = Kind.MANAGED_IDENTITY.at(server.identity) if server.identity else None
    if identity_node:
        needs.add(identity_node)
    registry: str | None = None
    if server.registry is not None:
        registry = b.add(
            Kind.CONTAINER_REGISTRY, "main", server.registry, ("server", "registry"), container=rg
        )
        needs.add(registry)
        if identity_node:
            grant = RoleAssignment("AcrPull", identity_node, registry)
            needs.add(
                b.add(
                    Kind.ROLE_ASSIGNMENT,
                    "server-acr-pull",
                    grant,
                    ("server", "registry"),
                    {identity_node},
                    container=registry,
                )
            )
    env_needs = {workspace} if workspace else set()
    environment = b.add(
        Kind.CONTAINER_ENVIRONMENT,
        "main",
        server.environment,
        ("server", "environment"),
        env_needs,
        container=rg,
    )
    skip = frozenset({"registry", "environment"})
    b.add(Kind.CONTAINER_APP, "server", server, ("server",), needs, skip=skip, container=environment)
    # More servers (``servers.<key>``): same environment and registry (spec.servers); an AcrPull
    # grant for each identity that has none yet.
    granted = {server.identity} if server.registry is not None else set()
    for key, other in lab.servers.items():
        other_needs = {rg}
        if other.identity:
            other_identity = Kind.MANAGED_IDENTITY.at(other.identity)
            other_needs.add(other_identity)
            if registry is not None and other.identity not in granted:
                granted.add(other.identity)
                other_needs.add(
                    b.add(
                        Kind.ROLE_ASSIGNMENT,
                        f"{key}-acr-pull",
                        RoleAssignment("AcrPull", other_identity, registry),
                        ("servers", key, "registry"),
                        {other_identity},
                        container=registry,
                    )
                )
        if registry is not None:
            other_needs.add(registry)
        b.add(Kind.CONTAINER_APP, key, other, ("servers", key), other_needs, skip=skip, container=environment)


def _find_cycle(graph: ResourceGraph) -> list[str] | None:
    sorter = graphlib.TopologicalSorter({a: n.depends_on for a, n in graph.nodes.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle: list[str] = list(exc.args[1])
        # graphlib lists it as x <- ... <- x (each depends on the next one reversed); make it
        # read "a -> b" = a depends on b, starting from the smallest address (deterministic).
        cycle = cycle[:-1]
        if len(cycle) > 1 and cycle[1] not in graph.nodes[cycle[0]].depends_on:
            cycle.reverse()
        start = cycle.index(min(cycle))
        cycle = cycle[start:] + cycle[:start]
        return [*cycle, cycle[0]]
    return None


def _raise_on_cycle(graph: ResourceGraph, positions: Positions | None) -> None:
    cycle = _find_cycle(graph)
    if cycle is not None:
        raise SpecError(_cycle_issue(graph, cycle, positions))


def _cycle_issue(graph: ResourceGraph, cycle: list[str], positions: Positions | None) -> list[SpecIssue]:
    text = " -> ".join(cycle)
    if len(cycle) == 2:  # [a, a]
        text = f"{cycle[0]} refers to its own output, which exists only once it is created"
    path: PathT = graph.nodes[cycle[0]].path
    for source, target in itertools.pairwise(cycle):
        refs = [p for p, r in graph.nodes[source].refs if provider_node(r) == target]
        if refs:
            path = refs[0]
            break
    path = (*path, "ref")
    line, column, file = 1, 1, "lab.yaml"
    if positions is not None:
        mark = positions.value(path)
        line, column, file = mark.line, mark.column, positions.file
    return [SpecIssue(file, line, column, format_path(path), f"reference cycle: {text}")]
