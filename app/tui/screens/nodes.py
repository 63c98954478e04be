"""NodesScreen: the servers sharing the database (``GET /api/nodes``), read again every few seconds.

Bindings: ``escape``/``q``/``N`` back [nodes.back].

In local mode the list is this server (and any other process on the same database); attached
to one node of a cluster (``tui --remote``) it is every node. The refresh timer belongs to the
screen: it starts when the screen opens and ends when it closes, and skips its turn while a
dialog covers the screen.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from app.client import ApiError
from app.tui.base import DashboardScreen
from widgets.node_table import NodeTable

REFRESH_SECONDS = 2.0
"""How often the open screen reads the nodes again (a node renews its lease every few seconds)."""


def summary(nodes: list[dict[str, Any]]) -> Text:
    alive = sum(1 for n in nodes if n.get("alive"))
    running = sum(int(n.get("runningRuns") or 0) for n in nodes)
    queued = sum(int(n.get("queuedRuns") or 0) for n in nodes)
    gone = len(nodes) - alive
    return Text.assemble(
        ("Nodes", "bold"),
        (" · ", "dim"),
        (f"{alive} alive", "bold green" if alive else "bold red"),
        (f" · {gone} lease expired" if gone else "", "bold red"),
        (" · ", "dim"),
        (f"{running} running", "bold"),
        (" · ", "dim"),
        (f"{queued} queued", "bold"),
        (f"   refreshed every {REFRESH_SECONDS:g}s · esc: back", "dim"),
    )


class NodesScreen(DashboardScreen[None]):
    """Each node's id, host and pid, state, start, last heartbeat, running and queued runs."""

    BINDINGS = [
        Binding("escape,q,N", "app.pop_screen", "Back", id="nodes.back", tooltip="Back to the agents"),
    ]

    DEFAULT_CSS = """
    NodesScreen > #nodes-title {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0
        """Answers received (for the tests)."""

    def compose(self) -> ComposeResult:
        yield Static(Text("Nodes", style="bold"), id="nodes-title")
        yield NodeTable(id="nodes")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(REFRESH_SECONDS, self.refresh_nodes)

    def refresh_nodes(self) -> None:
        if self.is_current:  # not under a dialog (help, the palette)
            self.load()

    @work(exclusive=True, group="load-nodes")
    async def load(self) -> None:
        try:
            nodes = await self.dash.client.list_nodes()
        except ApiError as exc:
            self.query_one("#nodes-title", Static).update(Text(f"Nodes · ✗ {exc.message}", style="bold red"))
            return
        self.loads += 1
        self.query_one("#nodes-title", Static).update(summary(nodes))
        self.query_one(NodeTable).set_nodes(nodes, self.dash.clock())
