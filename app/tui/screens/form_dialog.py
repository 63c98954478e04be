"""FormDialog: a modal form that saves through the API (the agent and channel editors, the settings).

Bindings: ``ctrl+s`` save [editor.save], ``escape`` close [editor.close] (asks
first when something changed). One pair of ids for every such dialog, so a
keymap changes them all.

A subclass composes its form (:meth:`make_form`) and says how to save it
(:meth:`submit`). What the form finds wrong itself (JSON that does not parse) is shown
at the field and nothing is sent; otherwise the dialog shows the API's refusal — each field's problem
beside the field, the message above the buttons — and dismisses with what the
API answered, or None when closed without saving.
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
from widgets.spec_form import SpecForm

Json = dict[str, Any]


class FormDialog(DashboardModalScreen[Json | None]):
    """Dismisses with the saved JSON, or None when closed without saving."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="editor.save", priority=True, tooltip="Save"),
        Binding("escape", "close", "Close", id="editor.close", tooltip="Close (asks first if changed)"),
    ]

    DEFAULT_CSS = """
    FormDialog {
        align: center middle;
    }
    FormDialog > #editor-dialog {
        width: 100;
        max-width: 100%;
        height: 100%;
        max-height: 44;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    FormDialog #editor-title {
        text-style: bold;
        height: 1;
        margin-bottom: 1;
    }
    FormDialog #editor-message {
        height: auto;
        color: $text-muted;
    }
    FormDialog #editor-message.-error {
        color: $error;
    }
    FormDialog #editor-buttons {
        height: 1;
        align-horizontal: right;
    }
    FormDialog #editor-buttons Button {
        margin-left: 2;
    }
    """

    DISCARD_QUESTION = "Discard your changes?"

    def title_text(self) -> str:
        raise NotImplementedError

    def make_form(self) -> SpecForm:
        raise NotImplementedError

    async def submit(self) -> Json | None:
        """Save the form through the API; None when there is nothing to save."""
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(id="editor-dialog"):
            yield Static(self.title_text(), id="editor-title")
            yield self.make_form()
            yield Static("", id="editor-message")
            with Horizontal(id="editor-buttons"):
                yield Button("Save (ctrl+s)", variant="primary", id="editor-save", compact=True)
                yield Button("Close (esc)", id="editor-close", compact=True)

    @property
    def form(self) -> SpecForm:
        return self.query_one(SpecForm)

    def say(self, text: str, *, error: bool = False) -> None:
        """A line above the buttons."""
        message = self.query_one("#editor-message", Static)
        message.update(text)
        message.set_class(error, "-error")

    def action_save(self) -> None:
        self.save()

    @work(exclusive=True, group="editor-save")
    async def save(self) -> None:
        local = self.form.local_problems()
        if local:  # e.g. JSON that does not parse: said at the field, nothing sent
            self.form.show_errors(local)
            self.say(f"✗ Fix the marked field{'s' if len(local) > 1 else ''} first", error=True)
            return
        try:
            saved = await self.submit()
        except ApiError as exc:
            self.form.show_errors(exc.fields)
            self.say(f"✗ {exc.message}", error=True)
            return
        self.dismiss(saved)

    def action_close(self) -> None:
        self.close()

    @work(exclusive=True, group="editor-close")
    async def close(self) -> None:
        if self.form.is_dirty:
            if not await self.app.push_screen_wait(
                ConfirmScreen(self.DISCARD_QUESTION, confirm_label="Discard")
            ):
                return
        self.dismiss(None)

    @on(Button.Pressed, "#editor-save")
    def _save_pressed(self) -> None:
        self.save()

    @on(Button.Pressed, "#editor-close")
    def _close_pressed(self) -> None:
        self.close()
