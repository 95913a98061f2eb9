"""The MCP server the lab deploys behind the gateway (see ``mcp_server/README.md``).

``config`` (environment) -> ``app`` (``MCPServer`` + routes) with ``auth`` (incoming token
validation), ``graph`` (OBO + Graph ``/me``) and ``tool`` (``show_user_profile``);
``__main__`` serves it with uvicorn.
"""
