"""AgentTable on its own: a virtual table (rows built when drawn), sorted, filtered, widened on demand."""

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


def screen_text(app: App[Any]) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def test_ten_thousand_rows_build_only_the_rows_on_screen() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(AgentTable)
        started = time.perf_counter()
        table.set_agents(agents(10_000))
        await pilot.pause()
        assert time.perf_counter() - started < 2.0
        assert table.row_count == 10_000
        assert len(table._cells) < 50  # the rows drawn, not ten thousand
        assert "agent 0000" in screen_text(app) and "agent 9999" not in screen_text(app)
        await pilot.press("end")
        assert table.selected_id == "agt_000000009999"
        assert "agent 9999" in screen_text(app)


async def test_sorted_by_name_and_an_upsert_takes_its_place() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(AgentTable)
        table.set_agents(list(reversed(agents(5))))
        await pilot.pause()
        assert [table.get_row_at(i)[0].plain for i in range(5)] == [f"agent {i:04d}" for i in range(5)]
        renamed = {**agents(5)[4], "name": "Aardvark"}
        table.upsert(renamed)
        assert table.ordered_ids[0] == "agt_000000000004"
        table.remove_agent("agt_000000000000")
        assert table.row_count == 4 and "agt_000000000000" not in table.ordered_ids


async def test_a_wider_cell_widens_its_column() -> None:
    app = TableApp()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(AgentTable)
        table.set_agents(agents(3))
        await pilot.pause()
        before = table.widths["cost"]
        table.set_cost_by_agent([{"agentId": "agt_000000000001", "costUsd": 12345.678, "todayUsd": 0.0}])
        await pilot.pause()
        assert table.get_row_at(1)[-1].plain == "$12,345.68"
        assert table.widths["cost"] == len("$12,345.68") > before
        assert "$12,345.68" in screen_text(app)


class SelectingApp(TableApp):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str] = []

    def on_agent_table_row_selected(self, message: AgentTable.RowSelected) -> None:
        self.selected.append(message.agent_id)


async def test_keys_and_clicks_move_the_cursor_and_enter_selects() -> None:
    app = SelectingApp()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(AgentTable)
        table.set_agents(agents(1000))
        table.focus()
        await pilot.pause()
        await pilot.press("down", "down")
        assert table.selected_id == "agt_000000000002"
        await pilot.press("pagedown")
        page = table.cursor_row - 2
        assert page > 10 and table.scroll_offset.y > 0  # a screen further, and in view
        await pilot.click(AgentTable, offset=(5, 3))  # the header is line 0: the third row on screen
        assert table.cursor_row == table.scroll_offset.y + 2
        clicked = table.selected_id
        await pilot.click(AgentTable, offset=(5, 3))  # the cursor's row again: selected
        await pilot.press("home", "enter")
        assert app.selected == [clicked, "agt_000000000000"]
        assert table.scroll_offset.y == 0


async def test_far_times_fit_their_columns() -> None:
    """A yearly agent: ``in 364d 23h`` and ``300d 1h ago`` are wider than the usual times."""
    far = {
        **agents(1)[0],
        "enabled": True,
        "nextRunAt": "2026-01-07T09:00:00.000Z",
        "lastRunAt": "2024-03-13T09:00:00.000Z",
    }
    app = TableApp()
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(AgentTable)
        table.set_agents([far, *agents(3)[1:]])
        await pilot.pause()
        assert table.get_cell(far["id"], "next").plain == "in 364d 23h"
        assert table.get_cell(far["id"], "last").plain == "300d 1h ago"
        assert "in 364d 23h" in screen_text(app) and "300d 1h ago" in screen_text(app)
        later = {**far, "id": "agt_000000000099", "name": "later", "nextRunAt": "2027-01-07T09:00:00.000Z"}
        table.upsert(later)  # wider still: its column grows
        await pilot.pause()
        assert "in 729d 23h" in screen_text(app)
