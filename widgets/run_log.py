"""RunLog: a run's transcript, appended to in batches so a fast stream never lags the UI."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import RichLog

from widgets.formatting import event_text

FLUSH_SECONDS = 0.05
MAX_LINES = 5_000


class RunLog(RichLog):
    """Events go into a buffer (:meth:`add_event`) written out at most every 50 ms.

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

    def on_mount(self) -> None:
        self.set_interval(FLUSH_SECONDS, self.flush)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def show_run(self, run_id: str | None, header: Text | None = None) -> None:
        """Start over with another run."""
        self.run_id = run_id
        self._pending.clear()
        self.clear()
        if header is not None:
            self.write(header)

    def add_event(self, event: dict[str, Any]) -> None:
        self._pending.append(event)
        self.max_pending = max(self.max_pending, len(self._pending))

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
