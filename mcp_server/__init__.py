"""The MCP server the lab deploys behind the gateway (see mcp_server.app)."""
