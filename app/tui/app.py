"""The dashboard app, built by :func:`build_app` (the CLI and the tests use the same factory).

The app owns the API client, the clock, the period and the event stream: one
exclusive worker reads ``GET /api/events`` and hands each event to the screens;
when the stream drops it shows a banner and reconnects with exponential backoff.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from app.client import ApiError, DashboardClient
from app.tui.commands import DashboardCommands
from app.tui.formatting import PERIODS, Clock, utc_now
from app.tui.screens.main import MainScreen
from app.tui.screens.run_detail import RunScreen

RECONNECT_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


class CronAgentsApp(App[int]):
    """Cron Agents dashboard. Bindings: ``q`` quit [app.quit], ``?`` help [app.help]."""

    CSS_PATH = "app.tcss"
    TITLE = "Cron Agents"
    COMMANDS: ClassVar = App.COMMANDS | {DashboardCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (stops the local server)"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key"),
    ]

    def __init__(
        self,
        client: DashboardClient,
        *,
        clock: Clock = utc_now,
        source: str = "",
        keymap: dict[str, str] | None = None,
        default_timezone: str = "",
        period: str = "7d",
        stream_events: bool = True,
        reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock
        """Now, as an aware datetime (frozen in snapshot tests)."""
        self.source = source
        self.default_timezone = default_timezone
        self.period = period if period in PERIODS else "7d"
        """The stats period: 24h, 7d or 30d."""
        self._keymap = keymap or {}
        self._stream_events = stream_events
        self._reconnect_delays = tuple(reconnect_delays) or RECONNECT_DELAYS
        self.main_screen: MainScreen | None = None
        self.stream_open = False
        """True while the event stream is connected."""
        self.started_at = time.perf_counter()
        self.first_paint_at: float | None = None
        """perf_counter() when the agent table was first filled (for the benchmark)."""
        self.event_listeners: list[Callable[[dict[str, Any]], None]] = []
        """Extra callbacks for every event (tests and the benchmark)."""

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        self.main_screen = MainScreen()
        self.push_screen(self.main_screen)
        if self._stream_events:
            self.follow_events()

    def first_paint_done(self) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()

    def agent_name(self, agent_id: str) -> str:
        if self.main_screen is not None:
            agent = self.main_screen.table.agents.get(agent_id)
            if agent:
                return str(agent.get("name", agent_id))
        return agent_id

    def switch_to_main(self) -> None:
        while len(self.screen_stack) > 2 and self.screen is not self.main_screen:
            self.pop_screen()

    def action_help(self) -> None:
        if self.main_screen is not None and self.screen is self.main_screen:
            self.main_screen.action_help()

    # -- the event stream ----------------------------------------------------------------

    def _set_banner(self, message: str) -> None:
        if self.main_screen is not None and self.main_screen.is_mounted:
            self.main_screen.set_banner(message)

    def dispatch_event(self, event: dict[str, Any]) -> None:
        if self.main_screen is not None and self.main_screen.is_mounted:
            self.main_screen.handle_server_event(event)
        screen: Screen[Any] = self.screen
        if isinstance(screen, RunScreen):
            screen.handle_server_event(event)
        for listener in self.event_listeners:
            listener(event)

    @work(exclusive=True, group="events")
    async def follow_events(self) -> None:
        """Read the stream forever; reconnect with backoff and re-read state after a gap."""
        attempt = 0
        had_gap = False
        while True:
            reason = "the event stream ended"
            try:
                async for event in self.client.events():
                    kind = event.get("type")
                    if kind == "stream.open":
                        self.stream_open = True
                        attempt = 0
                        self._set_banner("")
                        if had_gap and self.main_screen is not None:
                            self.main_screen.reload()
                        had_gap = True
                        continue
                    if kind == "overflow":
                        reason = "fell behind the event stream"
                        break
                    self.dispatch_event(event)
            except ApiError as exc:
                reason = exc.message
            self.stream_open = False
            delay = self._reconnect_delays[min(attempt, len(self._reconnect_delays) - 1)]
            attempt += 1
            if reason.startswith("fell behind"):
                delay = 0.0
            else:
                self._set_banner(
                    f"Connection lost ({reason}) — reconnecting in {delay:g}s (attempt {attempt})"
                )
            await asyncio.sleep(delay)


def build_app(
    client: DashboardClient,
    *,
    clock: Clock = utc_now,
    source: str = "",
    keymap: dict[str, str] | None = None,
    default_timezone: str = "",
    stream_events: bool = True,
    reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
) -> CronAgentsApp:
    """The one way to make the dashboard (CLI, tests, screenshots, benchmark)."""
    return CronAgentsApp(
        client,
        clock=clock,
        source=source,
        keymap=keymap,
        default_timezone=default_timezone,
        stream_events=stream_events,
        reconnect_delays=reconnect_delays,
    )
