"""AgentDetail: the selected agent's title line and its Runs / Live / Stats tabs.

The screen fills it (downward, by the methods below) with what it reads from the
API and hears on the event stream; Enter on a run in the Runs tab posts
``DataTable.RowSelected`` from the ``#runs`` table, for the screen to open the run.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static, TabbedContent, TabPane

from widgets.formatting import Clock, money, parse_iso, run_header, run_summary, spend_against, truncate
from widgets.run_history import RunHistory
from widgets.run_log import RunLog
from widgets.stats_chart import CostChart, RunsChart
from widgets.triggers import when_text

ACTIVE = ("running", "queued")


def agent_title(agent: dict[str, Any], spend: dict[str, Any] | None = None) -> Text:
    """Name, schedule (or a one-shot's time; a webhook mark), why the server paused it, spend against
    its caps, description, then time zone, turns and budget, dim. ``spend``: the agent's
    ``costByAgent`` entry."""
    when = when_text(agent) or str(agent.get("schedule"))
    text = Text.assemble((str(agent.get("name", "")), "bold"), (f"  {when}", "bold cyan"))
    if agent.get("triggerUrl"):
        text.append("  ↯ webhook", style="magenta")
    if agent.get("pausedReason") and not agent.get("enabled"):
        text.append(f"  {agent['pausedReason']} (space: enable)", style="bold yellow")
    spend = spend or {}
    for label, spent, cap in (
        ("today", spend.get("todayUsd"), agent.get("dailyBudgetUsd")),
        ("month", spend.get("monthUsd"), agent.get("monthlyBudgetUsd")),
    ):
        if cap:
            text.append(f"  {label} ", style="dim")
            text.append_text(spend_against(spent, cap))
    if agent.get("description"):
        text.append("  " + truncate(str(agent["description"]), 70), style="dim")
    budget = money(agent.get("maxBudgetUsd")) if agent.get("maxBudgetUsd") else "none"
    turns = agent.get("maxTurns")
    text.append(f"  · {agent.get('timezone') or ''} · max {turns} turns · budget {budget}", style="dim")
    return text


class AgentDetail(Vertical):
    """One agent's detail; ``1``/``2``/``3`` on the screen switch the tabs (see :meth:`show_tab`)."""

    DEFAULT_CSS = """
    AgentDetail {
        height: 1fr;
        min-height: 10;
    }
    AgentDetail > #detail-title {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    #tabs {
        height: 1fr;
    }
    #tabs TabPane {
        padding: 0;
    }
    #runs, #live {
        height: 1fr;
    }
    #charts {
        height: 1fr;
    }
    #charts RunsChart, #charts CostChart {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self, clock: Clock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        self.agent_id: str | None = None
        """The agent shown (None: no agent selected)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title")
        with TabbedContent(id="tabs", initial="tab-runs"):
            with TabPane("Runs", id="tab-runs"):
                yield RunHistory(self._clock, id="runs")
            with TabPane("Live", id="tab-live"):
                yield RunLog(id="live")
            with TabPane("Stats", id="tab-stats"), Horizontal(id="charts"):
                yield RunsChart(id="runs-chart")
                yield CostChart(id="cost-chart")

    @property
    def history(self) -> RunHistory:
        return self.query_one(RunHistory)

    @property
    def live(self) -> RunLog:
        return self.query_one("#live", RunLog)

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def show_agent(
        self, agent: dict[str, Any] | None, period: str, spend: dict[str, Any] | None = None
    ) -> None:
        """Another agent (or none): its title now; with None, empty tabs too."""
        self.agent_id = str(agent["id"]) if agent else None
        self.show_title(agent, spend)
        if agent is None:
            self.history.set_runs([])
            self.live.show_run(None, Text("No agent selected.", style="dim"))
            self.show_days([], period)

    def show_title(self, agent: dict[str, Any] | None, spend: dict[str, Any] | None = None) -> None:
        """The title line; ``spend``: the agent's ``costByAgent`` entry (its spend against its caps)."""
        title = self.query_one("#detail-title", Static)
        if agent is None:
            title.update(Text("No agents yet — press n to create one.", style="dim"))
        else:
            title.update(agent_title(agent, spend))

    def show_days(self, days: list[dict[str, Any]], period: str) -> None:
        """The Stats tab: the agent's ``dailyRuns`` for ``period``."""
        self.query_one(RunsChart).set_days(days, period)
        self.query_one(CostChart).set_days(days, period)

    def show_runs(self, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The Runs tab; returns the run the Live tab should show (the active one, else the latest).

        With no runs at all the Live tab says how to start one.
        """
        self.history.set_runs(runs)
        latest = next((r for r in runs if r.get("status") in ACTIVE), None) or (runs[0] if runs else None)
        if latest is None:
            self.live.show_run(None, Text("No runs yet — press r to run it now.", style="dim"))
        return latest

    def show_transcript(self, run: dict[str, Any]) -> None:
        """The Live tab: a run's whole transcript so far (and how it ended, if it did)."""
        self.live.show_run(str(run["id"]), run_header(run))
        self.live.add_events(list(run.get("events", [])))
        if run.get("status") not in ACTIVE:
            self.live.note(run_summary(run))

    def expect_run(self, run_id: str) -> None:
        """A run was just asked for: the Live tab waits for its events."""
        if self.live.run_id != run_id:
            self.live.show_run(run_id, run_header({"id": run_id, "trigger": "manual"}))
        self.show_tab("tab-live")

    def run_queued(self, run: dict[str, Any]) -> None:
        self.history.upsert(run)

    def run_started(self, run: dict[str, Any]) -> None:
        self.history.upsert(run)
        if self.live.run_id != run["id"]:
            self.live.show_run(str(run["id"]), run_header(run))
        else:
            when = parse_iso(run.get("startedAt"))
            at = when.strftime("%H:%M:%S") if when else ""
            self.live.note(Text(f"started {at}", style="dim"))

    def run_finished(self, run: dict[str, Any]) -> None:
        self.history.upsert(run)
        if self.live.run_id == run["id"]:
            self.live.note(run_summary(run))

    def add_events(self, run_id: str, events: list[dict[str, Any]]) -> None:
        """Transcript lines of a running run (dropped unless the Live tab shows that run)."""
        if self.live.run_id == run_id:
            for event in events:
                self.live.add_event(event)
