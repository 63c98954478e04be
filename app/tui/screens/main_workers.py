"""The main screen's API calls: named workers that report back to the screen with typed messages.

Each call runs as a worker on the screen (leaving the app cancels it; the reads are
exclusive per kind, so a newer read of the same kind replaces an older one) and
posts what the API answered to the screen as one of the messages below; a failed
read posts :class:`CallFailed`. The screen decides what to show: the workers read no
widget and change none (they only notify, and a delete asks first), so an answer
that arrives while the app shuts down is simply dropped with the screen's queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from textual.message import Message

from app.client import ApiError
from app.tui.base import DashboardScreen
from app.tui.screens.confirm import ConfirmScreen
from app.tui.screens.secret import TRIGGER_ABOUT, TRIGGER_LOST, SecretScreen
from app.tui.screens.trigger_choice import TriggerChoiceScreen

Json = dict[str, Any]

RUN_COUNT_LIMIT = 1000
"""Counting an agent's runs for the delete question stops here ("1000+ runs")."""


class AgentsLoaded(Message, bubble=False):
    def __init__(self, agents: list[Json]) -> None:
        super().__init__()
        self.agents = agents


class GlobalStatsLoaded(Message, bubble=False):
    """The global stats: the header's figures, and each agent's cost (``costByAgent``) for the Cost column."""

    def __init__(self, period: str, stats: Json) -> None:
        super().__init__()
        self.period = period
        self.stats = stats


class AgentRunsLoaded(Message, bubble=False):
    """The detail's first read: the agent's latest runs and its stats for the period."""

    def __init__(self, agent_id: str, period: str, runs: list[Json], stats: Json) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.period = period
        self.runs = runs
        self.stats = stats


class AgentStatsLoaded(Message, bubble=False):
    def __init__(self, agent_id: str, period: str, stats: Json) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.period = period
        self.stats = stats


class TranscriptLoaded(Message, bubble=False):
    """One run with its events, for the Live tab."""

    def __init__(self, agent_id: str, run: Json) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.run = run


class AgentSaved(Message, bubble=False):
    """An agent the dashboard itself changed (the stream will say so too, a moment later)."""

    def __init__(self, agent: Json) -> None:
        super().__init__()
        self.agent = agent


class AgentRemoved(Message, bubble=False):
    def __init__(self, agent_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id


class RunRequested(Message, bubble=False):
    def __init__(self, agent_id: str, run_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.run_id = run_id


class CallFailed(Message, bubble=False):
    """``what`` failed (``"Loading agents"``, ``"Deleting"``, ...) with the API's error."""

    def __init__(self, what: str, error: ApiError) -> None:
        super().__init__()
        self.what = what
        self.error = error


class MainWorkers:
    """Starts the main screen's workers; see the module docstring."""

    def __init__(self, screen: DashboardScreen[None]) -> None:
        self._screen = screen

    def _start(self, work: Callable[[], Awaitable[None]], group: str, *, exclusive: bool = True) -> None:
        # A callable, not a coroutine: a worker cancelled before it starts leaves nothing unawaited.
        self._screen.run_worker(work, name=group, group=group, exclusive=exclusive)

    def _post(self, message: Message) -> None:
        self._screen.post_message(message)

    def _failed(self, what: str, error: ApiError) -> None:
        self._post(CallFailed(what, error))

    def _notify(self, text: str, *, warning: bool = False) -> None:
        self._screen.notify(text, severity="warning" if warning else "information")

    # -- reads -----------------------------------------------------------------------

    def load_agents(self) -> None:
        self._start(self._load_agents, "load-agents")

    async def _load_agents(self) -> None:
        try:
            agents = await self._screen.dash.client.list_agents()
        except ApiError as exc:
            self._failed("Loading agents", exc)
            return
        self._post(AgentsLoaded(agents))

    def load_global_stats(self, period: str) -> None:
        self._start(partial(self._load_global_stats, period), "load-global-stats")

    async def _load_global_stats(self, period: str) -> None:
        try:
            stats = await self._screen.dash.client.global_stats(period)
        except ApiError as exc:
            self._failed("Loading stats", exc)
            return
        self._post(GlobalStatsLoaded(period, stats))

    def load_agent_runs(self, agent_id: str, period: str) -> None:
        self._start(partial(self._load_agent_runs, agent_id, period), "load-detail")

    async def _load_agent_runs(self, agent_id: str, period: str) -> None:
        client = self._screen.dash.client
        try:
            runs = await client.list_runs(agent_id, limit=100)
            stats = await client.agent_stats(agent_id, period)
        except ApiError as exc:
            self._failed("Loading runs", exc)
            return
        self._post(AgentRunsLoaded(agent_id, period, runs, stats))

    def load_transcript(self, agent_id: str, run_id: str) -> None:
        """In the detail's group: selecting another agent cancels it, as it does the runs' read."""
        self._start(partial(self._load_transcript, agent_id, run_id), "load-detail")

    async def _load_transcript(self, agent_id: str, run_id: str) -> None:
        try:
            run = await self._screen.dash.client.get_run(agent_id, run_id)
        except ApiError as exc:
            self._failed("Loading the run", exc)
            return
        self._post(TranscriptLoaded(agent_id, run))

    def load_agent_stats(self, agent_id: str, period: str) -> None:
        self._start(partial(self._load_agent_stats, agent_id, period), "load-detail-stats")

    async def _load_agent_stats(self, agent_id: str, period: str) -> None:
        try:
            stats = await self._screen.dash.client.agent_stats(agent_id, period)
        except ApiError:
            return  # the charts keep what they show; the next change tries again
        self._post(AgentStatsLoaded(agent_id, period, stats))

    # -- changes (what the keys do to the selected agent) ----------------------------

    def delete(self, agent: Json) -> None:
        """Ask first, naming the agent and how many runs go with it."""
        self._start(partial(self._delete, agent), "delete", exclusive=False)

    async def _delete(self, agent: Json) -> None:
        agent_id, client = str(agent["id"]), self._screen.dash.client
        try:
            runs = await client.list_runs(agent_id, limit=RUN_COUNT_LIMIT)
        except ApiError as exc:
            self._failed("Counting runs", exc)
            return
        count = f"{len(runs)}+" if len(runs) >= RUN_COUNT_LIMIT else str(len(runs))
        noun = "run" if len(runs) == 1 else "runs"
        question = f"Delete “{agent.get('name')}” and its {count} {noun}?\nThis cannot be undone."
        if not await self._screen.app.push_screen_wait(ConfirmScreen(question, confirm_label="Delete")):
            return
        try:
            await client.delete_agent(agent_id)
        except ApiError as exc:
            self._failed("Deleting", exc)
            return
        self._post(AgentRemoved(agent_id))
        self._notify(f"Deleted “{agent.get('name')}”")

    def run_now(self, agent: Json) -> None:
        self._start(partial(self._run_now, agent), "run", exclusive=False)

    async def _run_now(self, agent: Json) -> None:
        agent_id = str(agent["id"])
        try:
            run_id = await self._screen.dash.client.run_agent(agent_id)
        except ApiError as exc:
            self._failed("Starting a run", exc)
            return
        self._notify(f"Started “{agent.get('name')}”")
        self._post(RunRequested(agent_id, run_id))

    def trigger_secret(self, agent: Json) -> None:
        """Create the agent's trigger secret and show it once, with the URL; an agent that has one is
        asked first: rotate it (the new one shown once), or remove it."""
        self._start(partial(self._trigger_secret, agent), "trigger-secret", exclusive=False)

    async def _trigger_secret(self, agent: Json) -> None:
        app, client = self._screen.app, self._screen.dash.client
        name = str(agent.get("name"))
        if agent.get("triggerUrl"):
            url = client.base_url + str(agent["triggerUrl"])
            choice = await app.push_screen_wait(TriggerChoiceScreen(name, url))
            if choice is None:
                return
            if choice == "remove":
                try:
                    updated = await client.remove_trigger_secret(str(agent["id"]))
                except ApiError as exc:
                    self._failed("Removing the trigger secret", exc)
                    return
                self._post(AgentSaved(updated))
                self._notify(f"“{name}” no longer takes webhooks")
                return
        try:
            answer = await client.set_trigger_secret(str(agent["id"]))
        except ApiError as exc:
            self._failed("Creating the trigger secret", exc)
            return
        path = str(answer.get("url") or "")
        self._post(AgentSaved({**agent, "triggerUrl": path}))
        await app.push_screen_wait(
            SecretScreen(
                name,
                str(answer["secret"]),
                title=f"Trigger secret of “{name}”",
                about=TRIGGER_ABOUT,
                lost=TRIGGER_LOST,
                url=client.base_url + path,
            )
        )

    def cancel_runs(self, agent: Json) -> None:
        self._start(partial(self._cancel_runs, agent), "cancel", exclusive=False)

    async def _cancel_runs(self, agent: Json) -> None:
        try:
            count = await self._screen.dash.client.cancel_agent(str(agent["id"]))
        except ApiError as exc:
            if exc.status == 404:
                self._notify(f"“{agent.get('name')}” has nothing running", warning=True)
                return
            self._failed("Cancelling", exc)
            return
        self._notify(f"Cancelled {count} run(s) of “{agent.get('name')}”")

    def toggle(self, agent: Json) -> None:
        """Enable a disabled agent, disable an enabled one."""
        self._start(partial(self._toggle, agent), "toggle", exclusive=False)

    async def _toggle(self, agent: Json) -> None:
        try:
            updated = await self._screen.dash.client.update_agent(
                str(agent["id"]), {"enabled": not agent["enabled"]}
            )
        except ApiError as exc:
            self._failed("Updating", exc)
            return
        self._post(AgentSaved(updated))
        state = "enabled" if updated.get("enabled") else "disabled"
        self._notify(f"“{updated.get('name')}” {state}")
