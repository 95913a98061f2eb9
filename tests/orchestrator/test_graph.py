"""The resource graph: nodes and edges of the default lab, deterministic order, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import SpecError
from orchestrator.graph import ResourceGraph, build_graph
from orchestrator.kinds import Kind
from orchestrator.spec import Lab, load_lab, parse_lab

ROOT = Path(__file__).resolve().parents[2]

BASE = """\
name: t
target: {kind: local}
apim:
  service: {name: apim-t, sku: BasicV2, publisher_email: a@example.com, publisher_name: T}
"""


# the shipped labs have no products: their kinds are built by test_products_make_their_nodes
PRODUCT_KINDS = {Kind.PRODUCT, Kind.PRODUCT_POLICY, Kind.SUBSCRIPTION}


@pytest.fixture(scope="module")
def default_graph() -> ResourceGraph:
    return build_graph(load_lab(ROOT / "lab.yaml", env={}))


def test_default_lab_nodes_and_kinds(default_graph: ResourceGraph) -> None:
    gateway = build_graph(load_lab(ROOT / "labs" / "gateway.yaml", env={}))
    assert {n.kind for n in default_graph} | {n.kind for n in gateway} == set(Kind) - PRODUCT_KINDS
    assert not default_graph.of_kind("storage_account")  # the client store is gateway mode's
    assert sorted(n.address for n in default_graph.of_kind("operation")) == [
        "operation.entra-metadata.entra",
        "operation.mcp-prm-dynamic-discovery.mcp",
        "operation.mcp.prm",
    ]
    assert default_graph["federated_credential.mcp.msiAsFic"].key == "mcp.msiAsFic"


@pytest.mark.parametrize(
    ("address", "depends_on"),
    [
        ("resource_group.main", set()),
        ("apim_service.main", {"resource_group.main"}),
        ("entra_app.mcp", {"apim_service.main"}),  # identifier URI = the MCP API URL
        ("service_principal.mcp", {"entra_app.mcp"}),
        ("permission_grant.mcp.00000003-0000-0000-c000-000000000000", {"service_principal.mcp"}),
        ("federated_credential.mcp.msiAsFic", {"entra_app.mcp", "managed_identity.mcp-server"}),
        ("named_value.McpClientId", {"apim_service.main", "entra_app.mcp"}),
        ("named_value.McpApiPath", {"apim_service.main"}),
        ("backend.mcp-backend", {"apim_service.main", "container_app.server"}),
        ("api.mcp", {"apim_service.main", "backend.mcp-backend"}),
        (
            "api_policy.mcp",
            {
                "api.mcp",
                "apim_service.main",
                "entra_app.mcp",
                "named_value.McpClientId",
                "named_value.McpTenantId",
            },
        ),
        ("operation.mcp.prm", {"api.mcp"}),
        ("operation_policy.mcp.prm", {"operation.mcp.prm", "apim_service.main", "entra_app.mcp"}),
        ("app_insights.main", {"resource_group.main", "log_analytics_workspace.main"}),
        ("apim_logger.main", {"apim_service.main", "app_insights.main"}),
        ("apim_diagnostic.main", {"apim_service.main", "apim_logger.main"}),
        ("role_assignment.server-acr-pull", {"container_registry.main", "managed_identity.mcp-server"}),
        ("container_environment.main", {"resource_group.main", "log_analytics_workspace.main"}),
        (
            "container_app.server",
            {
                "resource_group.main",
                "container_environment.main",
                "container_registry.main",
                "role_assignment.server-acr-pull",
                "managed_identity.mcp-server",
                "entra_app.mcp",
            },
        ),
    ],
)
def test_default_lab_edges(default_graph: ResourceGraph, address: str, depends_on: set[str]) -> None:
    assert default_graph[address].depends_on == depends_on


def test_redirect_uri_references_bind_late(default_graph: ResourceGraph) -> None:
    # The server needs the app's client id; the app's SPA redirect needs the server's URL.
    app = default_graph["entra_app.mcp"]
    assert app.deferred == {"container_app.server"}
    assert "container_app.server" not in app.depends_on
    assert all(not n.deferred for n in default_graph if n.address != "entra_app.mcp")


def test_nodes_carry_their_spec_and_references(default_graph: ResourceGraph) -> None:
    app_node = default_graph["entra_app.mcp"]
    refs = {(".".join(map(str, path)), ref.ref) for path, ref in app_node.refs}
    assert ("entra.apps.mcp.identifier_uris.0", "apim.apis.mcp.url") in refs
    assert ("entra.apps.mcp.spa.redirect_uris.0", "server.url") in refs
    # the FIC's references belong to the FIC node, not the app node
    assert not any(r.ref.startswith("managed_identities") for _, r in app_node.refs)
    assert default_graph["api.mcp"].spec.path == "mcp"
    assert default_graph["api_policy.mcp"].spec.template == "mcp-api-entra"


def test_topological_order_is_complete_respects_edges_and_is_deterministic(
    default_graph: ResourceGraph,
) -> None:
    order = default_graph.topological_order()
    assert sorted(order) == sorted(default_graph.nodes)
    position = {address: i for i, address in enumerate(order)}
    for node in default_graph:
        assert all(position[dep] < position[node.address] for dep in node.depends_on)
    again = build_graph(load_lab(ROOT / "lab.yaml", env={})).topological_order()
    assert again == order
    assert default_graph.reverse() == tuple(reversed(order))


def test_order_of_a_small_lab_breaks_ties_by_address() -> None:
    lab, _ = parse_lab(
        BASE
        + """\
  named_values:
    Zeta: {value: z}
    Alpha: {value: {ref: apim.backends.be.url}}
  backends:
    be: {url: "https://be.example.com"}
  apis:
    api: {display_name: A, path: a, backend: be, operations: {op: {method: GET, url_template: /, display_name: O}}}
""",
        env={},
    )
    assert build_graph(lab).topological_order() == (
        "resource_group.main",
        "apim_service.main",
        "backend.be",
        "named_value.Zeta",
        "api.api",
        "named_value.Alpha",
        "operation.api.op",
    )


def test_dependants(default_graph: ResourceGraph) -> None:
    assert default_graph.dependants("entra_app.mcp") == {
        "service_principal.mcp",
        "federated_credential.mcp.msiAsFic",
        "named_value.McpClientId",
        "container_app.server",
        "api_policy.mcp",
        "operation_policy.mcp.prm",
        "operation_policy.mcp-prm-dynamic-discovery.mcp",
        "operation_policy.entra-metadata.entra",
    }


CYCLE = (
    BASE
    + """\
  backends:
    be: {url: {ref: server.url}}
entra:
  apps:
    app: {unique_name: app, display_name: App, identifier_uris: [{ref: apim.backends.be.url}]}
server:
  name: srv
  image: example.com/srv:1
  environment: {name: cae-t}
  env:
    CLIENT: {ref: entra.apps.app.client_id}
"""
)


def test_a_cycle_is_a_spec_error_naming_it_at_one_of_its_references() -> None:
    with pytest.raises(SpecError) as caught:
        build_graph(parse_lab(CYCLE, env={})[0])
    (issue,) = caught.value.issues
    assert issue.message == (
        "reference cycle: backend.be -> container_app.server -> entra_app.app -> backend.be"
    )
    assert (issue.line, issue.column, issue.path) == (6, 21, "apim.backends.be.url.ref")


def test_build_graph_refuses_a_cycle_in_a_lab_built_in_code() -> None:
    data = {
        "name": "t",
        "target": {"kind": "local"},
        "apim": {
            "service": {
                "name": "apim-t",
                "sku": "BasicV2",
                "publisher_email": "a@example.com",
                "publisher_name": "T",
            },
            "backends": {"be": {"url": {"ref": "server.url"}}},
        },
        "server": {
            "name": "srv",
            "image": "example.com/srv:1",
            "environment": {"name": "cae-t"},
            "env": {"BACKEND": {"ref": "apim.backends.be.url"}},
        },
    }
    lab = Lab.model_validate(data)
    with pytest.raises(
        SpecError, match=r"reference cycle: backend\.be -> container_app\.server -> backend\.be"
    ):
        build_graph(lab)


def test_gateway_lab_client_store_nodes() -> None:
    graph = build_graph(load_lab(ROOT / "labs" / "gateway.yaml", env={}))
    assert graph["storage_account.client_store"].depends_on == {"resource_group.main"}
    assert graph["storage_table.client_store"].depends_on == {"storage_account.client_store"}
    grant = graph["role_assignment.apim-client-store"]
    assert grant.depends_on == {"storage_account.client_store", "apim_service.main"}
    assert (grant.spec.role, grant.spec.principal, grant.spec.scope) == (
        "Storage Table Data Contributor",
        "apim_service.main",
        "storage_account.client_store",
    )
    # the OAuth policy reads the table URL: it waits for the table
    assert "storage_table.client_store" in graph["api_policy.oauth"].depends_on
    assert not any(n.address.startswith("named_value.GatewayAuthKey") for n in graph)


def test_products_make_their_nodes() -> None:
    text = (
        BASE
        + """  named_values:
    Limit: {value: "10"}
  apis:
    orders: {display_name: Orders, path: orders, subscription_required: true}
    stock: {display_name: Stock, path: stock, subscription_required: true}
  products:
    gold:
      display_name: Gold
      apis: [orders, stock]
      policy: {template: product-quota, variables: {calls: 10, renewal_period: 60}}
  subscriptions:
    buyer: {display_name: Buyer, product: gold}
    stock-only: {display_name: Stock only, api: stock}
"""
    )
    graph = build_graph(parse_lab(text, env={})[0])
    assert {n.kind for n in graph} >= PRODUCT_KINDS
    assert graph["product.gold"].depends_on == {"apim_service.main", "api.orders", "api.stock"}
    assert graph["product_policy.gold"].depends_on == {"product.gold"}
    assert graph["subscription.buyer"].depends_on == {"apim_service.main", "product.gold"}
    assert graph["subscription.stock-only"].depends_on == {"apim_service.main", "api.stock"}
    order = graph.topological_order()
    assert order.index("api.orders") < order.index("product.gold") < order.index("subscription.buyer")


def test_two_servers_share_the_environment_and_registry() -> None:
    """labs/two-servers.yaml: a second container app in the one environment, pulling from the one
    registry with the same identity (one AcrPull); each MCP API with its derived PRM operations."""
    graph = build_graph(load_lab(ROOT / "labs" / "two-servers.yaml", env={}))
    apps = {n.address: n for n in graph.of_kind("container_app")}
    assert sorted(apps) == ["container_app.second", "container_app.server"]
    assert apps["container_app.second"].container == "container_environment.main"
    assert {
        "container_registry.main",
        "managed_identity.mcp-server",
        "role_assignment.server-acr-pull",
    } & set(apps["container_app.second"].depends_on) == {
        "container_registry.main",
        "managed_identity.mcp-server",
    }
    assert [n.address for n in graph.of_kind("role_assignment")] == ["role_assignment.server-acr-pull"]
    assert "container_app.second" in graph["backend.mcp2-backend"].depends_on
    assert "container_app.second" in graph["entra_app.mcp2"].deferred  # its redirect URI binds late
    assert sorted(n.address for n in graph.of_kind("operation")) == [
        "operation.entra-metadata.entra",
        "operation.mcp-prm-dynamic-discovery.mcp",
        "operation.mcp-prm-dynamic-discovery.mcp2",
        "operation.mcp.prm",
        "operation.mcp2.prm",
    ]
    assert {n.address for n in graph.of_kind("api_policy")} == {"api_policy.mcp", "api_policy.mcp2"}


def test_a_second_servers_own_identity_gets_its_own_acr_pull(tmp_path: Path) -> None:
    text = (ROOT / "labs" / "two-servers.yaml").read_text()
    text = text.replace(
        "    identity: mcp-server\n    env:\n      AZURE_TENANT_ID",
        "    identity: two\n    env:\n      AZURE_TENANT_ID",
        1,
    )
    text = text.replace("managed_identities:\n", "managed_identities:\n  two:\n    name: id-two\n", 1)
    lab, _ = parse_lab(text, base_dir=ROOT / "labs")
    graph = build_graph(lab)
    grant = graph["role_assignment.second-acr-pull"]
    assert grant.container == "container_registry.main"
    assert "role_assignment.second-acr-pull" in graph["container_app.second"].depends_on
