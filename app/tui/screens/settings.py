"""SettingsScreen: the server-wide settings: global daily/monthly spend caps, default alert channels.

Bindings: ``ctrl+s`` save [editor.save], ``escape`` close [editor.close].
The settings and the channels (to pick the defaults by name) are read in a worker
as the dialog opens; it dismisses with the settings as saved.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.message import Message

from app.client import ApiError
from app.tui.screens.channel_workers import ChannelsLoaded, read_channels
from app.tui.screens.form_dialog import FormDialog, Json
from widgets.settings_form import SettingsForm
from widgets.spec_form import SpecForm


class SettingsLoaded(Message, bubble=False):
    def __init__(self, settings: Json | None, error: ApiError | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.error = error


class SettingsScreen(FormDialog):
    """Dismisses with the saved settings, or None when closed without saving."""

    DISCARD_QUESTION = "Discard your changes to the settings?"

    DEFAULT_CSS = """
    SettingsScreen > #editor-dialog {
        width: 80;
        height: auto;
        max-height: 90%;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.settings: dict[str, Any] | None = None
        """The settings as read (None until they are)."""

    def title_text(self) -> str:
        return "Settings: every agent's caps and the default alert channels"

    def make_form(self) -> SpecForm:
        return SettingsForm(id="settings-form")

    def on_mount(self) -> None:
        self.form.disabled = True  # until the settings are read
        self.say("Reading the settings…")
        self.load()

    @work(exclusive=True, group="settings-load")
    async def load(self) -> None:
        try:
            settings = await self.dash.client.get_settings()
        except ApiError as exc:
            self.post_message(SettingsLoaded(None, exc))
            return
        self.post_message(SettingsLoaded(settings))
        await read_channels(self)

    @on(SettingsLoaded)
    def _settings_loaded(self, message: SettingsLoaded) -> None:
        if message.error is not None or message.settings is None:
            self.say(f"✗ {message.error.message if message.error else 'no settings'}", error=True)
            return
        self.settings = message.settings
        self.form.disabled = False
        self.form.load(message.settings)
        self.say(
            "Over a cap, runs are refused (scheduled ones skipped) for the rest of the day or month; "
            "empty: no cap."
        )
        self.query_one("#input-dailyBudgetUsd").focus()

    @on(ChannelsLoaded)
    def _channels_loaded(self, message: ChannelsLoaded) -> None:
        self.form.set_channels(message.channels)

    async def submit(self) -> Json | None:
        if self.settings is None:
            return None
        body = self.form.body(for_update=True)
        if not body:
            return None
        return await self.dash.client.update_settings(body)
