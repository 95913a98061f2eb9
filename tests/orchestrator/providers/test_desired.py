"""desired() and diff() of every kind, pure: the default lab through the real graph, the write
body read back as the target answers it (server-filled fields added) must diff to nothing, and
one edited field must diff to exactly that field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.graph import Node, build_graph
from orchestrator.providers import providers_for
from orchestrator.providers.base import graph_mark, unflatten
from orchestrator.resolve import contains_unknown
from orchestrator.resource import UNKNOWN, Actual, Desired
from orchestrator.spec import load_lab
from orchestrator.spec.defaults import with_global_names
from orchestrator.spec.models import Lab, NamedValue
from orchestrator.target import Clients, TargetSettings

ROOT = Path(__file__).resolve().parents[3]
SUB = "00000000-0000-0000-0000-0000000000aa"
TENANT = "11111111-1111-1111-1111-111111111111"
# the global names the engine derives for SUB (spec.defaults): apim-<lab>-<uniq>, st<lab><uniq>
UNIQ = "wywzj6nqgr3cr"
GATEWAY = f"https://apim-mcp-prm-oauth-{UNIQ}.azure-api.net"

RESOLVED: dict[str, Any] = {
    "target.tenant_id": TENANT,
    "target.issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
    "target.authority": "https://login.microsoftonline.com",
    "target.graph_endpoint": "https://graph.microsoft.com",
    "entra.apps.mcp.client_id": "22222222-2222-2222-2222-222222222222",
    "entra.apps.mcp.identifier_uri": f"{GATEWAY}/mcp",
    "entra.apps.mcp.scope": f"{GATEWAY}/mcp/user_impersonate",
    "apim.service.gateway_url": GATEWAY,
    "apim.apis.mcp.url": f"{GATEWAY}/mcp",
    "apim.apis.mcp.prm_url": f"{GATEWAY}/.well-known/oauth-protected-resource/mcp",
    "server.url": "https://mcp-prm-oauth-server.example.net",
    "managed_identities.mcp-server.client_id": "33333333-3333-3333-3333-333333333333",
    "managed_identities.mcp-server.principal_id": "44444444-4444-4444-4444-444444444444",
    # gateway mode (labs/gateway.yaml)
    "apim.service.principal_id": "55555555-5555-5555-5555-555555555555",
    "apim.apis.oauth.url": f"{GATEWAY}/oauth",
    "authorization.client_store.table_url": f"https://stmcpprmoau{UNIQ}.table.core.windows.net/mcpclients",
}


@pytest.fixture(scope="module", params=["lab.yaml", "labs/gateway.yaml"])
def lab(request: pytest.FixtureRequest) -> Lab:
    return with_global_names(load_lab(ROOT / str(request.param), env={}), SUB)


@pytest.fixture(scope="module")
def nodes(lab: Lab) -> dict[str, Node]:
    return dict(build_graph(lab).nodes)


@pytest.fixture(scope="module")
def providers(lab: Lab) -> dict[str, Any]:
    settings = TargetSettings("local", SUB, TENANT, "ignored", "ignored")
    return providers_for(Clients(settings, apim=None, resources=None, graph=None), lab)


def _resolved_for(node: Node, values: dict[str, Any]) -> dict[str, Any]:
    return {ref.ref: values.get(ref.ref, UNKNOWN) for _, ref in node.refs}


def _desired(providers: dict[str, Any], node: Node, values: dict[str, Any] = RESOLVED) -> Desired:
    desired: Desired = providers[node.kind].desired(node.address, node.spec, _resolved_for(node, values))
    return desired


def test_every_node_has_a_provider_and_a_desired_state(
    nodes: dict[str, Node], providers: dict[str, Any]
) -> None:
    for node in nodes.values():
        desired = _desired(providers, node)
        assert desired.address == node.address
        assert desired.kind == node.kind
        assert desired.name
        leftover = [p for p, v in desired.properties.items() if not p.startswith("@") and contains_unknown(v)]
        assert leftover == [], node.address


EXPECTED_NAMES = {
    "resource_group.main": "lab-mcp-prm-oauth",
    "apim_service.main": f"apim-mcp-prm-oauth-{UNIQ}",
    "api.mcp": "mcp",
    "operation.mcp.prm": "prm",
    "api_policy.mcp": "policy",
    "named_value.McpClientId": "McpClientId",
    "backend.mcp-backend": "mcp-backend",
    "entra_app.mcp": "mcp-prm-oauth-app",
    "service_principal.mcp": "mcp-prm-oauth-app",
    "federated_credential.mcp.msiAsFic": "msiAsFic",
    "managed_identity.mcp-server": "id-mcp-prm-oauth-server",
    "container_app.server": "mcp-prm-oauth-server",
    "apim_diagnostic.main": "applicationinsights",
    "apim_logger.main": "appinsights-logger",
}


@pytest.mark.parametrize(("address", "name"), sorted(EXPECTED_NAMES.items()))
def test_azure_names(nodes: dict[str, Node], providers: dict[str, Any], address: str, name: str) -> None:
    assert _desired(providers, nodes[address]).name == name


def test_unresolved_references_stay_unknown(nodes: dict[str, Node], providers: dict[str, Any]) -> None:
    nv = _desired(providers, nodes["named_value.McpClientId"], {})
    assert nv.properties["properties.value"] is UNKNOWN
    policy = _desired(providers, nodes["api_policy.mcp"], {})
    assert policy.properties["properties.value"] is UNKNOWN
    fic = _desired(providers, nodes["federated_credential.mcp.msiAsFic"], {})
    assert fic.properties["subject"] is UNKNOWN
    app = _desired(providers, nodes["entra_app.mcp"], {})
    assert app.properties["identifierUris"] == [UNKNOWN]


# Children whose owner is their parent's owner (no field to carry a mark of their own).
INHERITED = {
    "federated_credential",
    "api_policy",
    "operation_policy",
    "apim_diagnostic",
    "storage_table",
    "permission_grant",  # a grant has no tags: its client service principal's owner owns it
}
MARKS = ('"prmlab-lab": "mcp-prm-oauth"', "prmlab-lab:mcp-prm-oauth", "prmlab-lab-mcp-prm-oauth")


def test_ownership_marks_are_in_every_write(nodes: dict[str, Node], providers: dict[str, Any]) -> None:
    for node in nodes.values():
        body = json.dumps(unflatten(_desired(providers, node).properties), default=str)
        assert any(mark in body for mark in MARKS) != (node.kind in INHERITED), node.address


# ------------------------------------------------------------------ write body -> read back -> no diff


def _apim_model(kind: str) -> Any:
    from azure.mgmt.apimanagement import models as m

    return {
        "named_value": m.NamedValueContract,
        "backend": m.BackendContract,
        "api": m.ApiContract,
        "operation": m.OperationContract,
        "api_policy": m.PolicyContract,
        "operation_policy": m.PolicyContract,
        "apim_logger": m.LoggerContract,
        "apim_diagnostic": m.DiagnosticContract,
    }[kind]


def _server_echo(provider: Any, desired: Desired) -> Actual:
    """What the target returns after a PUT of ``desired``'s body, plus fields it fills itself."""
    kind = desired.kind
    if kind in ("api", "operation", "named_value", "backend", "apim_logger", "apim_diagnostic"):
        body = provider.body(desired) if hasattr(provider, "body") else unflatten(desired.properties)
        if kind in ("api", "operation"):
            body = unflatten({k: v for k, v in desired.properties.items() if k.startswith("properties.")})
        body = json.loads(json.dumps(body, default=lambda s: s.reveal()))
        props = body["properties"]
        if kind == "named_value" and props.get("secret"):
            props.pop("value", None)  # hidden on GET
        props.setdefault("isCurrent", True)  # server-filled
        rg, service = desired.properties["@rg"], desired.properties["@service"]
        echoed = {"id": f"/x/{desired.name}", "name": desired.name, "properties": props}
        # APIs and operations are read as JSON (``arm_raw``: the MCP API's fields are not in the
        # SDK's models); the other kinds through the SDK's models
        if kind == "api":
            return provider.actual_from(echoed, rg, service, GATEWAY)  # type: ignore[no-any-return]
        if kind == "operation":
            return provider.actual_from(  # type: ignore[no-any-return]
                echoed, rg, service, desired.properties["@api"], desired.properties.get("@api_version")
            )
        model = _apim_model(kind).deserialize(echoed)
        if kind == "apim_diagnostic":
            provider._owned_loggers = {(service.lower(), "appinsights-logger")}
        return provider.actual_from(model, rg, service, "mcp-prm-oauth")  # type: ignore[no-any-return]
    if kind in ("api_policy", "operation_policy"):
        xml = desired.properties["properties.value"]
        reformatted = xml.replace("<base />", "<base></base>").replace("><", ">\n\t<")
        model = _apim_model(kind).deserialize(
            {"name": "policy", "properties": {"value": reformatted, "format": "rawxml"}}
        )
        loc = {k: v for k, v in desired.properties.items() if k.startswith("@")}
        return provider._actual(model, loc, True)  # type: ignore[no-any-return]
    if kind == "apim_service":
        from azure.mgmt.apimanagement import models as m

        body = unflatten(desired.properties)
        body["properties"].update({"gatewayUrl": GATEWAY, "provisioningState": "Succeeded"})
        body["identity"]["principalId"] = "p"
        body["id"] = (
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/{desired.name}"
        )
        body["name"] = desired.name
        body["location"] = "UK West"  # ARM answers the display form
        res = m.ApiManagementServiceResource.deserialize(body)
        return provider._actual(res, "mcp-prm-oauth")[1]  # type: ignore[no-any-return]
    if kind == "entra_app":
        from orchestrator.providers.entra import application_model

        app = application_model(desired.properties)
        app.app_id, app.id, app.unique_name = "cid", "oid", desired.name
        app.tags = [*app.tags, "someone-elses-tag"]
        app.spa.redirect_uris = list(reversed(app.spa.redirect_uris or []))
        return provider._actual(app)  # type: ignore[no-any-return]
    if kind == "service_principal":
        sp = SimpleNamespace(id="spid", app_id="cid", tags=[graph_mark("mcp-prm-oauth")])
        return provider._actual(sp, desired.name)  # type: ignore[no-any-return]
    if kind == "permission_grant":
        p = desired.properties
        scopes = {"e1fe6dd8-ba31-4d61-89e7-88639da4683d": "User.Read"}
        resource = SimpleNamespace(
            app_id=p["@resource_app_id"],
            display_name="Microsoft Graph",
            oauth2_permission_scopes=[SimpleNamespace(id=i, value=v) for i, v in scopes.items()],
        )
        grant = SimpleNamespace(
            id="g",
            consent_type="AllPrincipals",
            scope=provider._values_of(resource, list(p["scopes"]), desired.address),
        )
        return provider._actual(grant, p["@app"], resource)  # type: ignore[no-any-return]
    if kind == "federated_credential":
        p = desired.properties
        fic = SimpleNamespace(
            id="f",
            name=desired.name,
            issuer=p["issuer"],
            subject=p["subject"],
            audiences=p["audiences"],
            description=None,
        )
        return provider._actual(fic, p["@app"], "oid", True)  # type: ignore[no-any-return]
    if kind == "resource_group":
        group = SimpleNamespace(
            name=desired.name,
            id="/subscriptions/x/resourceGroups/" + desired.name,
            location="UK West",
            tags=desired.properties["tags"],
        )
        return provider._actual(group)  # type: ignore[no-any-return]
    if kind == "role_assignment":
        body = unflatten(desired.properties)
        body["properties"]["principalId"] = "p"
        body.update(id=desired.properties["@id"], name=desired.name)
        return provider._actual(body)  # type: ignore[no-any-return]
    if kind == "storage_table":
        table = {
            "id": desired.properties["@id"],
            "name": desired.name,
            "properties": {"tableName": desired.name},
        }
        return provider._actual(table, True)  # type: ignore[no-any-return]
    # generic ARM
    from azure.mgmt.resource.resources.models import GenericResource

    body = provider.body(desired)
    body = json.loads(json.dumps(body, default=lambda s: s.reveal()))
    for secret in ((body.get("properties") or {}).get("configuration") or {}).get("secrets") or []:
        secret.pop("value")  # ARM never returns secret values
    body.update(id=desired.properties["@id"], name=desired.name, type=provider.spec_kind.resource_type)
    body["location"] = "UK West"
    body.setdefault("properties", {})["provisioningState"] = "Succeeded"
    if "identity" in body:
        for value in body["identity"]["userAssignedIdentities"].values():
            value.update(principalId="p", clientId="c")
    return provider._actual(GenericResource(body))  # type: ignore[no-any-return]


def test_read_back_of_every_write_diffs_to_nothing(nodes: dict[str, Node], providers: dict[str, Any]) -> None:
    for node in nodes.values():
        provider = providers[node.kind]
        desired = _desired(providers, node)
        actual = _server_echo(provider, desired)
        assert actual.owned, node.address
        assert provider.diff(desired, actual) == (), node.address


EDITS = [
    (
        "named_value.McpClientId",
        "entra.apps.mcp.client_id",
        "99999999-9999-9999-9999-999999999999",
        ["properties.value"],
    ),
    ("api_policy.mcp", "entra.apps.mcp.scope", "api://other/user_impersonate", ["properties.value"]),
    ("operation_policy.mcp.prm", "apim.apis.mcp.url", "https://other.example/mcp", ["properties.value"]),
    ("backend.mcp-backend", "server.url", "https://elsewhere.example", ["properties.url"]),
    ("federated_credential.mcp.msiAsFic", "managed_identities.mcp-server.principal_id", "5", ["subject"]),
    ("container_app.server", "entra.apps.mcp.client_id", "7", ["properties.template.containers"]),
    ("entra_app.mcp", "server.url", "https://moved.example", ["spa.redirectUris"]),
]


@pytest.mark.parametrize(("address", "ref", "value", "paths"), EDITS, ids=[e[0] for e in EDITS])
def test_one_edit_one_field_change(
    nodes: dict[str, Node], providers: dict[str, Any], address: str, ref: str, value: str, paths: list[str]
) -> None:
    node = nodes[address]
    provider = providers[node.kind]
    actual = _server_echo(provider, _desired(providers, node))
    edited = _desired(providers, node, {**RESOLVED, ref: value})
    changes = provider.diff(edited, actual)
    assert [c.path for c in changes] == paths
    assert not any(c.forces_replacement for c in changes)


def test_unowned_same_named_resources_are_reported_unowned(
    nodes: dict[str, Node], providers: dict[str, Any]
) -> None:
    from azure.mgmt.apimanagement import models as m

    api = {"id": "/x/mcp", "name": "mcp", "properties": {"path": "mcp", "displayName": "theirs"}}
    assert not providers["api"].actual_from(api, "rg", "svc", GATEWAY).owned
    other_lab = m.NamedValueContract.deserialize(
        {"name": "McpClientId", "properties": {"tags": ["prmlab-lab-otherlab"]}}
    )
    assert not providers["named_value"].actual_from(other_lab, "rg", "svc", "mcp-prm-oauth").owned
    from orchestrator.providers.entra import application_model

    desired = _desired(providers, nodes["entra_app.mcp"])
    app = application_model(desired.properties)
    app.tags, app.app_id, app.id, app.unique_name = [], "c", "o", desired.name
    assert not providers["entra_app"]._actual(app).owned


def test_secret_named_value_is_compared_by_digest_and_never_shown(providers: dict[str, Any]) -> None:
    provider = providers["named_value"]
    spec = NamedValue.model_validate({"value": "s3cret-v1", "secret": True})
    desired = provider.desired("named_value.Key", spec, {})
    actual = _server_echo(provider, desired)
    assert actual.properties["properties.value"] is None  # never read back
    assert provider.diff(desired, actual) == ()
    rotated = provider.desired(
        "named_value.Key", NamedValue.model_validate({"value": "s3cret-v2", "secret": True}), {}
    )
    changes = provider.diff(rotated, actual)
    assert [c.path for c in changes] == ["properties.value"]
    shown = repr(changes) + str(changes[0].old) + str(changes[0].new)
    assert "s3cret" not in shown
    assert "s3cret" not in json.dumps(unflatten(dict(actual.properties)), default=repr)


def test_policy_reformatting_is_not_drift(nodes: dict[str, Node], providers: dict[str, Any]) -> None:
    node = nodes["operation_policy.mcp-prm-dynamic-discovery.mcp"]
    provider = providers[node.kind]
    desired = _desired(providers, node)
    actual = _server_echo(provider, desired)
    assert actual.properties["properties.value"] != desired.properties["properties.value"]
    assert provider.diff(desired, actual) == ()


def test_adopting_an_unowned_resource_adds_the_mark(
    nodes: dict[str, Node], providers: dict[str, Any]
) -> None:
    provider = providers["backend"]
    desired = _desired(providers, nodes["backend.mcp-backend"])
    actual = _server_echo(provider, desired)
    theirs = dataclasses.replace(
        actual,
        owned=False,
        properties={**actual.properties, "properties.description": "The MCP server (container app)"},
    )
    assert [c.path for c in provider.diff(desired, theirs)] == ["properties.description"]


def test_key_vault_named_value_is_a_secret_reference(providers: dict[str, Any]) -> None:
    spec = NamedValue.model_validate(
        {"key_vault": {"secret_id": "https://kv.vault.azure.net/secrets/x", "identity": "mcp-server"}}
    )
    desired = providers["named_value"].desired("named_value.FromVault", spec, {})
    props = desired.properties
    assert props["properties.secret"] is True
    assert props["properties.keyVault.secretIdentifier"] == "https://kv.vault.azure.net/secrets/x"
    assert props["@kv_identity_id"].endswith("/userAssignedIdentities/id-mcp-prm-oauth-server")
    assert "properties.value" not in props


def test_synthetic_addresses_have_the_graph_shape() -> None:
    from orchestrator.providers.common import synthetic_address

    def actual(name: str, **loc: str) -> Actual:
        return Actual("", "x", name, {f"@{k}": v for k, v in loc.items()}, {}, True)

    assert synthetic_address("api", actual("old-api", service="svc")) == "api.old-api"
    assert synthetic_address("operation", actual("op", service="svc", api="mcp")) == "operation.mcp.op"
    assert (
        synthetic_address("operation_policy", actual("policy", api="mcp", operation="op"))
        == "operation_policy.mcp.op"
    )
    assert synthetic_address("api_policy", actual("policy", service="svc", api="mcp")) == "api_policy.mcp"
    assert (
        synthetic_address("federated_credential", actual("fic", app="app-1"))
        == "federated_credential.app-1.fic"
    )


def test_arm_enum_casing_is_not_drift(nodes: dict[str, Node], providers: dict[str, Any]) -> None:
    for address, path, echoed in [
        ("log_analytics_workspace.main", "properties.sku.name", "pergb2018"),
        ("container_app.server", "properties.configuration.ingress.transport", "Auto"),
        ("app_insights.main", "kind", "WEB"),
    ]:
        node = nodes[address]
        provider = providers[node.kind]
        desired = _desired(providers, node)
        actual = _server_echo(provider, desired)
        recased = dataclasses.replace(actual, properties={**actual.properties, path: echoed})
        assert provider.diff(desired, recased) == (), address
        changed = dataclasses.replace(actual, properties={**actual.properties, path: "Other"})
        assert [c.path for c in provider.diff(desired, changed)] == [path], address


@pytest.mark.parametrize(
    ("old", "new", "replaced"), [("StandardV2", "BasicV2", False), ("Developer", "BasicV2", True)]
)
def test_a_tier_change_is_in_place_or_a_replacement_as_azure_allows(
    nodes: dict[str, Node], providers: dict[str, Any], old: str, new: str, replaced: bool
) -> None:
    node = nodes["apim_service.main"]
    provider = providers[node.kind]
    desired = _desired(providers, node)
    actual = _server_echo(provider, desired)
    actual = dataclasses.replace(actual, properties={**actual.properties, "sku.name": old})
    edited = dataclasses.replace(desired, properties={**desired.properties, "sku.name": new})
    changes = provider.diff(edited, actual)
    assert [(c.path, c.forces_replacement) for c in changes] == [("sku.name", replaced)]
    assert ("classic and v2" in changes[0].why) is replaced


def test_the_servers_required_scope_comes_from_the_lab(
    lab: Lab, nodes: dict[str, Node], providers: dict[str, Any]
) -> None:
    """REQUIRED_SCOPE is set from the app registration's scope (never the server's constant); a
    renamed scope changes the container app's environment in the same plan."""
    from orchestrator.providers.containers import required_scope

    assert lab.server is not None
    assert required_scope(lab, lab.server) == "user_impersonate"
    desired = _desired(providers, nodes["container_app.server"])
    env = {e["name"]: e.get("value") for e in desired.properties["properties.template.containers"][0]["env"]}
    assert env["REQUIRED_SCOPE"] == "user_impersonate"
    app = lab.entra.apps["mcp"]
    renamed = app.model_copy(update={"scopes": (app.scopes[0].model_copy(update={"value": "mcp.access"}),)})
    other = lab.model_copy(
        update={"entra": lab.entra.model_copy(update={"apps": {**lab.entra.apps, "mcp": renamed}})}
    )
    assert required_scope(other, lab.server) == "mcp.access"
    explicit = lab.server.model_copy(update={"env": {**lab.server.env, "REQUIRED_SCOPE": "x"}})
    assert required_scope(lab, explicit) is None  # lab.yaml's own value goes through as written
