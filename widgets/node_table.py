"""NodeTable: one row per server sharing the database (``GET /api/nodes``), first started first.

Row keys are node ids. Times are relative to the clock the screen passes in ("3s ago").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from widgets.formatting import relative, truncate

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "Node"),
    ("host", "Host (pid)"),
    ("state", "State"),
    ("started", "Started"),
    ("heartbeat", "Heartbeat"),
    ("running", "Running"),
    ("queued", "Queued"),
)


def state_text(node: dict[str, Any]) -> Text:
    """``● alive`` in green, or ``○ lease expired`` in red (its runs are ended by the live nodes)."""
    return Text("● alive", style="green") if node.get("alive") else Text("○ lease expired", style="bold red")


def count_text(value: Any, style: str) -> Text:
    count = int(value or 0)
    return Text(str(count), style=style if count else "dim")


def cells(node: dict[str, Any], now: datetime) -> list[Any]:
    alive = bool(node.get("alive"))
    dim = "" if alive else "dim"
    host = f"{node.get('host') or '?'} ({node.get('pid') or '?'})"
    return [
        Text(str(node.get("id", "")), style="bold" if alive else "dim"),
        Text(truncate(host, 40), style=dim),
        state_text(node),
        Text(relative(node.get("startedAt"), now), style=dim),
        Text(relative(node.get("lastHeartbeat"), now), style="" if alive else "red"),
        count_text(node.get("runningRuns"), "bold cyan"),
        count_text(node.get("queuedRuns"), "cyan"),
    ]


class NodeTable(DataTable[Any]):
    """The cluster's nodes; redrawn whole at each refresh (a cluster has a handful of nodes)."""

    DEFAULT_CSS = """
    NodeTable {
        height: 1fr;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", show_cursor=False, zebra_stripes=True, **kwargs)
        self.nodes: list[dict[str, Any]] = []

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def set_nodes(self, nodes: Iterable[dict[str, Any]], now: datetime) -> None:
        """Replace every row, keeping the cursor on the same row number."""
        self.nodes = list(nodes)
        row = self.cursor_row
        self.clear()
        for node in self.nodes:
            self.add_row(*cells(node, now), key=str(node["id"]))
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1))
