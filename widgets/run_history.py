"""RunHistory: an agent's runs, newest first; Enter opens a run's transcript.

The Trigger column says what started each run: ``schedule``, ``manual``, a retry with
its attempt (``↻ retry 2``, yellow), a run started by another agent's run ending
(``↳ chain``, cyan) or by a signed inbound webhook (``↯ webhook``, magenta).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from widgets.formatting import duration, money, parse_iso, relative, status_text, truncate

# (key, label, width): fixed widths, so a table filled in two steps never ends up narrower.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("started", "Started", 23),
    ("status", "Status", 11),
    ("trigger", "Trigger", 9),
    ("duration", "Took", 6),
    ("cost", "Cost", 7),
    ("turns", "Turns", 5),
    ("output", "Output", 60),
)


TRIGGER_MARKS = {"chain": ("↳ chain", "cyan"), "webhook": ("↯ webhook", "magenta")}
"""How a run started by a chain or a webhook is marked."""


def trigger_text(run: dict[str, Any]) -> Text:
    """``schedule``, ``manual``, ``↻ retry 2`` for a retry (its attempt), ``↳ chain``, ``↯ webhook``."""
    trigger = str(run.get("trigger") or "")
    if trigger == "retry":
        return Text(f"↻ retry {run.get('attempt') or ''}".rstrip(), style="yellow")
    if trigger in TRIGGER_MARKS:
        label, style = TRIGGER_MARKS[trigger]
        return Text(label, style=style)
    return Text(trigger)


class RunHistory(DataTable[Any]):
    """Run rows keyed by run id; ``RowSelected`` (Enter) is handled by the screen."""

    def __init__(self, clock: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._clock = clock
        self._ticked: datetime | None = None
        """The time of the last tick: rows built until the next one use it (in step with the table)."""
        self.runs: list[dict[str, Any]] = []

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def _started(self, run: dict[str, Any]) -> Text:
        """``01-07 09:55 5m ago``: when the run started (or is due), and how long ago."""
        started = parse_iso(run.get("startedAt") or run.get("scheduledFor"))
        when = started.strftime("%m-%d %H:%M") if started else "—"
        ago = relative(run.get("startedAt") or run.get("scheduledFor"), self._ticked or self._clock())
        return Text.assemble((when, ""), (f" {ago}", "dim"))

    def _cells(self, run: dict[str, Any]) -> list[Any]:
        output = " ".join(str(run.get("output") or "").split())
        return [
            self._started(run),
            status_text(run.get("status")),
            trigger_text(run),
            duration(run.get("durationMs")),
            Text(money(run.get("costUsd")), justify="right"),
            Text(str(run.get("numTurns") if run.get("numTurns") is not None else "—"), justify="right"),
            Text(truncate(output, 60), style="dim"),
        ]

    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        self.runs = list(runs)
        self.clear()
        for run in self.runs:
            self.add_row(*self._cells(run), key=str(run["id"]))

    def upsert(self, run: dict[str, Any]) -> None:
        """A run started or finished: update its row, or put it on top."""
        run_id = str(run["id"])
        for i, existing in enumerate(self.runs):
            if existing["id"] == run_id:
                self.runs[i] = run
                for (key, _, _), value in zip(COLUMNS, self._cells(run), strict=True):
                    self.update_cell(run_id, key, value)
                return
        self.set_runs([run, *self.runs])

    def tick(self, now: datetime | None = None) -> None:
        """The clock moved (to ``now``): redraw the Started cells whose "ago" now reads differently
        (when on screen)."""
        self._ticked = now or self._clock()
        if not self.runs or not self.is_on_screen:
            return
        top = self.scroll_offset.y
        for run in self.runs[top : top + self.size.height]:
            run_id = str(run["id"])
            started = self._started(run)
            try:
                if self.get_cell(run_id, "started").plain != started.plain:
                    self.update_cell(run_id, "started", started)
            except (CellDoesNotExist, RowDoesNotExist):
                pass

    @property
    def selected_run_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
