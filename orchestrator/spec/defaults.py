"""The global names a lab leaves out, derived once its subscription is known (pure).

Part of the spec, used by the commands' front door (``orchestrator.labfile.load_for_target``)
right after the target's settings are known, before the graph is built: an API Management
service, a container registry or a client-store storage account without a ``name`` in lab.yaml
gets ``naming.default_name(kind, lab, naming.unique_string(subscription, resource group, lab))``.
The result is a copy of the lab (positions and source kept), so the plan shows the derived names
as it shows any other; nothing changes when every global name is written out.
"""

from __future__ import annotations

from orchestrator.spec.models import Lab
from orchestrator.spec.naming import default_name, unique_string


def derived_names(lab: Lab, subscription_id: str) -> dict[str, str]:
    """YAML path (dotted) -> the derived name, for every global name ``lab`` leaves out."""
    uniq = unique_string(subscription_id, lab.target.resource_group, lab.name)
    out: dict[str, str] = {}
    if lab.apim.service.name is None:
        out["apim.service.name"] = default_name("apim_service", lab.name, uniq)
    server = lab.server
    if server is not None and server.registry is not None and server.registry.name is None:
        out["server.registry.name"] = default_name("container_registry", lab.name, uniq)
    store = lab.authorization.client_store
    if store is not None and store.storage_account is None:
        out["authorization.client_store.storage_account"] = default_name("storage_account", lab.name, uniq)
    return out


def with_global_names(lab: Lab, subscription_id: str) -> Lab:
    """``lab`` with every omitted global name derived (``lab`` itself when none is omitted)."""
    names = derived_names(lab, subscription_id)
    if not names:
        return lab
    apim = lab.apim
    if "apim.service.name" in names:
        service = apim.service.model_copy(update={"name": names["apim.service.name"]})
        apim = apim.model_copy(update={"service": service})
    server = lab.server
    if server is not None and server.registry is not None and "server.registry.name" in names:
        registry = server.registry.model_copy(update={"name": names["server.registry.name"]})
        server = server.model_copy(update={"registry": registry})
    authorization = lab.authorization
    store = authorization.client_store
    if store is not None and "authorization.client_store.storage_account" in names:
        store = store.model_copy(
            update={"storage_account": names["authorization.client_store.storage_account"]}
        )
        authorization = authorization.model_copy(update={"client_store": store})
    servers = {
        key: other.model_copy(update={"registry": server.registry})
        if server is not None and other.registry is not None and other.registry.name is None
        else other
        for key, other in lab.servers.items()
    }  # one registry per lab (spec.servers): its derived name too
    done = lab.model_copy(
        update={"apim": apim, "server": server, "servers": servers, "authorization": authorization}
    )
    done._source = lab._source
    done._positions = lab._positions
    return done
