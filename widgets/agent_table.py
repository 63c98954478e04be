"""AgentTable: one row per agent, kept current by upserts from the event stream.

A virtual table: every agent is kept (sorted by name, filtered by ``/``), but a
row's cells are built and drawn only when the row is on screen. Filling it with
10,000 agents costs a sort, not 10,000 rows of cells measured and laid out (a
Textual ``DataTable`` does that for every row, which is what made the first paint
slow). Column widths come from cheap string lengths over every agent, so they do
not jump while scrolling; the relative times have fixed widths.

The Cost column is each agent's cost in the period, from the global stats'
``costByAgent`` (one call for every agent; an agent it does not list spent
nothing). The Today column (wide layout) is the agent's spend today, against its
daily cap where it has one ("$1.20/$5.00"). An agent the server paused says why in
the Next run column ("paused: 3 failures"). The cron expression itself is on the
detail line below the table (and in the editor): the table says it in plain English,
and a one-shot agent's time ("once, Fri 10 Jan 16:00", in its zone).

Relative times ("in 50s", "9s ago") are redrawn by :meth:`tick`, which the screen
calls once a second: only the rows on screen are looked at, and only the lines
whose text changed are drawn again.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from app import cron
from widgets.formatting import money, paused_text, relative, spend_against, spend_label, status_text, truncate
from widgets.triggers import when_text

WIDE_COLUMNS = (
    ("name", "Name"),
    ("on", "On"),
    ("when", "Schedule"),
    ("next", "Next run"),
    ("last", "Last run"),
    ("status", "Status"),
    ("today", "Today"),
    ("cost", "Cost"),
)
# Under WIDE_FROM columns the on/off dot gives way to "paused" in the next-run column, and
# today's spend to the detail line.
NARROW_COLUMNS = tuple(c for c in WIDE_COLUMNS if c[0] not in ("on", "today"))
WIDE_FROM = 110
RIGHT = frozenset({"today", "cost"})
"""Columns whose cells are right-aligned."""
TIME_WIDTHS = {"next": 10, "last": 11}
"""The relative times' columns are at least this wide (``in 10d 23h``, ``10d 23h ago``), or as wide as
the farthest next run and the oldest last run: they change every second, their columns do not."""
PADDING = 1
"""Blank cells on each side of a cell, as DataTable's ``cell_padding``."""
COLUMN_META = tuple(Style.from_meta({"column": i}) for i in range(len(WIDE_COLUMNS)))
CELL_CACHE = 512
"""Rows whose cells are kept built (about a dozen screens of them)."""


@lru_cache(maxsize=4096)
def describe_schedule(expr: str) -> str:
    """Plain English for a schedule; cached: a thousand agents share a handful of schedules."""
    return cron.describe_schedule(expr)


def _name_key(agent: dict[str, Any]) -> tuple[str, str]:
    return (str(agent.get("name", "")).lower(), str(agent["id"]))


class AgentTable(ScrollView, can_focus=True):
    """The agents, by name; rows are agent ids.

    Moving the cursor posts :class:`AgentTable.RowHighlighted`; Enter (or a click on
    the cursor's row) posts :class:`AgentTable.RowSelected`: the screen opens the editor.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First", show=False),
        Binding("end,ctrl+end", "last", "Last", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "datatable--cursor",
        "datatable--header",
        "datatable--odd-row",
        "datatable--even-row",
    }
    # DataTable's look (the same component classes and colours).
    DEFAULT_CSS = """
    AgentTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .datatable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .datatable--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .datatable--even-row {
            background: $surface-darken-1 40%;
        }
        & > .datatable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .datatable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .datatable--odd-row {
        }
        & > .datatable--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .datatable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class RowHighlighted(Message):
        """The cursor moved to another agent (or the table emptied: ``agent_id`` None)."""

        def __init__(self, table: AgentTable, agent_id: str | None) -> None:
            super().__init__()
            self.table = table
            self.agent_id = agent_id

        @property
        def control(self) -> AgentTable:
            return self.table

    class RowSelected(Message):
        """Enter on an agent."""

        def __init__(self, table: AgentTable, agent_id: str) -> None:
            super().__init__()
            self.table = table
            self.agent_id = agent_id

        @property
        def control(self) -> AgentTable:
            return self.table

    def __init__(self, clock: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        self.agents: dict[str, dict[str, Any]] = {}
        """Every agent known, filtered or not, by id."""
        self.spend: dict[str, dict[str, Any]] = {}
        """Each agent's ``costByAgent`` entry (cost in the period, spend today and this month), by id."""
        self.spend_known = False
        """Whether the costs were read (before, the Cost column shows "—")."""
        self.running: set[str] = set()
        """Agents with a run in progress."""
        self.filter_text = ""
        self.columns_shown: tuple[tuple[str, str], ...] = ()
        """The (key, label) columns for the current width."""
        self.widths: dict[str, int] = {}
        """Each column's content width (without padding)."""
        self.cursor_row = 0
        """The cursor's row index among the rows shown."""
        self._keys: list[tuple[str, str]] = []
        """Every agent's sort key (lowercased name, id), sorted."""
        self._sorted: list[str] = []
        """Every agent id, in the order of ``_keys``."""
        self._rows: list[str] = []
        """The ids shown (``_sorted`` filtered), in order."""
        self._index: dict[str, int] | None = None
        """id -> row index in ``_rows`` (built when first asked for)."""
        self._cells: dict[str, list[Text]] = {}
        """Built cells of the rows drawn lately, by id."""
        self._style_cache: dict[bool, tuple[Style, Style, Style, Style, Style]] = {}
        self._strips: dict[tuple[Any, ...], Strip] = {}
        """Drawn lines (uncropped) of the rows drawn lately: a frame that redraws the whole screen
        (the live log's writes cause one every 50 ms) copies them instead of rendering rows again."""
        self._highlighted: str | None = None
        """The agent the last RowHighlighted named."""
        self._next_run: tuple[str, str] | None = None
        self._next_run_dirty = True
        self._ticked: datetime | None = None
        """The time of the last tick (None before the first: the clock is read)."""

    # -- layout ----------------------------------------------------------------------

    def on_mount(self) -> None:
        self._layout_columns(self.app.size.width)

    def on_resize(self) -> None:
        self._layout_columns(self.app.size.width)
        self._scroll_cursor_into_view()

    def _layout_columns(self, width: int) -> None:
        wanted = WIDE_COLUMNS if width >= WIDE_FROM else NARROW_COLUMNS
        if wanted == self.columns_shown:
            return
        self.columns_shown = wanted
        self._forget()
        self._measure()

    @property
    def wide(self) -> bool:
        return self.columns_shown is WIDE_COLUMNS

    def _measure(self, keys: Iterable[str] | None = None) -> None:
        """The columns' widths over every agent (``keys``: only those columns), from string lengths."""
        wanted = {key for key, _ in self.columns_shown}
        if keys is not None:
            wanted &= set(keys)
        agents = self.agents.values()
        now = self._ticked or self._clock()
        name_limit, when_limit = (24, 28) if self.wide else (16, 14)
        widths = dict(self.widths)
        for key, label in self.columns_shown:
            if key not in wanted:
                continue
            width = cell_len(label)
            if key == "name":
                width = max(
                    [width, *(cell_len(truncate(str(a.get("name", "")), name_limit)) for a in agents)]
                )
            elif key == "on":
                width = max(width, 1)
            elif key == "when":
                schedules = {str(a.get("schedule") or "") for a in agents}
                texts = [describe_schedule(s) for s in schedules if s]
                if "" in schedules:  # one-shots: their times are all as wide
                    once = next(a for a in agents if not a.get("schedule"))
                    texts.append(when_text(once, short=not self.wide) or "")
                width = max([width, *(cell_len(truncate(t, when_limit)) for t in texts)])
            elif key == "next":  # (the API's timestamps, UTC with ``Z``, sort as the times they are)
                paused = {(a.get("pausedReason") or "") for a in agents if not a.get("enabled")}
                farthest = max(
                    (a["nextRunAt"] for a in agents if a.get("enabled") and a.get("nextRunAt")), default=None
                )
                width = max(
                    [
                        width,
                        TIME_WIDTHS["next"],
                        cell_len(relative(farthest, now)),
                        *(paused_text(r, narrow=not self.wide).cell_len for r in paused),
                    ]
                )
            elif key == "last":
                oldest = min((a["lastRunAt"] for a in agents if a.get("lastRunAt")), default=None)
                width = max(width, TIME_WIDTHS["last"], cell_len(relative(oldest, now)))
            elif key == "status":
                statuses = {a.get("lastStatus") for a in agents} | ({"running"} if self.running else set())
                width = max([width, *(status_text(s).cell_len for s in statuses)])
            elif key == "today":
                if self.spend_known:
                    width = max(
                        [
                            width,
                            *(
                                len(
                                    spend_label(
                                        self.spend.get(i, {}).get("todayUsd"), a.get("dailyBudgetUsd")
                                    )
                                )
                                for i, a in self.agents.items()
                            ),
                        ]
                    )
                else:
                    width = max(width, 1)
            elif key == "cost":
                if self.spend_known:
                    width = max(
                        [
                            width,
                            len(money(0.0)),
                            *(len(money(float(e.get("costUsd") or 0.0))) for e in self.spend.values()),
                        ]
                    )
                else:
                    width = max(width, 1)
            widths[key] = width
        if widths != self.widths:
            self.widths = widths
            self._forget()
            self.refresh()
        self._update_virtual_size()

    def _grow(self, agent: dict[str, Any]) -> None:
        """Widen the columns an agent's cells no longer fit in (a new or changed agent)."""
        cells = self._build_cells(agent)
        grown = {
            key: cell.cell_len
            for (key, _), cell in zip(self.columns_shown, cells, strict=True)
            if cell.cell_len > self.widths.get(key, 0)
        }
        if grown:
            self.widths.update(grown)
            self._forget()
            self._update_virtual_size()
            self.refresh()

    def _update_virtual_size(self) -> None:
        width = sum(self.widths.get(key, 0) + 2 * PADDING for key, _ in self.columns_shown)
        self.virtual_size = Size(width, len(self._rows) + 1)

    # -- what the tests and the screen read ------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows shown (the agents the filter lets through)."""
        return len(self._rows)

    @property
    def ordered_ids(self) -> list[str]:
        """The agent ids shown, top to bottom."""
        return list(self._rows)

    @property
    def selected_id(self) -> str | None:
        if not self._rows:
            return None
        return self._rows[min(self.cursor_row, len(self._rows) - 1)]

    def get_row_index(self, agent_id: str) -> int | None:
        if self._index is None:
            self._index = {agent_id: i for i, agent_id in enumerate(self._rows)}
        return self._index.get(agent_id)

    def get_row_at(self, index: int) -> list[Text]:
        """The cells of the row at ``index``, as shown (built now if they are not)."""
        return self._row_cells(self._rows[index])

    def get_cell(self, agent_id: str, key: str) -> Text:
        """The cell of column ``key`` in the agent's row."""
        keys = [k for k, _ in self.columns_shown]
        return self._row_cells(agent_id)[keys.index(key)]

    # -- cells -----------------------------------------------------------------------

    def _forget(self, agent_id: str | None = None) -> None:
        """Build (and draw) the agent's row again when next drawn; with None, every row's."""
        if agent_id is None:
            self._cells.clear()
            self._strips.clear()
        else:
            self._cells.pop(agent_id, None)
            for key in [k for k in self._strips if k[0] == agent_id]:
                del self._strips[key]

    def _row_cells(self, agent_id: str) -> list[Text]:
        cells = self._cells.get(agent_id)
        if cells is None:
            if len(self._cells) >= CELL_CACHE:
                self._forget()
            cells = self._cells[agent_id] = self._build_cells(self.agents[agent_id])
        return cells

    def _times(self, agent: dict[str, Any], now: datetime) -> tuple[str | None, str]:
        """Next run (None when disabled: it says paused) and Last run, as shown at ``now``."""
        next_run = relative(agent.get("nextRunAt"), now) if agent.get("enabled") else None
        return next_run, relative(agent.get("lastRunAt"), now)

    def _build_cells(self, agent: dict[str, Any]) -> list[Text]:
        wide = self.wide
        agent_id = str(agent["id"])
        status = "running" if agent_id in self.running else agent.get("lastStatus")
        enabled = bool(agent.get("enabled"))
        spend = self.spend.get(agent_id, {})
        next_text, last_text = self._times(agent, self._ticked or self._clock())
        cells: dict[str, Text] = {
            "name": Text(
                truncate(str(agent.get("name", "")), 24 if wide else 16), style="bold" if enabled else "dim"
            ),
            "when": Text(
                truncate(
                    when_text(agent, short=not wide) or describe_schedule(str(agent.get("schedule", ""))),
                    28 if wide else 14,
                )
            ),
            "next": Text(next_text)
            if next_text is not None
            else paused_text(agent.get("pausedReason"), narrow=not wide),
            "last": Text(last_text),
            "status": status_text(status),
            "cost": Text(
                money(float(spend.get("costUsd") or 0.0)) if self.spend_known else "—", justify="right"
            ),
        }
        if wide:
            cells["on"] = Text("●", style="green") if enabled else Text("○", style="dim")
            cells["today"] = (
                spend_against(spend.get("todayUsd"), agent.get("dailyBudgetUsd"))
                if self.spend_known
                else Text("—", justify="right")
            )
        return [cells[key] for key, _ in self.columns_shown]

    # -- drawing ---------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_cache.clear()
        self._strips.clear()
        self.refresh()

    def _line(self, cells: Iterable[Text], style: Style, post: Style | None = None) -> Strip:
        """One line: each cell padded to its column, its style marked with the column (so a
        cell's segments are not merged with the next cell's, as DataTable's are not: the SVG
        screenshots place each segment at its column)."""
        console = self.app.console
        pad = " " * PADDING
        segments: list[Segment] = []
        for column, ((key, _), cell) in enumerate(zip(self.columns_shown, cells, strict=True)):
            width = self.widths.get(key, 0)
            cell_style = style + COLUMN_META[column]
            plain = cell.plain
            if not cell.spans and cell_len(plain) == len(plain):  # one style, one cell a character
                if len(plain) > width:
                    plain = plain[: max(0, width - 1)] + "…"
                plain = plain.rjust(width) if key in RIGHT else plain.ljust(width)
                segments += (
                    Segment(pad, cell_style),
                    Segment(plain, cell_style + console.get_style(cell.style)),
                    Segment(pad, cell_style),
                )
                continue
            fitted = cell.copy()
            fitted.truncate(width, overflow="ellipsis")
            fitted.align("right" if key in RIGHT else "left", width)
            padded = Text(pad, end="", no_wrap=True)
            padded.append_text(fitted)
            padded.append(pad)
            padded.stylize_before(cell_style)
            segments.extend(padded.render(console))
        if post is not None:
            segments = list(Segment.apply_style(segments, post_style=post))
        return Strip(segments)

    def _styles(self) -> tuple[Style, Style, Style, Style, Style]:
        """The base, header, even row, odd row and cursor styles (asking the DOM for them is slow:
        a quarter of a millisecond each); kept until the styles change, for each focus state."""
        styles = self._style_cache.get(self.has_focus)
        if styles is None:
            component = self.get_component_styles
            styles = self._style_cache[self.has_focus] = (
                self.rich_style,
                component("datatable--header").rich_style,
                component("datatable--even-row").rich_style,
                component("datatable--odd-row").rich_style,
                self.get_component_rich_style("datatable--cursor"),
            )
        return styles

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base, header, even, odd, cursor_style = self._styles()
        if y == 0:
            key: tuple[Any, ...] = ("", "header", self.has_focus)
            strip = self._strips.get(key)
            if strip is None:
                labels = [Text(label) for _, label in self.columns_shown]
                strip = self._strips[key] = self._line(labels, base + header)
        else:
            index = scroll_y + y - 1
            if index >= len(self._rows):
                return Strip.blank(width, base)
            agent_id = self._rows[index]
            cursor = index == self.cursor_row
            key = (agent_id, index % 2, cursor, self.has_focus)
            strip = self._strips.get(key)
            if strip is None:
                if len(self._strips) >= CELL_CACHE:
                    self._strips.clear()
                style, post = base + (odd if index % 2 else even), None
                if cursor:
                    style, post = style + cursor_style, Style.from_color(color=cursor_style.color)
                strip = self._strips[key] = self._line(self._row_cells(agent_id), style, post)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _refresh_row(self, index: int) -> None:
        """Draw the row at ``index`` again if it is on screen."""
        line = index - self.scroll_offset.y + 1
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def _visible_range(self) -> range:
        top = self.scroll_offset.y
        return range(top, min(len(self._rows), top + max(0, self.size.height - 1)))

    def tick(self, now: datetime | None = None) -> None:
        """The clock moved (to ``now``, the screen's one reading for every widget): redraw the rows
        on screen whose relative times now read differently. Rows built until the next tick use
        ``now`` too, so a row scrolled into view agrees with its neighbours."""
        now = self._ticked = now or self._clock()
        if not self._rows:
            return
        keys = [key for key, _ in self.columns_shown]
        for index in self._visible_range():
            agent_id = self._rows[index]
            cells = self._cells.get(agent_id)
            if cells is None:
                continue  # never drawn: it will be built with the time of its drawing
            next_text, last_text = self._times(self.agents[agent_id], now)
            if (next_text is not None and cells[keys.index("next")].plain != next_text) or cells[
                keys.index("last")
            ].plain != last_text:
                self._forget(agent_id)
                self._refresh_row(index)

    def next_run(self) -> tuple[str, str] | None:
        """The soonest next run of an enabled agent: (name, ``nextRunAt``); None when none is due.

        Worked out again only after a change (at most once per call, so once per tick)."""
        if self._next_run_dirty:
            self._next_run_dirty = False
            due = [
                (a["nextRunAt"], str(a.get("name", "")))
                for a in self.agents.values()
                if a.get("enabled") and a.get("nextRunAt")
            ]
            at = min(due, default=None)  # the API's timestamps (UTC, ``Z``) sort as times
            self._next_run = (at[1], at[0]) if at else None
        return self._next_run

    # -- rows ------------------------------------------------------------------------

    def set_agents(self, agents: Iterable[dict[str, Any]]) -> None:
        """Replace every row (keeps the cursor on the same agent when it is still there)."""
        keep = self.selected_id
        self.agents = {str(a["id"]): a for a in agents}
        self._next_run_dirty = True
        order = sorted(self.agents.values(), key=_name_key)
        self._keys = [_name_key(a) for a in order]
        self._sorted = [str(a["id"]) for a in order]
        self._forget()
        self._measure()
        self._rebuild(keep)

    def _rebuild(self, keep: str | None) -> None:
        """The rows shown, from the sorted ids and the filter; the cursor stays on ``keep``."""
        if self.filter_text:
            needle = self.filter_text.lower()
            self._rows = [i for k, i in zip(self._keys, self._sorted, strict=True) if needle in k[0]]
        else:
            self._rows = list(self._sorted)
        self._index = None
        self._update_virtual_size()
        index = self.get_row_index(keep) if keep is not None else None
        self._move(index if index is not None else self.cursor_row)
        self.refresh()

    def select_agent(self, agent_id: str) -> None:
        index = self.get_row_index(agent_id)
        if index is not None:
            self._move(index)

    def upsert(self, agent: dict[str, Any]) -> None:
        agent_id = str(agent["id"])
        old = self.agents.get(agent_id)
        self.agents[agent_id] = agent
        self._next_run_dirty = True
        self._forget(agent_id)
        if old is not None and _name_key(old) == _name_key(agent):
            self._grow(agent)
            index = self.get_row_index(agent_id)
            if index is not None:
                self._refresh_row(index)
            return
        keep = self.selected_id
        if old is not None:
            self._remove_key(_name_key(old))
        key = _name_key(agent)
        at = bisect_left(self._keys, key)
        self._keys.insert(at, key)
        self._sorted.insert(at, agent_id)
        self._grow(agent)
        self._rebuild(keep)

    def _remove_key(self, key: tuple[str, str]) -> None:
        at = bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            del self._keys[at]
            del self._sorted[at]

    def remove_agent(self, agent_id: str) -> None:
        agent = self.agents.pop(agent_id, None)
        if agent is None:
            return
        self._next_run_dirty = True
        self._forget(agent_id)
        keep = self.selected_id
        self._remove_key(_name_key(agent))
        self._rebuild(keep if keep != agent_id else None)

    def set_running(self, agent_id: str, running: bool) -> None:
        (self.running.add if running else self.running.discard)(agent_id)
        if agent_id in self.agents:
            self._changed(agent_id)

    def _changed(self, agent_id: str) -> None:
        self._forget(agent_id)
        self._grow(self.agents[agent_id])
        index = self.get_row_index(agent_id)
        if index is not None:
            self._refresh_row(index)

    def set_last_run(self, agent_id: str, run: dict[str, Any]) -> None:
        """Status and Last run from a run that started or finished."""
        agent = self.agents.get(agent_id)
        if agent is not None and run.get("status"):
            last_run_at = run.get("startedAt") or agent.get("lastRunAt")
            self.upsert({**agent, "lastStatus": run.get("status"), "lastRunAt": last_run_at})

    def set_next_run(self, agent_id: str, next_run_at: str | None) -> None:
        agent = self.agents.get(agent_id)
        if agent is not None:
            self.upsert({**agent, "nextRunAt": next_run_at})

    def set_cost_by_agent(self, cost_by_agent: Iterable[dict[str, Any]]) -> None:
        """The global stats' ``costByAgent``: the Cost and Today columns of every agent.

        Only the rows on screen whose figures changed are drawn again; the others are
        built with the new figures when they come into view.
        """
        spend = {str(entry["agentId"]): entry for entry in cost_by_agent}
        figures = ("costUsd", "todayUsd")
        changed = [
            agent_id
            for agent_id in self._cells
            if not self.spend_known
            or [self.spend.get(agent_id, {}).get(k) for k in figures]
            != [spend.get(agent_id, {}).get(k) for k in figures]
        ]
        self.spend, self.spend_known = spend, True
        for agent_id in changed:
            self._forget(agent_id)
        self._measure(("today", "cost"))
        visible = self._visible_range()
        for agent_id in changed:
            index = self.get_row_index(agent_id)
            if index is not None and index in visible:
                self._refresh_row(index)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._rebuild(self.selected_id)

    def refresh_cells(self) -> None:
        """Build every row again (relative times age; costs change)."""
        self._forget()
        self.refresh()

    # -- the cursor ------------------------------------------------------------------

    def _move(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped), in view; say so when it names another agent."""
        old = self.cursor_row
        self.cursor_row = max(0, min(index, len(self._rows) - 1))
        if old != self.cursor_row:
            self._refresh_row(old)
            self._refresh_row(self.cursor_row)
        self._scroll_cursor_into_view()
        selected = self.selected_id
        if selected != self._highlighted:
            self._highlighted = selected
            self.post_message(self.RowHighlighted(self, selected))

    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_into_view(self) -> None:
        if not self._rows:
            return
        top, page = self.scroll_offset.y, self._page()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self._move(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._move(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._move(self.cursor_row - self._page())

    def action_page_down(self) -> None:
        self._move(self.cursor_row + self._page())

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        if (agent_id := self.selected_id) is not None:
            self.post_message(self.RowSelected(self, agent_id))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = self.scroll_offset.y + offset.y - 1
        if 0 <= index < len(self._rows):
            if index == self.cursor_row:
                self.action_select_cursor()
            else:
                self._move(index)
