"""StatsHeader: the global figures for the period, one line across the top."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from widgets.formatting import money


class StatsHeader(Static):
    """Agents, active, runs in the period, success rate, cost and runs in progress."""

    DEFAULT_CSS = """
    StatsHeader {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    """

    stats: reactive[dict[str, Any] | None] = reactive(None, always_update=True)
    """The ``GET /api/agents/stats`` answer, or None before the first load."""
    running: reactive[int] = reactive(0)
    """Agents with a run in progress right now (kept live from the event stream)."""
    period: reactive[str] = reactive("7d")
    """The period the figures cover."""
    source: reactive[str] = reactive("")
    """Where the data comes from (``local`` or the remote URL)."""

    def render(self) -> Text:
        s = self.stats or {}

        def item(label: str, value: str, style: str = "bold") -> Text:
            return Text.assemble((label + " ", "dim"), (value, style))

        rate = s.get("successRate")
        rate_style = "bold"
        if isinstance(rate, int) and s.get("runsInPeriod"):
            rate_style = "bold green" if rate >= 90 else "bold yellow" if rate >= 70 else "bold red"
        narrow = self.size.width < 100
        parts = [] if narrow else [Text("Cron Agents", style="bold")]
        parts += [
            item("agents", str(s.get("totalAgents", "…"))),
            item("active", str(s.get("activeAgents", "…"))),
            item(f"runs/{self.period}", str(s.get("runsInPeriod", "…"))),
            item("success", f"{rate}%" if rate is not None and s.get("runsInPeriod") else "—", rate_style),
            item("cost", money(s.get("totalCostUsd")) if s else "…"),
            item("running", str(self.running), "bold cyan" if self.running else "bold"),
        ]
        text = Text("  ").join(parts)
        if self.source and not narrow:
            text.append("  " + self.source, style="dim")
        return text
