"""A real stdio MCP server for the tests, written with the ``mcp`` package (its ``MCPServer``).

``lookup(topic)`` answers a fixed note; ``env_value(name)`` answers an
environment variable of the server's process (how the tests see that the
agent's ``mcpServers`` env, with ``${NAME}`` expanded, reached it).

Run as ``python tests/mcp_notes_server.py`` (stdio).
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer

NOTE = "the deploy window is Tuesday 14:00 UTC"

server = MCPServer("notes")


@server.tool()
def lookup(topic: str) -> str:
    """The team's note on a topic."""
    return f"Notes on {topic}: {NOTE}."


@server.tool()
def env_value(name: str) -> str:
    """An environment variable of this server's process."""
    return os.environ.get(name, "(unset)")


if __name__ == "__main__":
    server.run()
