"""RunScreen: one run's whole transcript (``GET /api/agents/:id/runs/:runId``), live if running."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from app.client import ApiError
from app.tui.formatting import run_summary
from widgets.run_log import RunLog

if TYPE_CHECKING:
    from app.tui.app import CronAgentsApp


class RunScreen(Screen[None]):
    """Escape goes back."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="run.back")]

    def __init__(self, agent_id: str, run_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.run_id = run_id
        self.run: dict[str, Any] | None = None

    @property
    def dash(self) -> CronAgentsApp:
        from app.tui.app import CronAgentsApp

        assert isinstance(self.app, CronAgentsApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static("Loading the run…", id="run-title")
        yield Static("", id="run-summary")
        yield RunLog(id="run-log")
        yield Static("", id="run-output")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

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

    def show(self, run: dict[str, Any]) -> None:
        self.run = run
        agent = self.dash.agent_name(self.agent_id)
        self.query_one("#run-title", Static).update(
            Text.assemble(("Run ", "dim"), (self.run_id, "bold"), (" of ", "dim"), (agent, "bold"),
                          (f"  started {run.get('startedAt') or '—'}", "dim"))  # fmt: skip
        )
        self.query_one("#run-summary", Static).update(run_summary(run))
        output = str(run.get("output") or "")
        self.query_one("#run-output", Static).update(Text(output, style="dim") if output else "")

    def handle_server_event(self, event: dict[str, Any]) -> None:
        if event.get("runId") != self.run_id:
            return
        if event.get("type") == "run.event":
            self.query_one(RunLog).add_event(dict(event.get("event") or {}))
        elif event.get("type") in ("run.started", "run.finished") and isinstance(event.get("run"), dict):
            self.show(dict(event["run"]))
