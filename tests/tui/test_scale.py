"""The dashboard at scale (10,000 agents) and relative times that stay true.

The canned client (``FakeClient.add_fleet``) holds the agents; the clock is injected, and
the tests move it and call the screen's one-second tick themselves: nothing sleeps.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.app import App

from app.tui.app import CronAgentsApp, build_app
from tests.tui.conftest import wait_until
from tests.tui.fake_client import NOW, FakeClient
from widgets.formatting import money

ROOT = Path(__file__).resolve().parent.parent.parent
FLEET = 10_000
SIZE = (120, 36)


class CountingClient(FakeClient):
    """Counts the stats calls: the Cost column must cost one call per period, none per agent."""

    def __init__(self) -> None:
        super().__init__()
        self.global_calls: list[str] = []
        self.agent_calls: list[str] = []

    async def global_stats(self, period: str) -> dict[str, Any]:
        self.global_calls.append(period)
        return await super().global_stats(period)

    async def agent_stats(self, agent_id: str, period: str) -> dict[str, Any]:
        self.agent_calls.append(agent_id)
        return await super().agent_stats(agent_id, period)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows now (the compositor's lines, as the widgets last drew them)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def loaded(pilot: Any, agents: int) -> None:
    app = pilot.app
    assert isinstance(app, CronAgentsApp)
    await wait_until(
        pilot,
        lambda: app.main_screen is not None and app.main_screen.table.row_count == agents,
        timeout=30,
        what=f"{agents} rows",
    )
    table = app.main_screen.table
    await wait_until(pilot, lambda: table.spend_known, what="the costs")


async def test_a_filter_over_ten_thousand_agents_finds_the_right_rows() -> None:
    client = FakeClient()
    client.add_fleet(FLEET)
    total = len(client.agents)
    app = build_app(client, clock=lambda: NOW, default_timezone="UTC", stream_events=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, total)
        table = app.main_screen.table
        await pilot.press("slash", *"FLEET 0999")
        want = [a["id"] for a in await client.list_agents() if "fleet 0999" in a["name"].lower()]
        assert len(want) == 10
        assert table.ordered_ids == want
        assert [table.get_row_at(i)[0].plain for i in range(table.row_count)] == [
            f"fleet {n:05d}" for n in range(9990, 10_000)
        ]
        await pilot.press("enter", "end")  # back to the table; the last match
        assert table.selected_id == want[-1]
        await pilot.pause()
        assert "fleet 09999" in screen_text(app) and "fleet 09989" not in screen_text(app)
        await pilot.press("escape")  # every agent again, the cursor still on the same one
        assert table.row_count == total and table.selected_id == want[-1]
        await pilot.press("end")
        assert table.selected_id == (await client.list_agents())[-1]["id"]


async def test_the_cost_column_is_cost_by_agent_for_every_agent_and_follows_the_period() -> None:
    client = CountingClient()
    client.add_fleet(FLEET)
    total = len(client.agents)
    app = build_app(client, clock=lambda: NOW, default_timezone="UTC", stream_events=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, total)
        table = app.main_screen.table
        for period in ("7d", "30d", "24h"):
            stats = await FakeClient.global_stats(client, period)  # (not counted)
            costs = {e["agentId"]: e["costUsd"] for e in stats["costByAgent"]}
            assert len(costs) > 500  # most of the tenth of the fleet that ran
            want = [money(costs.get(agent_id, 0.0)) for agent_id in table.ordered_ids]
            await wait_until(
                pilot,
                lambda w=want: [table.get_cell(i, "cost").plain for i in table.ordered_ids] == w,
                what=f"{period} costs",
            )
            assert len(set(want)) > 3  # not one figure everywhere
            await pilot.press("p")
        # One global read per period (the first at start); only the selected agent's own stats.
        assert client.global_calls[:1] == ["7d"]
        assert {"30d", "24h"} <= set(client.global_calls)
        assert len(client.global_calls) <= 5  # the three periods, the start, the last p
        assert set(client.agent_calls) <= {table.selected_id}


async def test_relative_times_move_with_the_clock_everywhere_at_once() -> None:
    moments = [NOW]

    def clock() -> datetime:
        return moments[0]

    client = FakeClient()
    app = build_app(client, clock=clock, default_timezone="UTC", stream_events=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, len(client.agents))
        main = app.main_screen
        assert main is not None
        await wait_until(pilot, lambda: main.history.row_count > 0, what="the runs")
        await wait_until(pilot, lambda: main.live.run_id is not None, what="the live run")
        await pilot.pause()
        before = screen_text(app)
        # Daily digest: next run in 22h, last run and its running run 5m ago.
        assert "next Daily digest in 22h" in before
        assert "in 22h" in main.table.get_cell("agt_000000000001", "next").plain
        assert main.table.get_cell("agt_000000000001", "last").plain == "5m ago"
        assert "01-07 09:55 5m ago" in before

        moments[0] = NOW + timedelta(minutes=61)
        main.tick()  # what the screen's one-second timer calls
        await pilot.pause()
        after = screen_text(app)
        assert "next Daily digest in 20h 59m" in after
        assert main.table.get_cell("agt_000000000001", "next").plain == "in 20h 59m"
        assert main.table.get_cell("agt_000000000001", "last").plain == "1h 6m ago"
        assert "in 20h 59m" in after and "1h 6m ago" in after  # the table's row, drawn again
        assert "01-07 09:55 1h 6m ago" in after  # the run history, in step
        await pilot.press("2")
        await pilot.pause()
        assert "started 2025-01-07 09:55:00 UTC · 1h 6m ago" in screen_text(app)  # the live log's header
        moments[0] += timedelta(seconds=30)  # still 1h 6m ago: nothing to draw
        main.tick()
        await pilot.pause()
        assert "started 2025-01-07 09:55:00 UTC · 1h 6m ago" in screen_text(app)
        moments[0] += timedelta(seconds=30)
        main.tick()
        await pilot.pause()
        assert "started 2025-01-07 09:55:00 UTC · 1h 7m ago" in screen_text(app)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_dashboard_benchmark_runs_and_reports_every_figure(tmp_path: Path) -> None:
    """``bench/tui.py`` (small: 50 and 120 agents) still runs end to end and prints each figure
    for each agent count (so it cannot rot); the figures themselves depend on the machine."""
    small = ["--agents", "50,120", "--runs", "1", "--idle", "0.5", "--seconds", "0.5", "--rate", "200"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "tui.py"), *small],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, "CRONAGENTS_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for count in (50, 120):
        assert re.search(rf"^{count} agents: resident memory \d+ MB with the dashboard open", out, re.M)
        assert re.search(rf"^{count} agents: idle CPU [\d.]+ s per minute", out, re.M)
        for label in ("dashboard", "dashboard, with the costs", "bare DataTable"):
            assert re.search(rf"^{count} agents: first full paint 120x36, {label}: median \d+ ms", out, re.M)
    assert re.search(r"^live log: 100 events", out, re.M)  # the first count only
    assert len(re.findall(r"^live log:", out, re.M)) == 1
