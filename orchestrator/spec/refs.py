"""References: which addresses and outputs exist, which graph node provides each, and how a
reference resolves to a value once its provider exists.

Part of the spec. ``checks`` uses the address table to report dangling references at load
time; ``orchestrator.graph`` uses ``provider_node`` to draw dependency edges; the reconcile
engine calls ``resolve`` with the outputs of finished nodes (``Actual.outputs``).

Address table (``<address>.<output>``):

=================================  ==============================================  ============================
address                            outputs                                         provided by (graph node)
=================================  ==============================================  ============================
``target``                         tenant_id, subscription_id, issuer, authority,  the target itself (no node)
                                   graph_endpoint
``entra.apps.<key>``               client_id, object_id, identifier_uri, scope     ``entra_app.<key>``
``managed_identities.<key>``       principal_id, client_id, resource_id, tenant_id ``managed_identity.<key>``
``apim.service``                   gateway_url, name, principal_id                 ``apim_service.main``
``apim.apis.<key>``                url, prm_url                                    ``apim_service.main``
``apim.backends.<key>``            url                                             ``backend.<key>``
``server``                         url, fqdn                                       ``container_app.server``
``servers.<key>``                  url, fqdn                                       ``container_app.<key>``
``monitoring.app_insights``        connection_string, instrumentation_key (secret) ``app_insights.main``
``authorization.client_store``     table_url, account_id                           ``storage_table.client_store``
=================================  ==============================================  ============================

Derived outputs (computed here from other outputs and the spec, so they need no extra node):
``target.*`` come from the target: ``authority`` (``https://login.microsoftonline.com``, or
the emulator's ``<base>/login``), ``issuer`` = ``<authority>/<tenant>/v2.0``, ``graph_endpoint``
(``https://graph.microsoft.com`` or the emulator's base URL);
``apim.apis.<k>.url`` = gateway_url + "/" + path (no trailing slash; the gateway URL itself when
the path is empty) and ``apim.apis.<k>.prm_url`` = its RFC 9728 path-inserted PRM URL (both
from ``orchestrator.urls``); ``entra.apps.<k>.identifier_uri`` = the app's first
identifier URI (resolved); ``entra.apps.<k>.scope`` = (identifier_uri, else client_id) + "/" +
the app's one enabled scope (``spec.checks`` refuses ``scope`` when the app exposes several: no
silent "first"), ``entra.apps.<k>.scopes.<value>`` the same for the scope it names; ``authorization.client_store.table_url`` = the storage account's
table endpoint + the table name (``https://<account>.table.core.windows.net/<table>``). A
reference's ``suffix`` is appended after resolution.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.kinds import Kind
from orchestrator.resource import UNKNOWN, Secret
from orchestrator.spec.values import Ref
from orchestrator.urls import api_prm_url, api_url

if TYPE_CHECKING:
    from orchestrator.spec.models import EntraApp, Lab

# address pattern -> outputs. "*" stands for one map key.
OUTPUTS: Mapping[str, tuple[str, ...]] = {
    "target": ("tenant_id", "subscription_id", "issuer", "authority", "graph_endpoint"),
    "entra.apps.*": ("client_id", "object_id", "identifier_uri", "scope"),
    "managed_identities.*": ("principal_id", "client_id", "resource_id", "tenant_id"),
    "apim.service": ("gateway_url", "name", "principal_id"),
    "apim.apis.*": ("url", "prm_url"),
    "apim.backends.*": ("url",),
    "server": ("url", "fqdn"),
    "servers.*": ("url", "fqdn"),
    "monitoring.app_insights": ("connection_string", "instrumentation_key"),
    "authorization.client_store": ("table_url", "account_id"),
}

SECRET_OUTPUTS = frozenset(
    {"monitoring.app_insights.connection_string", "monitoring.app_insights.instrumentation_key"}
)


def the_scope(app: EntraApp) -> str:
    """The value ``entra.apps.<k>.scope`` stands for: the app's one enabled scope (the checks
    refuse the reference when there are several; disabled ones are on their way out)."""
    enabled = [s.value for s in app.scopes if s.enabled]
    return (enabled or [s.value for s in app.scopes])[0]


def pattern_of(address: str) -> str | None:
    """``entra.apps.mcp`` -> ``entra.apps.*``; None when no pattern matches."""
    if address in OUTPUTS:
        return address
    head, _, key = address.rpartition(".")
    candidate = f"{head}.*"
    return candidate if key and candidate in OUTPUTS else None


def is_secret(ref: Ref) -> bool:
    return ref.ref in SECRET_OUTPUTS


def provider_node(ref: Ref) -> str | None:
    """The graph node whose creation makes ``ref`` resolvable (None: known from the target)."""
    address = ref.address
    parts = address.split(".")
    if address == "target":
        return None
    if parts[:2] == ["entra", "apps"]:
        return Kind.ENTRA_APP.at(parts[2])
    if parts[0] == "managed_identities":
        return Kind.MANAGED_IDENTITY.at(parts[1])
    if address == "apim.service" or parts[:2] == ["apim", "apis"]:
        return Kind.APIM_SERVICE.at("main")
    if parts[:2] == ["apim", "backends"]:
        return Kind.BACKEND.at(parts[2])
    if address == "server":
        return Kind.CONTAINER_APP.at("server")
    if parts[0] == "servers":
        return Kind.CONTAINER_APP.at(parts[1])
    if address == "monitoring.app_insights":
        return Kind.APP_INSIGHTS.at("main")
    if address == "authorization.client_store":
        return Kind.STORAGE_TABLE.at("client_store")
    raise ValueError(f"no provider for reference {ref.ref}")  # load_lab rejected it already


def resolve(
    ref: Ref,
    lab: Lab,
    outputs: Mapping[str, Mapping[str, Any]],
    target_outputs: Mapping[str, Any],
) -> Any:
    """The value of ``ref`` (suffix appended), or ``UNKNOWN`` while its provider has no outputs.

    ``outputs`` maps graph node addresses to their ``Actual.outputs``; ``target_outputs`` holds
    ``tenant_id``, ``subscription_id``, ``issuer``, ``authority`` and ``graph_endpoint`` of the target. Secret outputs come back as
    ``orchestrator.resource.Secret``.
    """
    value = _raw(ref, lab, outputs, target_outputs)
    if value is UNKNOWN or value is None:
        return UNKNOWN
    if isinstance(value, Secret):
        return Secret(value.reveal() + ref.suffix) if ref.suffix else value
    text = f"{value}{ref.suffix}"
    return Secret(text) if is_secret(ref) else text


def _raw(ref: Ref, lab: Lab, outputs: Mapping[str, Mapping[str, Any]], target: Mapping[str, Any]) -> Any:
    parts = ref.address.split(".")
    out = ref.output
    if ref.address == "target":
        return target.get(out, UNKNOWN)
    if parts[:2] == ["apim", "apis"]:
        gateway = outputs.get(Kind.APIM_SERVICE.at("main"), {}).get("gateway_url", UNKNOWN)
        if gateway is UNKNOWN or gateway is None:
            return UNKNOWN
        path = lab.apim.apis[parts[2]].path
        return api_prm_url(str(gateway), path) if out == "prm_url" else api_url(str(gateway), path)
    if parts[:2] == ["entra", "apps"] and (out in ("identifier_uri", "scope") or parts[3:] == ["scopes"]):
        app = lab.entra.apps[parts[2]]
        node = outputs.get(Kind.ENTRA_APP.at(parts[2]), {})
        uri: Any = UNKNOWN
        if app.identifier_uris:
            first = app.identifier_uris[0]
            uri = resolve(first, lab, outputs, target) if isinstance(first, Ref) else first
        if out == "identifier_uri":
            return uri
        base = uri if app.identifier_uris else node.get("client_id", UNKNOWN)
        if base is UNKNOWN or base is None:
            return UNKNOWN
        if parts[3:] == ["scopes"]:
            return f"{base}/{out}"
        return f"{base}/{the_scope(app)}"
    if (ref.address == "server" or parts[0] == "servers") and out == "url":
        node = outputs.get(provider_node(ref) or "", {})
        if node.get("url") is not None:
            return node["url"]
        fqdn = node.get("fqdn")
        return UNKNOWN if fqdn is None else f"https://{fqdn}"
    if ref.address == "authorization.client_store":
        account = outputs.get(Kind.STORAGE_ACCOUNT.at("client_store"), {})
        if out == "account_id":
            return account.get("resource_id", UNKNOWN)
        endpoint = account.get("table_endpoint")
        store = lab.authorization.client_store
        if endpoint is None or store is None or Kind.STORAGE_TABLE.at("client_store") not in outputs:
            return UNKNOWN
        return f"{str(endpoint).rstrip('/')}/{store.table}"
    provider = provider_node(ref)
    assert provider is not None
    return outputs.get(provider, {}).get(out, UNKNOWN)
