"""RunInputScreen: run an agent now with input (``POST /api/agents/:id/run`` with ``{"input": ...}``).

Bindings: ``ctrl+s`` start the run [run_input.start], ``escape`` close [run_input.close].

The input is typed into a text area: empty runs the agent without input; a JSON
object or array is sent as JSON (the server shows it to the agent indented); any
other text is sent as it is. The prompt places it with ``{{input}}`` (or gets it
under an ``## Input`` heading). The API's refusal — a spend cap's 409, a bad input's
400 — is shown in the dialog, which stays open; a started run dismisses it with the
run's id.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static, TextArea

from app.client import ApiError
from app.tui.base import DashboardModalScreen

HINT = (
    "The prompt gets it as {{input}} (or under an “## Input” heading). A JSON object or array "
    "is sent as JSON; other text as it is. Empty: a plain run."
)


def run_input(text: str) -> Any:
    """What the text area's text is sent as: None (no input), JSON (an object or array), else the text."""
    if not text.strip():
        return None
    stripped = text.strip()
    if stripped[0] in "[{":
        try:
            value = json.loads(stripped)
        except ValueError:
            return text
        if isinstance(value, dict | list):
            return value
    return text


def input_kind(text: str) -> str:
    """The line under the text area: what will be sent."""
    value = run_input(text)
    if value is None:
        return "No input: a plain run."
    if isinstance(value, dict | list):
        return f"Sent as JSON ({'an object' if isinstance(value, dict) else 'an array'})."
    if text.strip()[:1] in ("{", "["):
        return "Not valid JSON: sent as text."
    return f"Sent as text ({len(text)} characters)."


class RunInputScreen(DashboardModalScreen[str | None]):
    """Dismisses with the started run's id, or None when closed."""

    BINDINGS = [
        Binding("ctrl+s", "start", "Run", id="run_input.start", priority=True, tooltip="Start the run"),
        Binding("escape", "close", "Close", id="run_input.close", tooltip="Close without running"),
    ]

    DEFAULT_CSS = """
    RunInputScreen {
        align: center middle;
    }
    RunInputScreen > #run-input-dialog {
        width: 84;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    RunInputScreen #run-input-title {
        text-style: bold;
        margin-bottom: 1;
    }
    RunInputScreen #run-input-hint, RunInputScreen #run-input-kind {
        color: $text-muted;
    }
    RunInputScreen #run-input-text {
        height: 10;
        margin: 1 0 0 0;
        background: $boost;
    }
    RunInputScreen #run-input-message {
        height: auto;
        margin-top: 1;
    }
    RunInputScreen #run-input-message.-error {
        color: $error;
    }
    RunInputScreen #run-input-buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    RunInputScreen #run-input-buttons Button {
        margin-left: 2;
    }
    """

    def __init__(self, agent: dict[str, Any]) -> None:
        super().__init__()
        self.agent = agent
        self.agent_id = str(agent["id"])

    def compose(self) -> ComposeResult:
        with Vertical(id="run-input-dialog"):
            yield Static(
                Text.assemble("Run “", (str(self.agent.get("name", self.agent_id)), "bold"), "” with input"),
                id="run-input-title",
            )
            yield Static(HINT, id="run-input-hint")
            yield TextArea(
                "", id="run-input-text", soft_wrap=True, show_line_numbers=False, tab_behavior="focus"
            )
            yield Static(input_kind(""), id="run-input-kind")
            yield Static("", id="run-input-message")
            with Horizontal(id="run-input-buttons"):
                yield Button("Run (ctrl+s)", variant="primary", id="run-input-start", compact=True)
                yield Button("Close (esc)", id="run-input-close", compact=True)

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    @property
    def text(self) -> str:
        return self.query_one(TextArea).text

    def say(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#run-input-message", Static)
        message.update(text)
        message.set_class(error, "-error")

    @on(TextArea.Changed)
    def _text_changed(self) -> None:
        self.query_one("#run-input-kind", Static).update(input_kind(self.text))
        self.say("")

    def action_start(self) -> None:
        self.start()

    @work(exclusive=True, group="run-input")
    async def start(self) -> None:
        self.say("Starting…")
        try:
            run_id = await self.dash.client.run_agent(self.agent_id, run_input(self.text))
        except ApiError as exc:
            problem = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
            status = f"{exc.status} " if exc.status else ""
            self.say(f"✗ {status}{exc.message}" + (f" ({problem})" if problem else ""), error=True)
            return
        self.dismiss(run_id)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#run-input-start")
    def _start_pressed(self) -> None:
        self.start()

    @on(Button.Pressed, "#run-input-close")
    def _close_pressed(self) -> None:
        self.dismiss(None)
