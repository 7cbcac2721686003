"""Agents as preparers: an MCP server whose tools call the same ledger, preview and insights functions as the CLI."""
