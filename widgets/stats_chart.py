"""Stats charts (textual-plotext): stacked success/error runs per day, and the daily cost.

Each chart owns its figure (``self.plt``), redraws on resize and follows the
app theme (textual-plotext's ``"auto"`` theme), never the global ``plotext``.
"""

from __future__ import annotations

from typing import Any

from textual.events import Resize
from textual_plotext import PlotextPlot

MAX_TICKS = 8
TICK_CELLS = 9  # an "MM-DD" label and room around it


def _ticks(days: list[dict[str, Any]], width: int) -> tuple[list[float], list[str]]:
    """Positions 1..n with ``MM-DD`` labels (always the last day), as many as fit without overlap.

    plotext drops labels that would overlap by itself, but which ones depends on its own
    rounding; choosing the number here keeps the picture the same from one draw to the next.
    """
    fit = max(2, min(MAX_TICKS, (width - 12) // TICK_CELLS))
    step = max(1, -(-len(days) // fit))
    positions = list(range(len(days) - 1, -1, -step))[::-1]
    return [float(p + 1) for p in positions], [str(days[p].get("date", ""))[5:] for p in positions]


class _DailyChart(PlotextPlot):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.days: list[dict[str, Any]] = []
        """The ``dailyRuns`` buckets shown."""
        self.period = "7d"

    def set_days(self, days: list[dict[str, Any]], period: str) -> None:
        self.days = list(days)
        self.period = period
        self.replot()

    def on_mount(self) -> None:
        self.replot()

    def on_resize(self, event: Resize) -> None:
        self.replot()

    def replot(self) -> None:
        self.plt.clear_data()
        self.plt.clear_figure()
        self.draw()
        self.refresh()

    def draw(self) -> None:
        raise NotImplementedError


class RunsChart(_DailyChart):
    """Runs per day, successes stacked under errors."""

    def draw(self) -> None:
        plt = self.plt
        plt.title(f"Runs per day ({self.period})")
        if not self.days:
            return
        x = list(range(1, len(self.days) + 1))
        success = [int(d.get("success", 0)) for d in self.days]
        error = [int(d.get("error", 0)) for d in self.days]
        # The stub says ``label``/one colour; plotext itself takes ``labels`` and a colour each.
        plt.stacked_bar(
            x,
            [success, error],
            labels=["success", "error"],  # type: ignore[call-arg]
            color=["green", "red"],  # type: ignore[arg-type]
            width=0.6,
        )
        plt.xticks(*_ticks(self.days, self.size.width))
        plt.xlim(0.4, len(self.days) + 0.6)
        top = max((s + e for s, e in zip(success, error, strict=True)), default=0)
        plt.ylim(0, max(top, 1) * 1.2)
        step = max(1, -(-top // 4))
        plt.yticks(list(range(0, top + 1, step)))


class CostChart(_DailyChart):
    """Cost (USD) per day."""

    def draw(self) -> None:
        plt = self.plt
        total = sum(float(d.get("costUsd") or 0) for d in self.days)
        plt.title(f"Cost per day, USD ({self.period}: ${total:,.2f})")
        if not self.days:
            return
        x = list(range(1, len(self.days) + 1))
        cost = [round(float(d.get("costUsd") or 0), 4) for d in self.days]
        plt.bar(x, cost, color="orange", width=0.6)
        plt.xticks(*_ticks(self.days, self.size.width))
        plt.xlim(0.4, len(self.days) + 0.6)
        plt.ylim(0, max(max(cost, default=0), 0.01) * 1.2)
