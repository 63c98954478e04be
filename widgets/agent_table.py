"""AgentTable: one row per agent, kept current by upserts from the event stream.

The Cost column is each agent's cost in the period, from the global stats'
``costByAgent`` (one call for every agent; an agent it does not list spent
nothing). The Today column (wide layout) is the agent's spend today, against its
daily cap where it has one ("$1.20/$5.00"). An agent the server paused says why in
the Next run column ("paused: 3 failures"). The cron expression itself is on the
detail line below the table (and in the editor): the table says it in plain English,
and a one-shot agent's time ("once, Fri 10 Jan 16:00", in its zone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist

from app import cron
from widgets.formatting import money, paused_text, relative, spend_against, status_text, truncate
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


@lru_cache(maxsize=1024)
def describe_schedule(expr: str) -> str:
    """Plain English for a schedule; cached: a thousand agents share a handful of schedules."""
    return cron.describe_schedule(expr)


class AgentTable(DataTable[Any]):
    """The agents, by name. Row keys are agent ids.

    Enter (``select_cursor``) posts ``RowSelected``; the screen opens the editor.
    """

    def __init__(self, clock: Callable[[], datetime], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
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

    def on_mount(self) -> None:
        self._layout_columns(self.app.size.width)

    def on_resize(self) -> None:
        self._layout_columns(self.app.size.width)

    def _layout_columns(self, width: int) -> None:
        wanted = WIDE_COLUMNS if width >= WIDE_FROM else NARROW_COLUMNS
        if wanted == self.columns_shown:
            return
        keep = self.selected_id
        self.clear(columns=True)
        self.columns_shown = wanted
        for key, label in wanted:
            self.add_column(label, key=key)
        self._rebuild(keep)

    @property
    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return key.value

    def _visible(self, agent: dict[str, Any]) -> bool:
        return not self.filter_text or self.filter_text.lower() in str(agent.get("name", "")).lower()

    def _cells(self, agent: dict[str, Any]) -> list[Any]:
        now = self._clock()
        wide = self.columns_shown is WIDE_COLUMNS
        described = when_text(agent, short=not wide) or describe_schedule(str(agent.get("schedule", "")))
        agent_id = str(agent["id"])
        status = "running" if agent_id in self.running else agent.get("lastStatus")
        enabled = bool(agent.get("enabled"))
        spend = self.spend.get(agent_id, {})
        cost = float(spend.get("costUsd") or 0.0) if self.spend_known else None
        cap = agent.get("dailyBudgetUsd")
        if enabled:
            next_run = Text(relative(agent.get("nextRunAt"), now))
        else:
            next_run = paused_text(agent.get("pausedReason"), narrow=not wide)
        cells = [
            Text(
                truncate(str(agent.get("name", "")), 24 if wide else 16), style="bold" if enabled else "dim"
            ),
            Text("●", style="green") if enabled else Text("○", style="dim"),
            Text(truncate(described, 28 if wide else 14)),
            next_run,
            relative(agent.get("lastRunAt"), now),
            status_text(status),
            spend_against(spend.get("todayUsd"), cap) if self.spend_known else Text("—", justify="right"),
            Text(money(cost) if cost is not None else "—", justify="right"),
        ]
        return cells if wide else [cells[0], *cells[2:6], cells[7]]

    def set_agents(self, agents: Iterable[dict[str, Any]]) -> None:
        """Replace every row (keeps the cursor on the same agent when it is still there)."""
        keep = self.selected_id
        self.agents = {str(a["id"]): a for a in agents}
        self._rebuild(keep)

    def _rebuild(self, keep: str | None) -> None:
        if not self.columns_shown:
            return
        self.clear()
        ordered = sorted(self.agents.values(), key=lambda a: (str(a.get("name", "")).lower(), a["id"]))
        for agent in ordered:
            if self._visible(agent):
                self.add_row(*self._cells(agent), key=str(agent["id"]))
        if keep is not None:
            self.select_agent(keep)

    def select_agent(self, agent_id: str) -> None:
        try:
            self.move_cursor(row=self.get_row_index(agent_id))
        except RowDoesNotExist:
            pass

    def upsert(self, agent: dict[str, Any]) -> None:
        agent_id = str(agent["id"])
        old = self.agents.get(agent_id)
        self.agents[agent_id] = agent
        if old is not None and old.get("name") == agent.get("name") and self._visible(agent):
            self._update_row(agent_id)
        else:
            self._rebuild(self.selected_id)

    def remove_agent(self, agent_id: str) -> None:
        if self.agents.pop(agent_id, None) is not None:
            try:
                self.remove_row(agent_id)
            except RowDoesNotExist:
                pass

    def set_running(self, agent_id: str, running: bool) -> None:
        (self.running.add if running else self.running.discard)(agent_id)
        self._update_row(agent_id)

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

        Only the rows whose figures changed are redrawn: the stats are read again after
        every burst of changes, and a thousand rows redrawn each time would hold the loop.
        """
        spend = {str(entry["agentId"]): entry for entry in cost_by_agent}
        figures = ("costUsd", "todayUsd")
        changed = [
            agent_id
            for agent_id in self.agents
            if not self.spend_known
            or [self.spend.get(agent_id, {}).get(k) for k in figures]
            != [spend.get(agent_id, {}).get(k) for k in figures]
        ]
        self.spend, self.spend_known = spend, True
        for agent_id in changed:
            self._update_row(agent_id, only=("today", "cost"))

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._rebuild(self.selected_id)

    def _update_row(self, agent_id: str, only: tuple[str, ...] = ()) -> None:
        """Redraw the agent's row (``only``: those columns)."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return
        try:
            for (key, _), value in zip(self.columns_shown, self._cells(agent), strict=True):
                if not only or key in only:
                    self.update_cell(agent_id, key, value, update_width=self._widens(key, value))
        except (RowDoesNotExist, CellDoesNotExist):
            pass

    def _widens(self, key: str, value: Text | str) -> bool:
        """Whether ``value`` is wider than its column: only then is the column measured again.

        DataTable measures the whole column again for every cell that gets narrower, which
        made refreshing a thousand rows take a minute (quadratic). A column that stays a
        little wide until the next rebuild is the better trade.
        """
        width = value.cell_len if isinstance(value, Text) else cell_len(value)
        return width > self.columns[ColumnKey(key)].content_width

    def refresh_cells(self) -> None:
        """Recompute every visible row (relative times age; costs change)."""
        for row_key in list(self.rows):
            if row_key.value is not None:
                self._update_row(row_key.value)
