"""How to connect a client to the lab: every MCP API's URL and a ready-to-paste VS Code
``mcp.json`` naming each (``output.lab_outputs.vscode_mcp_json``), printed after verification."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from orchestrator.output.lab_outputs import vscode_mcp_json

_INSPECTOR = "Clients without dynamic registration (MCP Inspector in entra mode)"
_REDIRECT = "redirect http://localhost:6274/oauth/callback"


def connection_help(
    lab_name: str,
    mcp_urls: Mapping[str, str],
    ca_file: Path | None,
    client_ids: Mapping[str, str] | None = None,
) -> str:
    """``mcp_urls``: MCP API key -> URL, in lab.yaml order; ``client_ids``: MCP API key -> the
    client id a client without dynamic registration uses for it (None: clients register)."""
    entry = vscode_mcp_json(lab_name, mcp_urls) or {"servers": {}}
    if len(mcp_urls) == 1:
        lines = ["", f"MCP endpoint: {next(iter(mcp_urls.values()))}"]
    else:
        lines = ["", "MCP endpoints:", *(f"  {key}: {url}" for key, url in mcp_urls.items())]
    lines += [
        "VS Code (.vscode/mcp.json):",
        *("  " + line for line in json.dumps(entry, indent=2).splitlines()),
    ]
    if client_ids and len(client_ids) == 1:
        lines.append(f"{_INSPECTOR}: client id {next(iter(client_ids.values()))}, {_REDIRECT}")
    elif client_ids:
        lines.append(f"{_INSPECTOR}: {_REDIRECT}, client id per MCP API:")
        lines += [f"  {key}: {client_id}" for key, client_id in client_ids.items()]
    urls = "mcp_url, prm_url" if len(mcp_urls) == 1 else "mcp_urls, prm_urls"
    lines.append(f"Again later: prmlab output ({urls}, client_ids, vscode_mcp_json, ...)")
    if ca_file is not None:
        lines += [
            "The local lab's certificates are signed by its own CA; let VS Code / MCP Inspector (Node) trust it:",
            f"  NODE_EXTRA_CA_CERTS={ca_file}",
        ]
    return "\n".join(lines) + "\n"
