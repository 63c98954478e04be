"""Pilot tests of the nodes screen (`N`) against the real server over a real socket.

The embedded server is a node: the screen lists it with its host, pid and running runs, reads the
list again while it is open (a run that starts shows up without a key), and stops reading once closed.
"""

from __future__ import annotations

import socket
from typing import Any

from app.client import ApiClient
from app.server import Server
from app.timeutil import now_ms
from app.tui.screens.help import HelpScreen
from app.tui.screens.main import MainScreen
from app.tui.screens.nodes import REFRESH_SECONDS, NodesScreen
from tests.tui.conftest import ready, wait_until
from widgets.node_table import NodeTable

SIZE = (120, 36)


def row_text(table: NodeTable, node_id: str) -> list[str]:
    return [str(cell) for cell in table.get_row(node_id)]


async def test_the_screen_lists_this_server_with_its_host_and_running_runs(
    make_app: Any, api: ApiClient, server: Server
) -> None:
    agent = await api.create_agent({"name": "a", "schedule": "0 9 * * *", "prompt": "p"})
    await server.store.runs.insert("run_a", agent["id"], "running", now_ms(), owner=server.server_id)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert isinstance(app.screen, HelpScreen)
        assert "nodes.open" in {active.binding.id for active in app.screen.bindings.values()}
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="main screen")
        await pilot.press("N")
        await wait_until(pilot, lambda: isinstance(app.screen, NodesScreen), what="nodes screen")
        screen = app.screen
        assert isinstance(screen, NodesScreen)
        table = screen.query_one(NodeTable)
        await wait_until(pilot, lambda: table.row_count == 1, what="one node")
        node, host, state, started, heartbeat, running, queued = row_text(table, server.server_id)
        assert node == server.server_id
        assert host.startswith(socket.gethostname()[:20]) and host.endswith(")")
        assert state == "● alive"
        assert all(t.endswith("s ago") or t == "now" for t in (started, heartbeat)), (started, heartbeat)
        assert (running, queued) == ("1", "0")
        assert "1 alive" in str(screen.query_one("#nodes-title").render())

        # Read again while open: a queued run appears without a key press.
        loads = screen.loads
        await server.store.runs.insert("run_b", agent["id"], "queued", now_ms(), owner=server.server_id)
        await wait_until(
            pilot,
            lambda: row_text(table, server.server_id)[6] == "1",
            timeout=REFRESH_SECONDS * 3,
            what="the queued run",
        )
        assert screen.loads > loads

        # esc closes it, and with it the timer: no more reads.
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="main screen")
        loads = screen.loads
        await pilot.pause(REFRESH_SECONDS * 1.5)
        assert screen.loads == loads
