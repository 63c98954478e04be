"""MainScreen: global stats, the agent table, and the selected agent's Runs / Live / Stats tabs.

Bindings (ids in brackets, overridable in the keymap): ``n`` new [agent.new],
``e`` edit [agent.edit] (also Enter on a row), ``d`` delete [agent.delete],
``r`` run now [agent.run], ``R`` run with input [agent.run_input],
``W`` create, rotate or remove the trigger secret [agent.trigger_secret],
``c`` cancel the running run [agent.cancel],
``space`` enable/disable [agent.toggle], ``/`` filter by name [agents.filter],
``p`` cycle the period [stats.period], ``g`` global stats [stats.global],
``C`` alert channels [channels.open], ``S`` settings [settings.open], ``N`` nodes [nodes.open],
``?`` help [app.help], ``q`` quit [app.quit].

The screen shows; it does not fetch. API calls run in :mod:`main_workers`, which
report back with messages; server events arrive as :mod:`app.tui.messages`. Both
are handled below with ``@on`` and passed down to the widgets.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input

from app.tui import messages as server
from app.tui.base import DashboardScreen
from app.tui.screens.channels import ChannelsScreen
from app.tui.screens.editor import EditorScreen
from app.tui.screens.global_stats import GlobalStatsScreen
from app.tui.screens.help import HelpScreen
from app.tui.screens.main_workers import (
    AgentRemoved,
    AgentRunsLoaded,
    AgentSaved,
    AgentsLoaded,
    AgentStatsLoaded,
    CallFailed,
    GlobalStatsLoaded,
    MainWorkers,
    RunRequested,
    TranscriptLoaded,
)
from app.tui.screens.nodes import NodesScreen
from app.tui.screens.run_detail import RunScreen
from app.tui.screens.run_input import RunInputScreen
from app.tui.screens.settings import SettingsScreen
from widgets.agent_detail import AgentDetail
from widgets.agent_table import AgentTable
from widgets.banner import ConnectionBanner, NoticeBanner
from widgets.name_filter import NameFilter
from widgets.run_history import RunHistory
from widgets.run_log import RunLog
from widgets.stats_header import StatsHeader


class MainFooter(Footer):
    """The footer, rebuilt only when the keys it shows changed (Textual's rebuilds every key at
    each change of the bindings anywhere: five times while the screen starts, 80-110 ms of the
    first paint), and once for a burst of changes."""

    _rebuild_pending = False
    _shown: tuple[Any, ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        shown = tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            if binding.show
        )
        if self._rebuild_pending or (shown == self._shown and self._bindings_ready):
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._rebuild_pending = True
            self._shown = shown
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        self._rebuild_pending = False
        await super().recompose()


DETAIL_DELAY = 0.15
"""Moving through the table loads the detail once the cursor rests this long."""
STATS_DELAY = 0.5
"""Stats are re-read once, this long after the last of a burst of changes."""
TICK_SECONDS = 1.0
"""The one clock of the relative times ("in 50s", "9s ago"): the agent table, the run history, the
header and the live log all read the same moment each tick, and redraw only what changed on screen."""


class MainScreen(DashboardScreen[None]):
    """The dashboard's home. See the module docstring for the keys."""

    BINDINGS = [
        Binding("n", "new_agent", "New", id="agent.new", tooltip="Create a new agent"),
        Binding("e", "edit_agent", "Edit", id="agent.edit", tooltip="Edit the selected agent"),
        Binding("d", "delete_agent", "Delete", id="agent.delete", tooltip="Delete the selected agent"),
        Binding("r", "run_agent", "Run", id="agent.run", tooltip="Run the selected agent now"),
        Binding(
            "R",
            "run_with_input",
            "Run with input",
            show=False,
            id="agent.run_input",
            tooltip="Run the selected agent now, with input",
        ),
        Binding("c", "cancel_run", "Cancel", id="agent.cancel", tooltip="Cancel the agent's running run"),
        Binding("space", "toggle_agent", "On/off", id="agent.toggle", tooltip="Enable or disable the agent"),
        Binding("slash", "filter", "Filter", id="agents.filter", tooltip="Filter agents by name"),
        Binding("p", "cycle_period", "Period", id="stats.period", tooltip="Stats period: 24h → 7d → 30d"),
        Binding("g", "global_stats", "Global", id="stats.global", tooltip="Global stats across all agents"),
        # Not in the footer (full at 120 columns): in the help (?) and the command palette.
        Binding("C", "channels", "Channels", show=False, id="channels.open", tooltip="Alert channels"),
        Binding(
            "W",
            "trigger_secret",
            "Trigger secret",
            show=False,
            id="agent.trigger_secret",
            tooltip="Create, rotate or remove the agent's trigger secret (signed inbound webhooks)",
        ),
        Binding("S", "settings", "Settings", show=False, id="settings.open", tooltip="Settings: global caps"),
        Binding(
            "N",
            "nodes",
            "Nodes",
            show=False,
            id="nodes.open",
            tooltip="The cluster's nodes: host, heartbeat, running and queued runs",
        ),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="agents.clear_filter"),
        Binding("1", "show_tab('tab-runs')", "Runs", show=False, id="tabs.runs", tooltip="Runs tab"),
        Binding("2", "show_tab('tab-live')", "Live", show=False, id="tabs.live", tooltip="Live tab"),
        Binding("3", "show_tab('tab-stats')", "Stats", show=False, id="tabs.stats", tooltip="Stats tab"),
    ]

    DEFAULT_CSS = """
    MainScreen > #agents {
        height: auto;
        max-height: 50%;
        min-height: 4;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.api = MainWorkers(self)
        """The screen's API calls, each in a worker (see :mod:`main_workers`)."""
        self._detail_timer: Timer | None = None
        self._stats_timer: Timer | None = None

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # The first reads go out now, not once every widget below is mounted (on_mount came
        # 150-200 ms later): the server answers while the screen is being built.
        self.reload()
        yield StatsHeader(id="stats-header")
        yield ConnectionBanner(id="banner")
        yield NoticeBanner(id="notice")
        yield NameFilter(id="filter")
        yield AgentTable(self.dash.clock, id="agents")
        yield AgentDetail(self.dash.clock, id="detail")
        yield MainFooter()

    def on_mount(self) -> None:
        header = self.query_one(StatsHeader)
        header.period = self.dash.period
        header.source = self.dash.source
        self.query_one(NoticeBanner).message = self.dash.notice
        header.clock = self.dash.clock
        self.live.clock = self.dash.clock
        self.table.focus()
        self.set_interval(TICK_SECONDS, self.tick)

    def tick(self) -> None:
        """Relative times move on, in step: the clock is read once, and each widget redraws only the
        times on screen that changed (and builds what comes into view with that same time)."""
        now = self.dash.clock()
        header = self.query_one(StatsHeader)
        header.next_run = self.table.next_run()
        header.tick(now)
        self.table.tick(now)
        self.history.tick(now)
        self.live.tick(now)

    @property
    def table(self) -> AgentTable:
        return self.query_one(AgentTable)

    @property
    def detail(self) -> AgentDetail:
        return self.query_one(AgentDetail)

    @property
    def live(self) -> RunLog:
        return self.detail.live

    @property
    def history(self) -> RunHistory:
        return self.detail.history

    @property
    def detail_agent_id(self) -> str | None:
        """The agent the tabs show."""
        return self.detail.agent_id

    def selected_agent(self) -> dict[str, Any] | None:
        agent_id = self.table.selected_id
        return self.table.agents.get(agent_id) if agent_id else None

    # -- loading -------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read everything (start, reconnect)."""
        self.api.load_agents()
        self.api.load_global_stats(self.dash.period)

    def _schedule_detail(self) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DELAY, self._load_selected_detail)

    def _spend_of(self, agent_id: str) -> dict[str, Any] | None:
        return self.table.spend.get(agent_id)

    def _load_selected_detail(self) -> None:
        agent = self.selected_agent()
        self.detail.show_agent(agent, self.dash.period, self._spend_of(str(agent["id"])) if agent else None)
        if agent is not None:
            self.api.load_agent_runs(str(agent["id"]), self.dash.period)

    def _load_stats(self) -> None:
        self.api.load_global_stats(self.dash.period)
        if self.detail_agent_id:
            self.api.load_agent_stats(self.detail_agent_id, self.dash.period)

    def _schedule_stats(self) -> None:
        """Stats after a burst of changes: once, half a second after the last."""
        if self._stats_timer is not None:
            self._stats_timer.stop()
        self._stats_timer = self.set_timer(STATS_DELAY, self._load_stats)

    @on(AgentsLoaded)
    def _agents_loaded(self, message: AgentsLoaded) -> None:
        self.table.set_agents(message.agents)
        self.query_one(StatsHeader).next_run = self.table.next_run()
        self.dash.first_paint_done()
        self._schedule_detail()

    @on(GlobalStatsLoaded)
    def _global_stats_loaded(self, message: GlobalStatsLoaded) -> None:
        header = self.query_one(StatsHeader)
        header.period = message.period
        header.stats = message.stats
        running = {str(a) for a in message.stats.get("runningAgentIds", [])}
        for agent_id in running ^ self.table.running:
            self.table.set_running(agent_id, agent_id in running)
        header.running = len(self.table.running)
        # One call gives every agent's cost for the period: the Cost column follows the period.
        self.table.set_cost_by_agent(message.stats.get("costByAgent", []))
        self._show_detail_title()

    def _show_detail_title(self) -> None:
        agent_id = self.detail_agent_id
        if agent_id and (agent := self.table.agents.get(agent_id)):
            self.detail.show_title(agent, self._spend_of(agent_id))

    @on(AgentRunsLoaded)
    def _agent_runs_loaded(self, message: AgentRunsLoaded) -> None:
        if message.agent_id != self.detail_agent_id:
            return
        latest = self.detail.show_runs(message.runs)
        self.detail.show_days(message.stats.get("dailyRuns", []), message.period)
        if latest is not None and self.live.run_id != latest["id"]:
            self.api.load_transcript(message.agent_id, str(latest["id"]))

    @on(TranscriptLoaded)
    def _transcript_loaded(self, message: TranscriptLoaded) -> None:
        if message.agent_id == self.detail_agent_id:
            self.detail.show_transcript(message.run)

    @on(AgentStatsLoaded)
    def _agent_stats_loaded(self, message: AgentStatsLoaded) -> None:
        if message.agent_id == self.detail_agent_id:
            self.detail.show_days(message.stats.get("dailyRuns", []), message.period)

    @on(CallFailed)
    def _call_failed(self, message: CallFailed) -> None:
        if message.error.unreachable:
            self.query_one(ConnectionBanner).message = f"{message.error.message} — reconnecting…"
        else:
            self.notify(f"{message.what}: {message.error.message}", severity="error", timeout=6)

    # -- the event stream ----------------------------------------------------------------

    @on(server.ConnectionLost)
    def _connection_lost(self, message: server.ConnectionLost) -> None:
        self.query_one(ConnectionBanner).message = message.explanation

    @on(server.ConnectionRestored)
    def _connection_restored(self, message: server.ConnectionRestored) -> None:
        self.query_one(ConnectionBanner).message = ""
        if message.after_gap:
            self.reload()

    @on(server.AgentChanged)
    def _agent_changed(self, message: server.AgentChanged) -> None:
        if message.agent is not None:
            self.table.upsert(message.agent)
            if message.agent_id == self.detail_agent_id:
                self._show_detail_title()
        self._schedule_stats()

    @on(server.AgentDeleted)
    def _agent_deleted(self, message: server.AgentDeleted) -> None:
        self.table.remove_agent(message.agent_id)
        if message.agent_id == self.detail_agent_id:
            self._schedule_detail()
        self._schedule_stats()

    @on(server.AgentScheduled)
    def _agent_scheduled(self, message: server.AgentScheduled) -> None:
        self.table.set_next_run(message.agent_id, message.next_run_at)

    @on(server.RunChanged)
    def _run_changed(self, message: server.RunChanged) -> None:
        agent_id, run = message.agent_id, message.run
        finished = isinstance(message, server.RunFinished)
        if not isinstance(message, server.RunQueued):
            self.table.set_running(agent_id, not finished)
            self.query_one(StatsHeader).running = len(self.table.running)
            self.table.set_last_run(agent_id, run)
        if agent_id == self.detail_agent_id and run.get("id"):
            if isinstance(message, server.RunStarted):
                self.detail.run_started(run)
            elif finished:
                self.detail.run_finished(run)
            else:
                self.detail.run_queued(run)
        if finished:
            self._schedule_stats()

    @on(server.RunEvents)
    def _run_events(self, message: server.RunEvents) -> None:
        if message.agent_id == self.detail_agent_id:
            self.detail.add_events(message.run_id, message.events)

    # -- what the dashboard changed itself -----------------------------------------------

    @on(AgentSaved)
    def _agent_saved(self, message: AgentSaved) -> None:
        self.table.upsert(message.agent)

    @on(AgentRemoved)
    def _agent_removed(self, message: AgentRemoved) -> None:
        self.table.remove_agent(message.agent_id)
        self._schedule_detail()
        self._schedule_stats()

    @on(RunRequested)
    def _run_requested(self, message: RunRequested) -> None:
        if message.agent_id == self.detail_agent_id:
            self.detail.expect_run(message.run_id)

    # -- table, tabs and filter ----------------------------------------------------------

    @on(AgentTable.RowHighlighted)
    def _agent_highlighted(self) -> None:
        if self.table.selected_id != self.detail_agent_id:
            self._schedule_detail()

    @on(AgentTable.RowSelected)
    def _agent_selected(self) -> None:
        self.action_edit_agent()

    @on(DataTable.RowSelected, "#runs")
    def _run_selected(self, event: DataTable.RowSelected) -> None:
        agent_id, run_id = self.detail_agent_id, event.row_key.value
        if agent_id and run_id:
            name = str((self.table.agents.get(agent_id) or {}).get("name", agent_id))
            self.app.push_screen(RunScreen(agent_id, run_id, agent_name=name))

    def action_show_tab(self, tab: str) -> None:
        self.detail.show_tab(tab)

    def action_filter(self) -> None:
        self.query_one(NameFilter).open()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.table.focus()

    def action_clear_filter(self) -> None:
        if self.query_one(NameFilter).close():
            self.table.set_filter("")
            self.table.focus()

    # -- actions -------------------------------------------------------------------------

    def _need_agent(self) -> dict[str, Any] | None:
        agent = self.selected_agent()
        if agent is None:
            self.notify("No agent selected", severity="warning")
        return agent

    def action_new_agent(self) -> None:
        self.app.push_screen(EditorScreen(None, list(self.table.agents.values())), self._saved)

    def action_edit_agent(self) -> None:
        if agent := self._need_agent():
            self.app.push_screen(EditorScreen(agent, list(self.table.agents.values())), self._saved)

    def _saved(self, agent: dict[str, Any] | None) -> None:
        if agent:
            self.table.upsert(agent)
            self.table.select_agent(str(agent["id"]))
            self.notify(f"Saved “{agent.get('name')}”")
            self._schedule_detail()

    def action_delete_agent(self) -> None:
        if agent := self._need_agent():
            self.api.delete(agent)

    def action_run_agent(self) -> None:
        if agent := self._need_agent():
            self.api.run_now(agent)

    def action_run_with_input(self) -> None:
        if agent := self._need_agent():
            self.app.push_screen(RunInputScreen(agent), partial(self._run_started, agent))

    def _run_started(self, agent: dict[str, Any], run_id: str | None) -> None:
        if run_id:
            self.notify(f"Started “{agent.get('name')}”: {run_id}")
            if str(agent["id"]) == self.detail_agent_id:
                self.detail.expect_run(run_id)

    def action_trigger_secret(self) -> None:
        if agent := self._need_agent():
            self.api.trigger_secret(agent)

    def action_cancel_run(self) -> None:
        if agent := self._need_agent():
            self.api.cancel_runs(agent)

    def action_toggle_agent(self) -> None:
        if agent := self._need_agent():
            self.api.toggle(agent)

    def action_cycle_period(self) -> None:
        self.query_one(StatsHeader).period = self.dash.next_period()
        self._load_stats()

    def action_global_stats(self) -> None:
        self.app.push_screen(GlobalStatsScreen())

    def action_channels(self) -> None:
        self.app.push_screen(ChannelsScreen())

    def action_nodes(self) -> None:
        self.app.push_screen(NodesScreen())

    def action_settings(self) -> None:
        self.app.push_screen(SettingsScreen(), self._settings_saved)

    def _settings_saved(self, settings: dict[str, Any] | None) -> None:
        if settings is not None:
            self.notify("Settings saved")
            self.api.load_global_stats(self.dash.period)  # the header's caps

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.app.active_bindings))
