"""RunScreen: one run's whole transcript (``GET /api/agents/:id/runs/:runId``), live if running.

Bindings: ``escape``/``q`` back [run.back], ``P`` the run this one came from
[run.parent] (the run that chained to it, or the run a retry retries).

Above the transcript: how the run was started (its trigger; a retry names its attempt
and the run it retries; a chained run its parent run and that run's agent, found in a
worker among the agents that chain to this one), the input it was given, and the
alerts it raised, one row per delivery to a channel, the channels named (read in a
worker, :class:`~app.tui.screens.channel_workers.ChannelsLoaded`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from app.client import ApiError
from app.tui.base import DashboardScreen
from app.tui.messages import AgentChanged, RunEvents, RunFinished, RunStarted
from app.tui.screens.channel_workers import ChannelsLoaded, read_channels
from widgets.delivery_table import DeliveryTable
from widgets.formatting import run_summary
from widgets.run_history import trigger_text
from widgets.run_log import RunLog

ALERTS_DELAY = 2.0
"""A run that ends while shown is read again this much later, for the alerts it raised and how they went."""


class RunScreen(DashboardScreen[None]):
    """Escape goes back."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="run.back", tooltip="Back to the agents"),
        Binding("P", "open_parent", "Parent run", id="run.parent", tooltip="Open the run this one came from"),
    ]

    DEFAULT_CSS = """
    RunScreen > #run-title {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    RunScreen > #run-summary {
        height: 1;
        padding: 0 1;
    }
    RunScreen > #run-origin {
        height: auto;
        padding: 0 1;
    }
    RunScreen > #run-input {
        height: auto;
        max-height: 8;
        padding: 0 1;
        border-top: solid $panel;
    }
    RunScreen > #run-alerts {
        height: auto;
        padding: 0 1;
        border-top: solid $panel;
    }
    RunScreen > #run-log {
        height: 1fr;
        border-top: solid $panel;
    }
    RunScreen > #run-output {
        height: auto;
        max-height: 6;
        padding: 0 1;
        border-top: solid $panel;
    }
    """

    def __init__(self, agent_id: str, run_id: str, *, agent_name: str = "") -> None:
        super().__init__()
        self.agent_id = agent_id
        self.run_id = run_id
        self.agent_name = agent_name or agent_id
        """Shown in the title; kept current from the event stream."""
        self.run: dict[str, Any] | None = None
        self.channel_names: dict[str, str] = {}
        """Channel names by id, for the alerts."""
        self.came_from: tuple[str, str, str] | None = None
        """(agent id, run id, agent name) of the run this one came from, once known."""

    def compose(self) -> ComposeResult:
        yield Static("Loading the run…", id="run-title")
        yield Static("", id="run-summary")
        yield Static("", id="run-origin")
        yield Static("", id="run-input")
        yield Static("", id="run-alerts")
        yield DeliveryTable(id="run-deliveries")
        yield RunLog(id="run-log")
        yield Static("", id="run-output")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.load_channels()

    @work(exclusive=True, group="load-run-channels")
    async def load_channels(self) -> None:
        await read_channels(self)

    @on(ChannelsLoaded)
    def _channels_loaded(self, message: ChannelsLoaded) -> None:
        self.channel_names = {str(c["id"]): str(c.get("name", c["id"])) for c in message.channels}
        if self.run is not None:
            self.show_deliveries(self.run)

    @work(exclusive=True, group="load-run")
    async def load(self) -> None:
        try:
            run = await self.dash.client.get_run(self.agent_id, self.run_id)
        except ApiError as exc:
            self.query_one("#run-title", Static).update(f"✗ {exc.message}")
            return
        self.show(run)
        log = self.query_one(RunLog)
        log.show_run(self.run_id)
        log.add_events(list(run.get("events", [])))
        if run.get("retryOf"):
            self.came_from = (self.agent_id, str(run["retryOf"]), self.agent_name)
            self.refresh_bindings()
        elif run.get("parentRunId"):
            self.find_parent(str(run["parentRunId"]))

    @work(exclusive=True, group="find-parent")
    async def find_parent(self, parent_run_id: str) -> None:
        """The agent of the run that chained to this one: one of the agents that chain to this agent."""
        client = self.dash.client
        try:
            agents = await client.list_agents()
        except ApiError:
            return
        chaining = [a for a in agents if self.agent_id in [*a.get("onSuccess", []), *a.get("onFailure", [])]]
        for agent in chaining:
            try:
                await client.get_run(str(agent["id"]), parent_run_id)
            except ApiError:
                continue
            self.came_from = (str(agent["id"]), parent_run_id, str(agent.get("name") or agent["id"]))
            self.refresh_bindings()
            if self.run is not None:
                self.show_origin(self.run)
            return

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``P`` is offered (in the footer) only for a run that came from another."""
        return self.came_from is not None if action == "open_parent" else True

    def action_open_parent(self) -> None:
        if self.came_from is None:
            self.notify("This run did not come from another run", severity="warning")
            return
        agent_id, run_id, name = self.came_from
        self.app.push_screen(RunScreen(agent_id, run_id, agent_name=name))

    def show(self, run: dict[str, Any]) -> None:
        self.run = {**(self.run or {}), **run}  # a stream event's run has no deliveries: keep them
        title = Text.assemble(
            ("Run ", "dim"),
            (self.run_id, "bold"),
            (" of ", "dim"),
            (self.agent_name, "bold"),
            (f"  started {run.get('startedAt') or '—'}", "dim"),
        )
        if run.get("retryOf"):
            title.append(f"  ↻ retry, attempt {run.get('attempt')}", style="bold yellow")
            title.append(" of run ", style="dim")
            title.append(str(run["retryOf"]), style="yellow")
        self.query_one("#run-title", Static).update(title)
        self.show_origin(self.run)
        self.show_deliveries(self.run)
        self.query_one("#run-summary", Static).update(run_summary(run))
        output = str(run.get("output") or "")
        self.query_one("#run-output", Static).update(Text(output, style="dim") if output else "")

    def show_origin(self, run: dict[str, Any]) -> None:
        """What started the run (its trigger, the run it came from) and the input it was given."""
        origin = Text.assemble(("Started by ", "dim"))
        trigger = str(run.get("trigger") or "")
        origin.append_text(trigger_text(run) if trigger else Text("—"))
        if run.get("scheduledFor") and trigger == "schedule":
            origin.append(f"  slot {run['scheduledFor']}", style="dim")
        parent = run.get("parentRunId") or run.get("retryOf")
        if parent:
            origin.append("  after run ", style="dim")
            origin.append(str(parent), style="bold")
            if self.came_from is not None and self.came_from[2] and run.get("parentRunId"):
                origin.append(" of ", style="dim")
                origin.append(self.came_from[2], style="bold")
            origin.append("  (P opens it)", style="dim")
        self.query_one("#run-origin", Static).update(origin)
        box = self.query_one("#run-input", Static)
        given = run.get("input")
        box.display = given is not None
        if given is not None:
            lines = str(given).splitlines() or [""]
            text = Text.assemble(("Input", "bold"), (f"  {len(str(given))} characters\n", "dim"))
            text.append("\n".join(lines[:6]))
            if len(lines) > 6:
                text.append(f"\n… {len(lines) - 6} more lines", style="dim")
            box.update(text)

    def show_deliveries(self, run: dict[str, Any]) -> None:
        """The alerts the run raised (the table hides when there are none)."""
        deliveries = list(run.get("deliveries") or [])
        counts: dict[str, int] = {}
        for d in deliveries:
            counts[str(d.get("status"))] = counts.get(str(d.get("status")), 0) + 1
        alerts = self.query_one("#run-alerts", Static)
        table = self.query_one(DeliveryTable)
        alerts.display = table.display = bool(deliveries)
        if deliveries:
            parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            noun = "alert" if len(deliveries) == 1 else "alerts"
            alerts.update(Text.assemble((f"{len(deliveries)} {noun}", "bold"), (f" ({parts})", "dim")))
            table.show(deliveries, self.channel_names)

    @on(RunEvents)
    def _run_events(self, message: RunEvents) -> None:
        if message.run_id == self.run_id:
            log = self.query_one(RunLog)
            for event in message.events:
                log.add_event(event)

    @on(RunStarted)
    @on(RunFinished)
    def _run_changed(self, message: RunStarted | RunFinished) -> None:
        if message.run_id == self.run_id and message.run:
            self.show(message.run)
            if isinstance(message, RunFinished):
                self.reload_alerts()

    @work(exclusive=True, group="reload-run-alerts")
    async def reload_alerts(self) -> None:
        """The alerts of a run that just ended: raised as it ends, sent moments later."""
        await asyncio.sleep(ALERTS_DELAY)
        try:
            run = await self.dash.client.get_run(self.agent_id, self.run_id)
        except ApiError:
            return  # the run as shown stays; reopening it reads it again
        self.show({k: v for k, v in run.items() if k != "events"})

    @on(AgentChanged)
    def _agent_changed(self, message: AgentChanged) -> None:
        if message.agent_id == self.agent_id and message.agent is not None:
            self.agent_name = str(message.agent.get("name") or self.agent_id)
            if self.run is not None:
                self.show(self.run)
