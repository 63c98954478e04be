"""GlobalStatsScreen: the same charts across all agents (``GET /api/agents/stats``).

Bindings: ``p`` cycle the period [stats.period], ``escape``/``g`` back [global.back].
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Static

from app.client import ApiError
from app.tui.base import DashboardScreen
from widgets.formatting import duration, money
from widgets.stats_chart import CostChart, RunsChart


class GlobalStatsScreen(DashboardScreen[None]):
    """The summary line, then runs per day above cost per day, for the app's period."""

    BINDINGS = [
        Binding("p", "cycle_period", "Period", id="stats.period", tooltip="Stats period: 24h → 7d → 30d"),
        Binding("escape,g", "app.pop_screen", "Back", id="global.back", tooltip="Back to the agents"),
    ]

    DEFAULT_CSS = """
    GlobalStatsScreen > #global-title {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    GlobalStatsScreen > #global-charts {
        height: 1fr;
    }
    #global-charts RunsChart, #global-charts CostChart {
        height: 1fr;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("All agents", id="global-title")
        with Vertical(id="global-charts"):
            yield RunsChart(id="global-runs-chart")
            yield CostChart(id="global-cost-chart")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="load-global")
    async def load(self) -> None:
        period = self.dash.period
        try:
            stats = await self.dash.client.global_stats(period)
        except ApiError as exc:
            self.query_one("#global-title", Static).update(f"✗ {exc.message}")
            return
        runs = stats.get("runsInPeriod", 0)
        rate = f"{stats.get('successRate')}%" if runs else "—"
        self.query_one("#global-title", Static).update(
            Text.assemble(
                ("All agents", "bold"),
                (f" · last {period}: ", "dim"),
                (f"{runs} runs", "bold"),
                (" · success ", "dim"),
                (rate, "bold"),
                (" · cost ", "dim"),
                (money(stats.get("totalCostUsd")), "bold"),
                (" · avg ", "dim"),
                (duration(stats.get("avgDurationMs") or None), "bold"),
                (" · skipped ", "dim"),
                (str(stats.get("skippedRuns", 0)), "bold"),
                ("   p: period  esc: back", "dim"),
            )
        )
        days = list(stats.get("dailyRuns", []))
        self.query_one(RunsChart).set_days(days, period)
        self.query_one(CostChart).set_days(days, period)

    def action_cycle_period(self) -> None:
        self.dash.next_period()
        self.load()
