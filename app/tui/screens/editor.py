"""EditorScreen: the modal agent editor (new or existing). Saves through the API.

Bindings: ``ctrl+s`` save [editor.save], ``escape`` close [editor.close]
(asks first when something changed).
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from app.client import ApiError
from app.tui.base import DashboardModalScreen
from app.tui.screens.confirm import ConfirmScreen
from widgets.agent_form import AgentForm


class EditorScreen(DashboardModalScreen[dict[str, Any] | None]):
    """Dismisses with the saved agent's JSON, or None when closed without saving."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="editor.save", priority=True),
        Binding("escape", "close", "Close", id="editor.close"),
    ]

    DEFAULT_CSS = """
    EditorScreen {
        align: center middle;
    }
    EditorScreen > #editor-dialog {
        width: 100;
        max-width: 100%;
        height: 100%;
        max-height: 44;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    #editor-title {
        text-style: bold;
        height: 1;
        margin-bottom: 1;
    }
    #editor-message {
        height: auto;
        color: $text-muted;
    }
    #editor-message.-error {
        color: $error;
    }
    #editor-buttons {
        height: 1;
        align-horizontal: right;
    }
    #editor-buttons Button {
        margin-left: 2;
    }
    """

    def __init__(self, agent: dict[str, Any] | None) -> None:
        super().__init__()
        self.agent = agent
        """The agent edited, or None for a new one."""

    def compose(self) -> ComposeResult:
        title = f"Edit “{self.agent['name']}”" if self.agent else "New agent"
        with Vertical(id="editor-dialog"):
            yield Static(title, id="editor-title")
            yield AgentForm(self.dash.clock, self.dash.default_timezone, id="agent-form")
            yield Static("", id="editor-message")
            with Horizontal(id="editor-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="editor-save", compact=True)
                yield Button("Close (esc)", id="editor-close", compact=True)

    def on_mount(self) -> None:
        form = self.query_one(AgentForm)
        form.load(self.agent)
        self.query_one("#input-name").focus()

    @property
    def form(self) -> AgentForm:
        return self.query_one(AgentForm)

    def action_save(self) -> None:
        self.save()

    @work(exclusive=True, group="editor-save")
    async def save(self) -> None:
        message = self.query_one("#editor-message", Static)
        client = self.dash.client
        try:
            if self.agent is None:
                saved = await client.create_agent(self.form.body(for_update=False))
            else:
                body = self.form.body(for_update=True)
                if not body:
                    self.dismiss(None)
                    return
                saved = await client.update_agent(str(self.agent["id"]), body)
        except ApiError as exc:
            self.form.show_errors(exc.fields)
            message.update(f"✗ {exc.message}")
            message.add_class("-error")
            return
        self.dismiss(saved)

    def action_close(self) -> None:
        self.close()

    @work(exclusive=True, group="editor-close")
    async def close(self) -> None:
        if self.form.is_dirty:
            question = "Discard your changes to this agent?"
            if not await self.app.push_screen_wait(ConfirmScreen(question, confirm_label="Discard")):
                return
        self.dismiss(None)

    @on(Button.Pressed, "#editor-save")
    def _save_pressed(self) -> None:
        self.save()

    @on(Button.Pressed, "#editor-close")
    def _close_pressed(self) -> None:
        self.close()
