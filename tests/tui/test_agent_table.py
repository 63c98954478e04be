"""AgentTable on its own: a thousand agents refresh without measuring every column per cell."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from textual.app import App, ComposeResult

from widgets.agent_table import AgentTable

NOW = datetime(2025, 1, 7, 10, 0, tzinfo=UTC)


def agents(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"agt_{i:012d}",
            "name": f"agent {i:04d}",
            "schedule": "0 9 * * 1-5",
            "enabled": i % 7 != 0,
            "nextRunAt": "2025-01-08T08:00:00.000Z",
            "lastRunAt": "2025-01-07T09:55:00.000Z" if i % 2 else None,
            "lastStatus": "success" if i % 2 else None,
        }
        for i in range(count)
    ]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield AgentTable(lambda: NOW)


async def test_refreshing_every_row_is_not_quadratic() -> None:
    """DataTable re-measures a whole column for each cell that gets narrower: refreshing 600 rows
    that way took about 20 s. The table asks for a measure only when a cell gets wider."""
    app = TableApp()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(AgentTable)
        table.set_agents(agents(600))
        await pilot.pause()
        started = time.perf_counter()
        table.refresh_cells()
        await pilot.pause()
        assert time.perf_counter() - started < 5.0


async def test_a_wider_cell_widens_its_column() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(AgentTable)
        table.set_agents(agents(3))
        await pilot.pause()
        cost = next(c for c in table.columns.values() if c.key.value == "cost")
        before = cost.get_render_width(table)
        table.set_cost_by_agent([{"agentId": "agt_000000000001", "costUsd": 12345.678, "todayUsd": 0.0}])
        await pilot.pause()
        assert table.get_row_at(1)[-1].plain == "$12,345.68"
        assert cost.get_render_width(table) > before
