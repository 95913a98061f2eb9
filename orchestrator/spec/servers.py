"""More MCP servers share the lab's environment and registry (pure).

Step 2 of loading (``spec.loader.parse_lab``), on the raw YAML data beside ``spec.mcp_apis``: an
entry of ``servers`` (a container app ``container_app.<key>``) that leaves out ``environment`` or
``registry`` gets ``server``'s, so that the models and the provider see a whole ``Server``. A lab
has one Container Apps environment (``container_environment.main``) and one registry
(``container_registry.main``); ``spec.checks`` refuses an entry naming another one.
"""

from __future__ import annotations

from typing import Any

SHARED = ("environment", "registry")


def complete(data: Any) -> Any:
    """``data`` with every ``servers`` entry's environment and registry filled in from ``server``
    (a new mapping; ``data`` is not changed)."""
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        return data
    first = data.get("server")
    if not isinstance(first, dict):
        return data  # the checks say so
    servers: dict[str, Any] = {}
    for key, server in data["servers"].items():
        if isinstance(server, dict):
            server = {**{part: first[part] for part in SHARED if part in first}, **server}
        servers[key] = server
    return {**data, "servers": servers}
