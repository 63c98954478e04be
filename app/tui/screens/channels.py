"""ChannelsScreen: where alerts go (webhook, Slack, email): list, create, edit, delete, test.

Bindings (ids in brackets, overridable in the keymap): ``n`` new [channel.new],
``e`` edit [channel.edit] (also Enter on a row), ``d`` delete [channel.delete],
``t`` send a test message [channel.test], ``space`` enable/disable
[channel.toggle], ``escape``/``q`` back [channels.back].

A new webhook's signing secret is shown once, in :class:`SecretScreen`, as the API
answers it only then. API calls run in :class:`ChannelWorkers`; their answers come
back as the messages of :mod:`channel_workers`.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from app.tui.base import DashboardScreen
from app.tui.screens.channel_editor import ChannelEditorScreen
from app.tui.screens.channel_workers import (
    ChannelRemoved,
    ChannelSaved,
    ChannelsLoaded,
    ChannelTested,
    ChannelWorkers,
)
from app.tui.screens.main_workers import CallFailed
from app.tui.screens.secret import SecretScreen
from widgets.channel_table import ChannelTable, test_result

HINT = "Agents send to the channels their Notifications name, else to the settings' default channels (S)."


class ChannelsScreen(DashboardScreen[None]):
    """The channels, by name. See the module docstring for the keys."""

    BINDINGS = [
        Binding("n", "new_channel", "New", id="channel.new", tooltip="Create a channel"),
        Binding("e", "edit_channel", "Edit", id="channel.edit", tooltip="Edit the selected channel"),
        Binding("d", "delete_channel", "Delete", id="channel.delete", tooltip="Delete the selected channel"),
        Binding("t", "test_channel", "Test", id="channel.test", tooltip="Send a test message to the channel"),
        Binding(
            "space", "toggle_channel", "On/off", id="channel.toggle", tooltip="Enable or disable the channel"
        ),
        Binding("escape,q", "app.pop_screen", "Back", id="channels.back", tooltip="Back to the agents"),
    ]

    DEFAULT_CSS = """
    ChannelsScreen > #channels-title {
        height: auto;
        padding: 0 1;
        background: $panel;
    }
    ChannelsScreen > #channels-status {
        height: auto;
        padding: 0 1;
        border-top: solid $panel;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.api = ChannelWorkers(self)

    def compose(self) -> ComposeResult:
        yield Static(
            Text.assemble(("Alert channels", "bold"), ("  " + HINT, "dim")),
            id="channels-title",
        )
        yield ChannelTable(id="channels")
        yield Static("", id="channels-status")
        yield Footer()

    def on_mount(self) -> None:
        self._status("")
        self.table.focus()
        self.api.load()

    @property
    def table(self) -> ChannelTable:
        return self.query_one(ChannelTable)

    def _status(self, text: Text | str) -> None:
        status = self.query_one("#channels-status", Static)
        status.update(text)
        status.display = bool(str(text))

    # -- answers -------------------------------------------------------------------------

    @on(ChannelsLoaded)
    def _loaded(self, message: ChannelsLoaded) -> None:
        if message.error is not None:
            self._status(Text(f"✗ Loading the channels: {message.error.message}", style="red"))
            return
        self.table.set_channels(message.channels)
        if not message.channels:
            self._status(Text("No channels yet — press n to add a webhook, Slack or email channel.", "dim"))

    @on(ChannelSaved)
    def _saved_message(self, message: ChannelSaved) -> None:
        self.table.upsert(message.channel)

    @on(ChannelRemoved)
    def _removed(self, message: ChannelRemoved) -> None:
        self.table.remove_channel(message.channel_id)

    @on(ChannelTested)
    def _tested(self, message: ChannelTested) -> None:
        self.table.set_test(message.channel_id, message.delivery)
        name = (self.table.channels.get(message.channel_id) or {}).get("name", message.channel_id)
        self._status(
            Text.assemble(("Test of ", "dim"), (str(name), "bold"), ": ", test_result(message.delivery))
        )
        if message.sent:
            self.notify(f"Test message sent to “{name}”")
        else:
            error = message.delivery.get("lastError") or "not sent"
            self.notify(f"Test of “{name}” failed: {error}", severity="error", timeout=8)

    @on(CallFailed)
    def _call_failed(self, message: CallFailed) -> None:
        self.notify(f"{message.what}: {message.error.message}", severity="error", timeout=6)

    # -- actions -------------------------------------------------------------------------

    def _need_channel(self) -> dict[str, Any] | None:
        channel = self.table.selected()
        if channel is None:
            self.notify("No channel selected", severity="warning")
        return channel

    @on(DataTable.RowSelected, "#channels")
    def _row_selected(self) -> None:
        self.action_edit_channel()

    def action_new_channel(self) -> None:
        self.app.push_screen(ChannelEditorScreen(None), self._saved)

    def action_edit_channel(self) -> None:
        if channel := self._need_channel():
            self.app.push_screen(ChannelEditorScreen(channel), self._saved)

    def _saved(self, channel: dict[str, Any] | None) -> None:
        if not channel:
            return
        secret = channel.get("secret")
        # The secret is shown once, in its own dialog; the table never keeps it.
        shown = {k: v for k, v in channel.items() if k != "secret"}
        self.table.upsert(shown)
        self.table.select_channel(str(channel["id"]))
        self._status("")
        if secret:
            self.app.push_screen(SecretScreen(str(channel.get("name", "")), str(secret)))
        else:
            self.notify(f"Saved the channel “{channel.get('name')}”")

    def action_delete_channel(self) -> None:
        if channel := self._need_channel():
            self.api.delete(channel)

    def action_test_channel(self) -> None:
        if channel := self._need_channel():
            self._status(Text(f"Sending a test message to “{channel.get('name')}”…", style="dim"))
            self.api.test(channel)

    def action_toggle_channel(self) -> None:
        if channel := self._need_channel():
            self.api.toggle(channel)
