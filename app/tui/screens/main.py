"""MainScreen: global stats, the agent table, and the selected agent's Runs / Live / Stats tabs.

Bindings (ids in brackets, overridable in the keymap): ``n`` new [agent.new],
``e`` edit [agent.edit] (also Enter on a row), ``d`` delete [agent.delete],
``r`` run now [agent.run], ``c`` cancel the running run [agent.cancel],
``space`` enable/disable [agent.toggle], ``/`` filter by name [agents.filter],
``p`` cycle the period [stats.period], ``g`` global stats [stats.global],
``?`` help [app.help], ``q`` quit [app.quit].
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ParamSpec

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from app.client import ApiError
from app.tui.formatting import PERIODS, money, parse_iso, run_summary, truncate
from app.tui.screens.confirm import ConfirmScreen
from app.tui.screens.editor import EditorScreen
from app.tui.screens.global_stats import GlobalStatsScreen
from app.tui.screens.help import HelpScreen
from app.tui.screens.run_detail import RunScreen
from widgets.agent_table import AgentTable
from widgets.banner import ConnectionBanner
from widgets.run_history import RunHistory
from widgets.run_log import RunLog
from widgets.stats_chart import CostChart, RunsChart
from widgets.stats_header import StatsHeader

if TYPE_CHECKING:
    from app.tui.app import CronAgentsApp

RUN_COUNT_LIMIT = 1000

P = ParamSpec("P")


def while_mounted(method: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """A worker whose answer arrives while the app shuts down just stops (its widgets are gone)."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        with contextlib.suppress(NoMatches):
            await method(*args, **kwargs)

    return wrapper

DETAIL_DELAY = 0.15
STATS_DELAY = 0.5
TICK_SECONDS = 15.0
MAX_COSTED_AGENTS = 200


class MainScreen(Screen[None]):
    """The dashboard's home. See the module docstring for the keys."""

    BINDINGS = [
        Binding("n", "new_agent", "New", id="agent.new", tooltip="Create an agent"),
        Binding("e", "edit_agent", "Edit", id="agent.edit", tooltip="Edit the selected agent"),
        Binding("d", "delete_agent", "Delete", id="agent.delete", tooltip="Delete the selected agent"),
        Binding("r", "run_agent", "Run", id="agent.run", tooltip="Run the selected agent now"),
        Binding("c", "cancel_run", "Cancel", id="agent.cancel", tooltip="Cancel its running run"),
        Binding("space", "toggle_agent", "On/off", id="agent.toggle", tooltip="Enable or disable"),
        Binding("slash", "filter", "Filter", id="agents.filter", tooltip="Filter agents by name"),
        Binding("p", "cycle_period", "Period", id="stats.period", tooltip="24h → 7d → 30d"),
        Binding("g", "global_stats", "Global", id="stats.global", tooltip="Charts across all agents"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="agents.clear_filter"),
        Binding("1", "show_tab('tab-runs')", "Runs", show=False, id="tabs.runs"),
        Binding("2", "show_tab('tab-live')", "Live", show=False, id="tabs.live"),
        Binding("3", "show_tab('tab-stats')", "Stats", show=False, id="tabs.stats"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._detail_timer: Timer | None = None
        self._stats_timer: Timer | None = None
        self.detail_agent_id: str | None = None
        """The agent the tabs show."""

    @property
    def dash(self) -> CronAgentsApp:
        from app.tui.app import CronAgentsApp

        assert isinstance(self.app, CronAgentsApp)
        return self.app

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        app = self.dash
        yield StatsHeader(id="stats-header")
        yield ConnectionBanner(id="banner")
        yield Input(placeholder="filter by name (Enter keeps it, Esc clears)", id="filter")
        yield AgentTable(app.clock, id="agents")
        with Vertical(id="detail"):
            yield Static("", id="detail-title")
            with TabbedContent(id="tabs", initial="tab-runs"):
                with TabPane("Runs", id="tab-runs"):
                    yield RunHistory(app.clock, id="runs")
                with TabPane("Live", id="tab-live"):
                    yield RunLog(id="live")
                with TabPane("Stats", id="tab-stats"), Horizontal(id="charts"):
                    yield RunsChart(id="runs-chart")
                    yield CostChart(id="cost-chart")
        yield Footer()

    def on_mount(self) -> None:
        header = self.query_one(StatsHeader)
        header.period = self.dash.period
        header.source = self.dash.source
        self.query_one("#filter").display = False
        self.query_one("#banner", ConnectionBanner).display = False
        self.query_one(AgentTable).focus()
        self.set_interval(TICK_SECONDS, self._tick)
        self.reload()

    @property
    def table(self) -> AgentTable:
        return self.query_one(AgentTable)

    @property
    def live(self) -> RunLog:
        return self.query_one("#live", RunLog)

    @property
    def history(self) -> RunHistory:
        return self.query_one(RunHistory)

    def selected_agent(self) -> dict[str, Any] | None:
        agent_id = self.table.selected_id
        return self.table.agents.get(agent_id) if agent_id else None

    def _tick(self) -> None:
        self.table.refresh_cells()

    # -- loading -------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read everything (start, reconnect, period change)."""
        self.load_agents()
        self.load_global_stats()

    def set_banner(self, message: str) -> None:
        self.query_one(ConnectionBanner).message = message

    def _failed(self, exc: ApiError, what: str) -> None:
        if exc.unreachable:
            self.set_banner(f"{exc.message} — reconnecting…")
        else:
            self.notify(f"{what}: {exc.message}", severity="error", timeout=6)

    @work(exclusive=True, group="load-agents")
    @while_mounted
    async def load_agents(self) -> None:
        try:
            agents = await self.dash.client.list_agents()
        except ApiError as exc:
            self._failed(exc, "Loading agents")
            return
        self.table.set_agents(agents)
        self.dash.first_paint_done()
        self._schedule_detail()
        self.load_agent_costs(self.dash.period)  # the agents may have come after the stats

    @work(exclusive=True, group="load-global-stats")
    @while_mounted
    async def load_global_stats(self) -> None:
        period = self.dash.period
        try:
            stats = await self.dash.client.global_stats(period)
        except ApiError as exc:
            self._failed(exc, "Loading stats")
            return
        header = self.query_one(StatsHeader)
        header.period = period
        header.stats = stats
        running = {str(a) for a in stats.get("runningAgentIds", [])}
        for agent_id in running ^ self.table.running:
            self.table.set_running(agent_id, agent_id in running)
        header.running = len(self.table.running)
        self.load_agent_costs(period)

    @work(exclusive=True, group="load-costs")
    @while_mounted
    async def load_agent_costs(self, period: str) -> None:
        """The Cost column: each agent's cost in the period, from its stats (one call per agent).

        The API has no per-agent costs in one call, so over ``MAX_COSTED_AGENTS`` the column
        stays blank rather than cost a request per agent on every change.
        """
        if len(self.table.agents) > MAX_COSTED_AGENTS:
            return
        costs: dict[str, float] = {}
        for agent_id in list(self.table.agents):
            try:
                stats = await self.dash.client.agent_stats(agent_id, period)
            except ApiError:
                continue
            costs[agent_id] = float(stats.get("totalCostUsd") or 0.0)
        self.table.set_costs(costs)

    def _schedule_detail(self) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DELAY, self._load_selected_detail)

    def _load_selected_detail(self) -> None:
        agent = self.selected_agent()
        self.detail_agent_id = str(agent["id"]) if agent else None
        self._show_title(agent)
        if agent is None:
            self.history.set_runs([])
            self.live.show_run(None, Text("No agent selected.", style="dim"))
            self.query_one(RunsChart).set_days([], self.dash.period)
            self.query_one(CostChart).set_days([], self.dash.period)
            return
        self.load_detail(str(agent["id"]))

    def _show_title(self, agent: dict[str, Any] | None) -> None:
        title = self.query_one("#detail-title", Static)
        if agent is None:
            title.update(Text("No agents yet — press n to create one.", style="dim"))
            return
        text = Text.assemble((str(agent.get("name", "")), "bold"),
                             (f"  {agent.get('schedule')}", "bold cyan"))  # fmt: skip
        if agent.get("description"):
            text.append("  " + truncate(str(agent["description"]), 70), style="dim")
        text.append(f"  · {agent.get('timezone') or ''} · max {agent.get('maxTurns')} turns"
                    f" · budget {money(agent.get('maxBudgetUsd')) if agent.get('maxBudgetUsd') else 'none'}",
                    style="dim")  # fmt: skip
        title.update(text)

    @work(exclusive=True, group="load-detail")
    @while_mounted
    async def load_detail(self, agent_id: str) -> None:
        client, period = self.dash.client, self.dash.period
        try:
            runs = await client.list_runs(agent_id, limit=100)
            stats = await client.agent_stats(agent_id, period)
        except ApiError as exc:
            self._failed(exc, "Loading runs")
            return
        if agent_id != self.detail_agent_id:
            return
        self.history.set_runs(runs)
        self.query_one(RunsChart).set_days(stats.get("dailyRuns", []), period)
        self.query_one(CostChart).set_days(stats.get("dailyRuns", []), period)
        active = next((r for r in runs if r.get("status") in ("running", "queued")), None)
        latest = active or (runs[0] if runs else None)
        if latest is None:
            self.live.show_run(None, Text("No runs yet — press r to run it now.", style="dim"))
            return
        if self.live.run_id == latest["id"]:
            return
        try:
            run = await client.get_run(agent_id, str(latest["id"]))
        except ApiError as exc:
            self._failed(exc, "Loading the run")
            return
        if agent_id != self.detail_agent_id:
            return
        self.live.show_run(str(run["id"]), self._run_header(run))
        self.live.add_events(list(run.get("events", [])))
        if run.get("status") not in ("running", "queued"):
            self.live.note(run_summary(run))

    def _run_header(self, run: dict[str, Any]) -> Text:
        when = parse_iso(run.get("startedAt"))
        at = when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "—"
        state = "queued" if run.get("status") == "queued" else "started"
        return Text.assemble(("Run ", "dim"), (str(run.get("id")), "bold"),
                             (f"  {run.get('trigger', '')} · {state} {at}", "dim"))  # fmt: skip

    @work(exclusive=True, group="load-detail-stats")
    @while_mounted
    async def load_detail_stats(self, agent_id: str) -> None:
        period = self.dash.period
        try:
            stats = await self.dash.client.agent_stats(agent_id, period)
        except ApiError:
            return
        if agent_id == self.detail_agent_id:
            self.query_one(RunsChart).set_days(stats.get("dailyRuns", []), period)
            self.query_one(CostChart).set_days(stats.get("dailyRuns", []), period)

    def _schedule_stats(self) -> None:
        """Stats after a burst of changes: once, half a second after the last."""
        if self._stats_timer is not None:
            self._stats_timer.stop()

        def refresh() -> None:
            self.load_global_stats()
            if self.detail_agent_id:
                self.load_detail_stats(self.detail_agent_id)

        self._stats_timer = self.set_timer(STATS_DELAY, refresh)

    # -- the event stream ----------------------------------------------------------------

    def handle_server_event(self, event: dict[str, Any]) -> None:
        """One event from ``GET /api/events`` (called by the app's stream worker)."""
        kind = str(event.get("type", ""))
        agent_id = str(event.get("agentId", ""))
        if kind == "run.event":
            if agent_id == self.detail_agent_id and self.live.run_id == event.get("runId"):
                self.live.add_event(dict(event.get("event") or {}))
            return
        if kind in ("agent.created", "agent.updated"):
            agent = event.get("agent")
            if isinstance(agent, dict):
                self.table.upsert(agent)
                if agent_id == self.detail_agent_id:
                    self._show_title(agent)
            self._schedule_stats()
        elif kind == "agent.deleted":
            self.table.remove_agent(agent_id)
            if agent_id == self.detail_agent_id:
                self._schedule_detail()
            self._schedule_stats()
        elif kind == "agent.scheduled":
            agent = self.table.agents.get(agent_id)
            if agent is not None:
                self.table.upsert({**agent, "nextRunAt": event.get("nextRunAt")})
        elif kind in ("run.queued", "run.started", "run.finished"):
            self._run_changed(kind, agent_id, dict(event.get("run") or {}))

    def _run_changed(self, kind: str, agent_id: str, run: dict[str, Any]) -> None:
        finished = kind == "run.finished"
        if kind == "run.started" or finished:
            self.table.set_running(agent_id, not finished)
            self.query_one(StatsHeader).running = len(self.table.running)
        agent = self.table.agents.get(agent_id)
        if agent is not None and run.get("status") and kind != "run.queued":
            self.table.upsert({**agent, "lastStatus": run.get("status"),
                               "lastRunAt": run.get("startedAt") or agent.get("lastRunAt")})  # fmt: skip
        if agent_id != self.detail_agent_id or not run.get("id"):
            if finished:
                self._schedule_stats()
            return
        self.history.upsert(run)
        if kind == "run.started":
            if self.live.run_id != run["id"]:
                self.live.show_run(str(run["id"]), self._run_header(run))
            else:
                when = parse_iso(run.get("startedAt"))
                at = when.strftime("%H:%M:%S") if when else ""
                self.live.note(Text(f"started {at}", style="dim"))
        if finished:
            if self.live.run_id == run["id"]:
                self.live.note(run_summary(run))
            self._schedule_stats()

    # -- table and tabs ------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#agents")
    def _agent_highlighted(self) -> None:
        if self.table.selected_id != self.detail_agent_id:
            self._schedule_detail()

    @on(DataTable.RowSelected, "#agents")
    def _agent_selected(self) -> None:
        self.action_edit_agent()

    @on(DataTable.RowSelected, "#runs")
    def _run_selected(self, event: DataTable.RowSelected) -> None:
        agent_id, run_id = self.detail_agent_id, event.row_key.value
        if agent_id and run_id:
            self.app.push_screen(RunScreen(agent_id, run_id))

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    # -- filter --------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.display = False
        self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display or box.value:
            box.value = ""
            box.display = False
            self.table.set_filter("")
            self.table.focus()

    # -- actions -------------------------------------------------------------------------

    def _need_agent(self) -> dict[str, Any] | None:
        agent = self.selected_agent()
        if agent is None:
            self.notify("No agent selected", severity="warning")
        return agent

    def action_new_agent(self) -> None:
        self.app.push_screen(EditorScreen(None), self._saved)

    def action_edit_agent(self) -> None:
        agent = self._need_agent()
        if agent is not None:
            self.app.push_screen(EditorScreen(agent), self._saved)

    def _saved(self, agent: dict[str, Any] | None) -> None:
        if agent:
            self.table.upsert(agent)
            self.table.select_agent(str(agent["id"]))
            self.notify(f"Saved “{agent.get('name')}”")
            self._schedule_detail()

    def action_delete_agent(self) -> None:
        agent = self._need_agent()
        if agent is not None:
            self.confirm_delete(agent)

    @work(group="delete")
    @while_mounted
    async def confirm_delete(self, agent: dict[str, Any]) -> None:
        agent_id = str(agent["id"])
        try:
            runs = await self.dash.client.list_runs(agent_id, limit=RUN_COUNT_LIMIT)
        except ApiError as exc:
            self._failed(exc, "Counting runs")
            return
        count = f"{len(runs)}+" if len(runs) >= RUN_COUNT_LIMIT else str(len(runs))
        noun = "run" if len(runs) == 1 else "runs"
        question = f"Delete “{agent.get('name')}” and its {count} {noun}?\nThis cannot be undone."
        if not await self.app.push_screen_wait(ConfirmScreen(question, confirm_label="Delete")):
            return
        try:
            await self.dash.client.delete_agent(agent_id)
        except ApiError as exc:
            self._failed(exc, "Deleting")
            return
        self.table.remove_agent(agent_id)
        self._schedule_detail()
        self._schedule_stats()
        self.notify(f"Deleted “{agent.get('name')}”")

    def action_run_agent(self) -> None:
        agent = self._need_agent()
        if agent is not None:
            self.run_now(agent)

    @work(group="run")
    @while_mounted
    async def run_now(self, agent: dict[str, Any]) -> None:
        agent_id = str(agent["id"])
        try:
            run_id = await self.dash.client.run_agent(agent_id)
        except ApiError as exc:
            self._failed(exc, "Starting a run")
            return
        self.notify(f"Started “{agent.get('name')}”")
        if agent_id == self.detail_agent_id:
            if self.live.run_id != run_id:
                self.live.show_run(run_id, self._run_header({"id": run_id, "trigger": "manual"}))
            self.query_one(TabbedContent).active = "tab-live"

    def action_cancel_run(self) -> None:
        agent = self._need_agent()
        if agent is not None:
            self.cancel_runs(agent)

    @work(group="cancel")
    @while_mounted
    async def cancel_runs(self, agent: dict[str, Any]) -> None:
        try:
            count = await self.dash.client.cancel_agent(str(agent["id"]))
        except ApiError as exc:
            if exc.status == 404:
                self.notify(f"“{agent.get('name')}” has nothing running", severity="warning")
            else:
                self._failed(exc, "Cancelling")
            return
        self.notify(f"Cancelled {count} run(s) of “{agent.get('name')}”")

    def action_toggle_agent(self) -> None:
        agent = self._need_agent()
        if agent is not None:
            self.toggle(agent)

    @work(group="toggle")
    @while_mounted
    async def toggle(self, agent: dict[str, Any]) -> None:
        try:
            updated = await self.dash.client.update_agent(str(agent["id"]), {"enabled": not agent["enabled"]})
        except ApiError as exc:
            self._failed(exc, "Updating")
            return
        self.table.upsert(updated)
        state = "enabled" if updated.get("enabled") else "disabled"
        self.notify(f"“{updated.get('name')}” {state}")

    def action_cycle_period(self) -> None:
        app = self.dash
        app.period = PERIODS[(PERIODS.index(app.period) + 1) % len(PERIODS)]
        self.query_one(StatsHeader).period = app.period
        self.load_global_stats()
        if self.detail_agent_id:
            self.load_detail_stats(self.detail_agent_id)

    def action_global_stats(self) -> None:
        self.app.push_screen(GlobalStatsScreen())

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.app.active_bindings))
