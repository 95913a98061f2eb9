"""The lab's outputs: the values a user needs after apply (``prmlab output``, the ``outputs`` of
the reconcile JSON document), derived from what the target holds (pure).

Flow: ``engine.read_outputs`` (or the apply's outcomes) gives node address -> ``Actual.outputs``;
``lab_outputs`` resolves the lab's references over them (``spec.refs.resolve``, the same rule the
providers and the verifier use) and names the results. A value not on the target yet (the lab is
not, or not fully, deployed) is ``None``.

Which API is the MCP endpoint: every API of ``type: mcp`` (the first is ``mcp_url``; VS Code's
``mcp.json`` names each, ``vscode_server_name``); the
authorization server: Entra's issuer in ``entra`` mode, the URL of the API whose policy is the
mode's authorization-server template in ``gateway`` mode (``orchestrator.modes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrator.kinds import Kind
from orchestrator.modes import mode_of
from orchestrator.resource import UNKNOWN, Secret
from orchestrator.spec.refs import resolve
from orchestrator.spec.values import Ref

if TYPE_CHECKING:
    from orchestrator.spec.models import Lab

# name -> description (the order ``prmlab output`` lists them in).
DESCRIPTIONS: Mapping[str, str] = {
    "mcp_url": "the MCP endpoint clients connect to (the first API of type mcp)",
    "mcp_urls": "every API of type mcp: lab.yaml key -> URL",
    "prm_url": "the RFC 9728 Protected Resource Metadata URL of mcp_url",
    "prm_urls": "every API of type mcp: lab.yaml key -> its PRM URL",
    "authorization_server": "the OAuth authorization server the PRM names (its issuer)",
    "tenant_id": "the Entra tenant",
    "client_ids": "every app registration: lab.yaml key -> client id",
    "gateway_url": "the API Management gateway",
    "server_url": "the MCP server reached directly (bypassing the gateway)",
    "vscode_mcp_json": "a ready-to-paste VS Code .vscode/mcp.json: one server per API of type mcp",
    "ca_file": "local target: the CA clients must trust (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE)",
}


def _get(lab: Lab, outputs: Mapping[str, Mapping[str, Any]], targets: Mapping[str, Any], ref: str) -> Any:
    try:
        value = resolve(Ref(ref=ref), lab, outputs, targets)
    except (KeyError, LookupError):
        return None
    if value is UNKNOWN or isinstance(value, Secret):
        return None
    return value


def _api(
    lab: Lab, outputs: Mapping[str, Mapping[str, Any]], targets: Mapping[str, Any], key: str, out: str
) -> Any:
    """An API's URL once the API itself exists (the URL derives from the gateway's alone)."""
    if Kind.API.at(key) not in outputs:
        return None
    return _get(lab, outputs, targets, f"apim.apis.{key}.{out}")


def _authorization_server(
    lab: Lab, outputs: Mapping[str, Mapping[str, Any]], targets: Mapping[str, Any]
) -> Any:
    template = mode_of(lab).authorization_server_template
    if template is None:
        return targets.get("issuer")
    for key, api in lab.apim.apis.items() if lab.apim is not None else ():
        if api.policy is not None and api.policy.template == template:
            return _api(lab, outputs, targets, str(key), "url")
    return None


def vscode_server_name(lab_name: str, key: str, several: bool) -> str:
    """An MCP API's server name in VS Code's mcp.json: the lab's name, or ``<lab>-<api key>``
    when the lab has several MCP APIs."""
    return f"{lab_name}-{key}" if several else lab_name


def vscode_mcp_json(lab_name: str, urls: Mapping[str, Any]) -> dict[str, Any] | None:
    """VS Code's mcp.json for the MCP APIs ``urls`` (API key -> URL, in lab.yaml order; those not
    deployed yet, ``None``, left out); ``None`` when none is."""
    several = len(urls) > 1
    servers = {
        vscode_server_name(lab_name, key, several): {"type": "http", "url": url}
        for key, url in urls.items()
        if url is not None
    }
    return {"servers": servers} if servers else None


def lab_outputs(
    lab: Lab,
    outputs: Mapping[str, Mapping[str, Any]],
    targets: Mapping[str, Any],
    ca_file: Path | None = None,
) -> dict[str, Any]:
    """Every output (``DESCRIPTIONS``' names, in its order); ``None`` where not deployed."""
    apis = lab.apim.apis if lab.apim is not None else {}
    mcp_keys = [str(k) for k, api in apis.items() if api.type == "mcp"]
    mcp_urls = {k: _api(lab, outputs, targets, k, "url") for k in mcp_keys}
    prm_urls = {k: _api(lab, outputs, targets, k, "prm_url") for k in mcp_keys}
    mcp_url = mcp_urls[mcp_keys[0]] if mcp_keys else None
    server_url = _get(lab, outputs, targets, "server.url") if lab.server is not None else None
    values: dict[str, Any] = {
        "mcp_url": mcp_url,
        "mcp_urls": mcp_urls,
        "prm_url": prm_urls[mcp_keys[0]] if mcp_keys else None,
        "prm_urls": prm_urls,
        "authorization_server": _authorization_server(lab, outputs, targets),
        "tenant_id": targets.get("tenant_id"),
        "client_ids": {
            str(k): _get(lab, outputs, targets, f"entra.apps.{k}.client_id") for k in lab.entra.apps
        },
        "gateway_url": _get(lab, outputs, targets, "apim.service.gateway_url") if lab.apim else None,
        "server_url": server_url,
        "vscode_mcp_json": vscode_mcp_json(lab.name, mcp_urls),
        "ca_file": str(ca_file) if ca_file is not None else None,
    }
    assert list(values) == list(DESCRIPTIONS)
    return values


def deployed(values: Mapping[str, Any]) -> bool:
    """Is anything of the lab on the target (an endpoint or an app registration)?"""
    return any(values[name] is not None for name in ("mcp_url", "gateway_url", "server_url")) or any(
        v is not None for v in values["client_ids"].values()
    )
