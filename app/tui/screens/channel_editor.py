"""ChannelEditorScreen: a new channel (its type picked) or an existing one. Saves through the API.

Bindings: ``ctrl+s`` save [editor.save], ``escape`` close [editor.close].
Dismisses with the API's answer: for a new webhook it holds the signing ``secret``,
which the channels screen shows once.
"""

from __future__ import annotations

from typing import Any

from app.tui.screens.form_dialog import FormDialog, Json
from widgets.channel_form import ChannelForm
from widgets.spec_form import SpecForm


class ChannelEditorScreen(FormDialog):
    """Dismisses with the saved channel's JSON, or None when closed without saving."""

    DISCARD_QUESTION = "Discard your changes to this channel?"

    DEFAULT_CSS = """
    ChannelEditorScreen > #editor-dialog {
        width: 80;
        height: auto;
        max-height: 90%;
    }
    ChannelEditorScreen ChannelForm {
        height: auto;
    }
    ChannelEditorScreen ChannelForm > #form-scroll {
        height: auto;
    }
    """

    def __init__(self, channel: dict[str, Any] | None) -> None:
        super().__init__()
        self.channel = channel
        """The channel edited, or None for a new one."""

    def title_text(self) -> str:
        return f"Edit the channel “{self.channel['name']}”" if self.channel else "New channel"

    def make_form(self) -> SpecForm:
        return ChannelForm(creating=self.channel is None, id="channel-form")

    def on_mount(self) -> None:
        self.form.load(self.channel)
        self.query_one("#input-name").focus()
        if self.channel is not None and self.channel.get("type") == "slack":
            self.say("The API shows a Slack URL only in part: leave it as it is, or type the whole new one.")

    async def submit(self) -> Json | None:
        client = self.dash.client
        if self.channel is None:
            return await client.create_channel(self.form.body(for_update=False))
        body = self.form.body(for_update=True)
        if not body:
            return None
        return await client.update_channel(str(self.channel["id"]), body)
