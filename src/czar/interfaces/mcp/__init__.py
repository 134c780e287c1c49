"""The MCP server agents use to talk to czar."""
