"""How to connect a client to the lab: the MCP URL and a ready-to-paste VS Code ``mcp.json``."""

from __future__ import annotations

import json
from pathlib import Path


def connection_help(lab_name: str, mcp_url: str, ca_file: Path | None, client_id: str | None = None) -> str:
    entry = {"servers": {lab_name: {"type": "http", "url": mcp_url}}}
    lines = [
        "",
        f"MCP endpoint: {mcp_url}",
        "VS Code (.vscode/mcp.json):",
        *("  " + line for line in json.dumps(entry, indent=2).splitlines()),
    ]
    if client_id is not None:
        lines.append(
            f"Clients without dynamic registration (MCP Inspector in entra mode): client id {client_id},"
            " redirect http://localhost:6274/oauth/callback"
        )
    lines.append("Again later: prmlab output (mcp_url, prm_url, client_ids, vscode_mcp_json, ...)")
    if ca_file is not None:
        lines += [
            "The local lab's certificates are signed by its own CA; let VS Code / MCP Inspector (Node) trust it:",
            f"  NODE_EXTRA_CA_CERTS={ca_file}",
        ]
    return "\n".join(lines) + "\n"
