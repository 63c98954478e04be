"""EditorScreen: the modal agent editor (new or existing). Saves through the API.

Bindings: ``ctrl+s`` save [editor.save], ``escape`` close [editor.close]
(asks first when something changed).

The notify channels are picked by name: the channels are read in a worker as the
editor opens (:class:`~app.tui.screens.channel_workers.ChannelsLoaded`) and handed
to the form. So are the chain targets, from the agents the main screen holds (or, when
it is opened with none, read in a worker too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual import on, work

from app.client import ApiError
from app.tui.screens.channel_workers import ChannelsLoaded, read_channels
from app.tui.screens.form_dialog import FormDialog, Json
from widgets.agent_form import AgentForm
from widgets.spec_form import SpecForm


class EditorScreen(FormDialog):
    """Dismisses with the saved agent's JSON, or None when closed without saving."""

    DISCARD_QUESTION = "Discard your changes to this agent?"

    def __init__(self, agent: dict[str, Any] | None, agents: Sequence[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.agent = agent
        """The agent edited, or None for a new one."""
        self.agents = agents
        """Every agent, to pick chain targets from (None: read them)."""

    def title_text(self) -> str:
        return f"Edit “{self.agent['name']}”" if self.agent else "New agent"

    def make_form(self) -> SpecForm:
        return AgentForm(self.dash.clock, self.dash.default_timezone, id="agent-form")

    def on_mount(self) -> None:
        self.form.load(self.agent)
        self.query_one("#input-name").focus()
        self.load_channels()
        if self.agents is not None:
            self.form.set_agents(self.agents)
        else:
            self.load_agents()

    @work(exclusive=True, group="editor-agents")
    async def load_agents(self) -> None:
        try:
            agents = await self.dash.client.list_agents()
        except ApiError as exc:
            self.say(f"✗ The agents could not be read: {exc.message}", error=True)
            return
        self.form.set_agents(agents)

    @property
    def form(self) -> AgentForm:
        return self.query_one(AgentForm)

    @work(exclusive=True, group="editor-channels")
    async def load_channels(self) -> None:
        await read_channels(self)

    @on(ChannelsLoaded)
    def _channels_loaded(self, message: ChannelsLoaded) -> None:
        self.form.set_channels(message.channels)
        if message.error is not None:
            self.say(f"✗ The channels could not be read: {message.error.message}", error=True)

    async def submit(self) -> Json | None:
        client = self.dash.client
        if self.agent is None:
            return await client.create_agent(self.form.body(for_update=False))
        body = self.form.body(for_update=True)
        if not body:
            return None
        return await client.update_agent(str(self.agent["id"]), body)
