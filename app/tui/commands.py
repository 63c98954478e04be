"""Command palette provider: the dashboard's actions by name (ctrl+p)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (title, help, main-screen action name)
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("New agent", "Create an agent in the editor", "new_agent"),
    ("Edit agent", "Edit the selected agent", "edit_agent"),
    ("Delete agent", "Delete the selected agent and its runs", "delete_agent"),
    ("Run agent now", "Start a run of the selected agent", "run_agent"),
    ("Cancel run", "Cancel the selected agent's running run", "cancel_run"),
    ("Enable / disable agent", "Toggle the selected agent's schedule", "toggle_agent"),
    ("Filter agents", "Filter the table by name", "filter"),
    ("Cycle period", "Switch the stats period: 24h, 7d, 30d", "cycle_period"),
    ("Global stats", "Charts across all agents", "global_stats"),
    ("Help", "Every key and what it does", "help"),
)


class DashboardCommands(Provider):
    """Offers the main screen's actions (when the main screen is open)."""

    def _run(self, action: str) -> None:
        from app.tui.app import CronAgentsApp

        app = self.app
        if isinstance(app, CronAgentsApp) and app.main_screen is not None:
            app.switch_to_main()
            getattr(app.main_screen, f"action_{action}")()

    def _callback(self, action: str) -> Callable[[], None]:
        return partial(self._run, action)

    async def discover(self) -> Hits:
        for title, help_text, action in COMMANDS:
            yield DiscoveryHit(title, self._callback(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in COMMANDS:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), self._callback(action), help=help_text)
