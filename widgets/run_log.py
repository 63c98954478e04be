"""RunLog: a run's transcript, appended to in batches so a fast stream never lags the UI.

Its first line, the run's header, says how long ago the run started; :meth:`tick`
(called once a second by the screen) redraws that line when its text changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.segment import Segment
from rich.text import Text
from textual.events import Resize
from textual.geometry import Region
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import RichLog

from widgets.formatting import Clock, RunHeader, event_text, utc_now

FLUSH_SECONDS = 0.05
MAX_LINES = 5_000


class RunLog(RichLog):
    """Events go into a buffer (:meth:`add_event`) written out at most every 50 ms (a timer
    runs only while something waits: an idle log costs nothing).

    ``pending`` and ``written`` are exposed for the benchmark and the tests.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=True, markup=False, highlight=False, **kwargs)
        self._pending: list[dict[str, Any]] = []
        self.written = 0
        """Events written to the screen so far."""
        self.max_pending = 0
        """The largest backlog seen between two flushes."""
        self.run_id: str | None = None
        """The run shown (events of other runs are ignored)."""
        self.clock: Clock = utc_now
        self._ticked: datetime | None = None
        """The time of the last tick (the screen's one reading for every widget)."""
        self._header: RunHeader | None = None
        self._header_plain = ""
        """The header line as last written (it is line 0 while that line holds this text)."""
        self._flush_timer: Timer | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def show_run(self, run_id: str | None, header: Text | None = None) -> None:
        """Start over with another run."""
        self.run_id = run_id
        self._pending.clear()
        self.clear()
        self._header = header if isinstance(header, RunHeader) else None
        if header is not None:
            shown = self._header.at(self._ticked or self.clock()) if self._header is not None else header
            self._header_plain = shown.plain
            self.write(shown)

    def on_resize(self, event: Resize) -> None:
        super().on_resize(event)
        self.tick()  # lines written while the log had no size (a hidden tab) were written with then's time

    def tick(self, now: datetime | None = None) -> None:
        """The clock moved (to ``now``): redraw the header's "started 12s ago" if it now reads
        differently."""
        if now is not None:
            self._ticked = now
        if self._header is None or not self.lines or self._start_line != 0:
            return
        text = self._header.at(self._ticked or self.clock())
        if text.plain == self._header_plain or self.lines[0].text.rstrip() != self._header_plain.rstrip():
            return
        console = self.app.console
        options = console.options.update_width(max(1, self.scrollable_content_region.width))
        lines = list(Segment.split_lines(console.render(text, options)))
        if len(lines) != 1:
            return  # wrapped: leave it as written
        self.lines[0] = Strip(lines[0])
        self._header_plain = text.plain
        self._widest_line_width = max(self._widest_line_width, self.lines[0].cell_length)
        self._line_cache.clear()
        if self.scroll_offset.y == 0:
            self.refresh(Region(0, 0, self.size.width, 1))

    def add_event(self, event: dict[str, Any]) -> None:
        self._pending.append(event)
        self.max_pending = max(self.max_pending, len(self._pending))
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(FLUSH_SECONDS, self._timed_flush)

    def _timed_flush(self) -> None:
        self._flush_timer = None
        self.flush()

    def add_events(self, events: list[dict[str, Any]]) -> None:
        self._pending.extend(events)
        self.flush()

    def note(self, text: Text | str) -> None:
        self.flush()
        self.write(text)

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        if len(batch) > MAX_LINES:
            batch = batch[-MAX_LINES:]
        for event in batch:
            self.write(event_text(event), scroll_end=False)
        self.written += len(batch)
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=False)
