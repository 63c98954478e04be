"""StatsHeader: the global figures for the period, one line across the top.

When the settings set global spend caps, the spend today and this month is shown
against them (``today $1.20/$20.00``), yellow from 80 % of a cap, red at it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from widgets.formatting import Clock, money, relative, spend_against, truncate, utc_now


class StatsHeader(Static):
    """Agents, active, runs in the period, success rate, cost, runs in progress, spend against the caps."""

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
    next_run: reactive[tuple[str, str] | None] = reactive(None)
    """The soonest next run: (agent name, ``nextRunAt``), shown as ``next Digest in 50s``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock: Clock = utc_now
        self._ticked: datetime | None = None
        self._next_text = ""

    def _next_run_text(self) -> str:
        if self.next_run is None:
            return ""
        name, at = self.next_run
        return f"{truncate(name, 16)} {relative(at, self._ticked or self.clock())}"

    def tick(self, now: datetime | None = None) -> None:
        """The clock moved (to ``now``): draw again only if the next run's time now reads differently."""
        self._ticked = now or self.clock()
        if self._next_run_text() != self._next_text:
            self.refresh()

    def render(self) -> Text:
        s = self.stats or {}

        def item(label: str, value: str, style: str = "bold") -> Text:
            return Text.assemble((label + " ", "dim"), (value, style))

        rate = s.get("successRate")
        rate_style = "bold"
        if isinstance(rate, int) and s.get("runsInPeriod"):
            rate_style = "bold green" if rate >= 90 else "bold yellow" if rate >= 70 else "bold red"
        narrow = self.size.width < 100
        spend = s.get("spend") or {}
        capped = [
            (label, spend.get(spent_key), spend.get(cap_key))
            for label, spent_key, cap_key in (
                ("today", "todayUsd", "dailyBudgetUsd"),
                ("month", "monthUsd", "monthlyBudgetUsd"),
            )
            if spend.get(cap_key)
        ]
        if narrow:
            capped = []  # no room left at 80 columns
        # The name gives way to the spend against the caps when the line is short of room.
        titled = not narrow and (not capped or self.size.width >= 140)
        parts = [Text("Cron Agents", style="bold")] if titled else []
        parts += [
            item("agents", str(s.get("totalAgents", "…"))),
            item("active", str(s.get("activeAgents", "…"))),
            item(f"runs/{self.period}", str(s.get("runsInPeriod", "…"))),
            item("success", f"{rate}%" if rate is not None and s.get("runsInPeriod") else "—", rate_style),
            item("cost", money(s.get("totalCostUsd")) if s else "…"),
            item("running", str(self.running), "bold cyan" if self.running else "bold"),
        ]
        self._next_text = self._next_run_text()
        if self._next_text and not narrow:
            parts.append(item("next", self._next_text, "bold"))
        for label, spent, cap in capped:
            shown = spend_against(spent, cap)
            shown.stylize("bold")
            parts.append(Text.assemble((label + " ", "dim"), shown))
        text = Text("  ").join(parts)
        if self.source and not narrow:
            text.append("  " + self.source, style="dim")
        return text
