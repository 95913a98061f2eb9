"""The URLs a lab's parts must agree on (pure, stdlib only): an API on a gateway, its RFC 9728
Protected Resource Metadata (PRM) URL, and the Entra issuer of a tenant at an authority (the
authority itself is the cloud's: ``orchestrator.clouds``).

One home for this arithmetic: references (``spec.refs``: ``apim.apis.<k>.url``/``prm_url``,
``target.authority``/``issuer``), the API provider's outputs (``providers.apim_apis``), the
templates' callers (``render``) and the target (``target.TargetSettings.outputs``) all call it.
The verifier keeps its own independent copy of the PRM rule on purpose
(``verify.http.path_inserted_prm_url``): it checks what the gateway serves against RFC 9728, not
against this module; ``tests/orchestrator/test_urls.py`` holds both to one table.

The MCP API's 401 challenge must point at the PRM document that is really served: the
path-inserted well-known URL of the resource (RFC 9728 §3.1), never the root one the original
lab pointed at (which was not served).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

WELL_KNOWN_PRM = "/.well-known/oauth-protected-resource"


def api_url(gateway_url: str, path: str) -> str:
    """The URL clients use for an API: ``<gateway>/<path>`` (no trailing slash; the gateway URL
    itself when the path is empty)."""
    base = gateway_url.rstrip("/")
    path = path.strip("/")
    return f"{base}/{path}" if path else base


def protected_resource_metadata_url(resource: str) -> str:
    """RFC 9728 §3.1: ``https://host/mcp`` -> ``https://host/.well-known/oauth-protected-resource/mcp``.

    A resource without a path (``https://host`` or ``https://host/``) gives the root URL. The
    query, if any, is kept after the inserted path, as RFC 9728 §3.1 prescribes.
    """
    parts = urlsplit(resource)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"{resource!r} is not an absolute http(s) URL")
    if parts.fragment:
        raise ValueError(f"{resource!r} must not have a fragment")
    path = parts.path if parts.path != "/" else ""
    return urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN_PRM + path, parts.query, ""))


def api_prm_url(gateway_url: str, path: str) -> str:
    """The path-inserted PRM URL of the API at ``path`` on ``gateway_url``."""
    return protected_resource_metadata_url(api_url(gateway_url, path))


def issuer(authority_url: str, tenant_id: str) -> str:
    """The v2 token issuer of ``tenant_id`` at ``authority_url``."""
    return f"{authority_url}/{tenant_id}/v2.0"
