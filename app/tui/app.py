"""The dashboard app, built by :func:`build_app` (the CLI and the tests use the same factory).

The app composes the screens and owns the event stream: one exclusive worker
(:class:`app.tui.event_stream.EventStream`) reads ``GET /api/events`` and posts
each event, as a typed message, to every open dashboard screen. What the screens
need from the app (client, clock, period) is :class:`app.tui.base.Dashboard`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding

from app.client import DashboardClient
from app.tui.base import Dashboard, DashboardScreen
from app.tui.commands import BoundActions
from app.tui.event_stream import RECONNECT_DELAYS, EventStream
from app.tui.messages import ServerMessage
from app.tui.screens.main import MainScreen
from widgets.formatting import Clock, utc_now


class CronAgentsApp(Dashboard):
    """Cron Agents dashboard. Bindings: ``q`` quit [app.quit], ``?`` help [app.help]."""

    TITLE = "Cron Agents"
    COMMANDS: ClassVar = App.COMMANDS | {BoundActions}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (stops the local server)"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Help: every key"),
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
        notice: str = "",
    ) -> None:
        super().__init__(
            client,
            clock=clock,
            source=source,
            default_timezone=default_timezone,
            period=period,
            notice=notice,
        )
        self._keymap = keymap or {}
        self._stream_events = stream_events
        self._reconnect_delays = reconnect_delays
        self._stream: EventStream | None = None
        self.main_screen: MainScreen | None = None
        # What exists now (modules, and in local mode the embedded server and its data) stays:
        # out of the cyclic collector's reach, a full collection no longer walks it (one took
        # 150-250 ms in the middle of the first paint). Undone when the app ends.
        gc.freeze()

    def first_paint_done(self) -> None:
        """The screen is built and the agents are in: freeze them too (cheap collections from now on).

        A frozen object that later becomes cyclic garbage (a widget of the first screen removed
        afterwards, such as the footer's first keys) is freed only when the app ends: a one-time,
        bounded cost. Objects made after this are collected as usual."""
        if self.first_paint_at is None:
            gc.freeze()
        super().first_paint_done()

    def on_unmount(self) -> None:
        gc.unfreeze()

    @property
    def stream_open(self) -> bool:
        """True while the event stream is connected."""
        return self._stream is not None and self._stream.is_open

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)
        self.main_screen = MainScreen()
        self.push_screen(self.main_screen)
        if self._stream_events:
            self._stream = EventStream(self.client, self.post_to_screens, self._reconnect_delays)
            self.follow_events(self._stream)

    @work(exclusive=True, group="events")
    async def follow_events(self, stream: EventStream) -> None:
        """The event-stream worker: reads and reconnects until the app ends."""
        await stream.follow()

    def post_to_screens(self, make: Callable[[], ServerMessage | None]) -> None:
        """Post a message from ``make`` to every open dashboard screen (a fresh one each)."""
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen) and (message := make()) is not None:
                screen.post_message(message)

    def action_help(self) -> None:
        if self.main_screen is not None and self.screen is self.main_screen:
            self.main_screen.action_help()


def build_app(
    client: DashboardClient,
    *,
    clock: Clock = utc_now,
    source: str = "",
    keymap: dict[str, str] | None = None,
    default_timezone: str = "",
    stream_events: bool = True,
    reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
    notice: str = "",
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
        notice=notice,
    )
