"""The body of ``GET /api/agents``, rebuilt cheaply after each change.

Listing is the hottest read (every dashboard refresh, every script), and
every write invalidates it. Rebuilding means one query for all rows; each
agent's JSON is then re-encoded only when its row changed (the row's values
are the cache key), and the sort key of a name is computed once. With 50
clients creating agents at once this took the event loop from rebuilding
every agent's JSON on every list to encoding only the agents that changed.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from storage.interface import Row


def name_order(name: str) -> str:
    """Sort key of a name as people read it: case and accents aside (``Édith`` by ``e``)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def sort_key(name: str, agent_id: str) -> tuple[str, str, str]:
    return (name_order(name), name, agent_id)


class AgentListBody:
    """Encoded ``{"data": [...]}`` of every agent, from rows, reusing unchanged agents' JSON."""

    def __init__(self, to_json: Callable[[Row], dict[str, Any]]) -> None:
        self._to_json = to_json
        # agent id -> (row values, sort key, encoded agent)
        self._agents: dict[str, tuple[tuple[Any, ...], tuple[str, str, str], bytes]] = {}

    def build(self, rows: Sequence[Row]) -> bytes:
        previous, current = self._agents, {}
        for row in rows:
            values = tuple(row)
            cached = previous.get(row["id"])
            if cached is None or cached[0] != values:
                encoded = json.dumps(self._to_json(row), separators=(",", ":")).encode()
                cached = (values, sort_key(row["name"], row["id"]), encoded)
            current[row["id"]] = cached
        self._agents = current
        ordered = sorted(current.values(), key=lambda entry: entry[1])
        return b'{"data":[' + b",".join(entry[2] for entry in ordered) + b"]}"
