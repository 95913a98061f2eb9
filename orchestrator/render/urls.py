"""URL arithmetic of RFC 9728 that the policies and the engine must agree on (pure).

The MCP API's 401 challenge must point at the PRM document that is really served: the
path-inserted well-known URL of the resource (RFC 9728 §3.1), never the root one the original
lab pointed at (which was not served).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

WELL_KNOWN_PRM = "/.well-known/oauth-protected-resource"


def protected_resource_metadata_url(resource: str) -> str:
    """``https://host/mcp`` -> ``https://host/.well-known/oauth-protected-resource/mcp``.

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
