"""The typed base of the dashboard: the app as its screens see it, and the screens' base classes.

Screens reach the app as ``self.dash`` (a :class:`Dashboard`) instead of importing
``app.tui.app``: that module composes the screens, so the screens sit below it and
depend only on this base. The concrete app (:class:`app.tui.app.CronAgentsApp`)
adds the key bindings, the command palette and the event stream.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

from textual.app import App
from textual.screen import ModalScreen, Screen

from app.client import DashboardClient
from widgets.formatting import Clock, utc_now

PERIODS = ("24h", "7d", "30d")
"""The stats periods, in the order ``p`` cycles through them."""

ResultT = TypeVar("ResultT")


class Dashboard(App[int]):
    """What every screen may rely on: the API client, the clock, the stats period, the source."""

    def __init__(
        self,
        client: DashboardClient,
        *,
        clock: Clock = utc_now,
        source: str = "",
        default_timezone: str = "",
        period: str = "7d",
        notice: str = "",
    ) -> None:
        super().__init__()
        self.notice = notice
        """A standing warning with its fix, shown on the main screen (empty: none)."""
        self.client = client
        """The one way to the server (the REST API over httpx, or the tests' fake)."""
        self.clock = clock
        """Now, as an aware datetime (frozen in snapshot tests)."""
        self.source = source
        """Where the data comes from (``local`` or the remote URL), shown in the header."""
        self.default_timezone = default_timezone
        """The server's default time zone, for new agents."""
        self.period = period if period in PERIODS else "7d"
        """The stats period: 24h, 7d or 30d."""
        self.started_at = time.perf_counter()
        self.first_paint_at: float | None = None
        """perf_counter() when the agent table was first filled (for the benchmark)."""

    def next_period(self) -> str:
        """Move on to the next stats period (24h → 7d → 30d → 24h) and return it."""
        self.period = PERIODS[(PERIODS.index(self.period) + 1) % len(PERIODS)]
        return self.period

    def first_paint_done(self) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()


class DashboardScreen(Screen[ResultT], Generic[ResultT]):
    """A dashboard screen: ``self.dash`` is the app, typed. Open ones hear the event stream."""

    @property
    def dash(self) -> Dashboard:
        app = self.app
        assert isinstance(app, Dashboard), "dashboard screens run in a Dashboard app"
        return app


class DashboardModalScreen(ModalScreen[ResultT], DashboardScreen[ResultT]):
    """A dashboard dialog over another screen (``self.dash`` as on every dashboard screen).

    ModalScreen comes first: Textual inherits ``DEFAULT_CSS`` along the first base only,
    and the dialog's see-through background is ModalScreen's.
    """
