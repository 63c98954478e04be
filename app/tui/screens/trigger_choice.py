"""TriggerChoiceScreen: what to do with an agent's existing trigger secret — rotate it, or remove it.

Bindings: ``r`` rotate [trigger.rotate], ``x`` remove [trigger.remove], ``escape``/``n``
cancel [trigger.cancel]. Dismisses with ``"rotate"``, ``"remove"`` or None.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class TriggerChoiceScreen(ModalScreen[str | None]):
    """Asked by ``W`` for an agent that already takes signed webhooks."""

    BINDINGS = [
        Binding("r", "choose('rotate')", "Rotate", id="trigger.rotate"),
        Binding("x", "choose('remove')", "Remove", id="trigger.remove"),
        Binding("escape,n", "choose('')", "Cancel", id="trigger.cancel"),
    ]

    DEFAULT_CSS = """
    TriggerChoiceScreen {
        align: center middle;
    }
    TriggerChoiceScreen > #trigger-dialog {
        width: 72;
        max-width: 100%;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    TriggerChoiceScreen #trigger-question {
        margin-bottom: 1;
    }
    TriggerChoiceScreen #trigger-buttons {
        height: 3;
        align-horizontal: right;
    }
    TriggerChoiceScreen #trigger-buttons Button {
        margin-left: 2;
    }
    """

    def __init__(self, agent_name: str, url: str) -> None:
        super().__init__()
        self.agent_name = agent_name
        self.url = url

    def compose(self) -> ComposeResult:
        with Vertical(id="trigger-dialog"):
            yield Static(
                f"“{self.agent_name}” takes signed webhooks at {self.url}.\n"
                "Rotate its secret (webhooks signed with the current one are refused from then on), "
                "or remove it (no webhook starts the agent any more)?",
                id="trigger-question",
            )
            with Horizontal(id="trigger-buttons"):
                yield Button("Rotate (r)", variant="warning", id="trigger-rotate")
                yield Button("Remove (x)", variant="error", id="trigger-remove")
                yield Button("Cancel (esc)", id="trigger-cancel")

    def on_mount(self) -> None:
        self.query_one("#trigger-cancel", Button).focus()

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        choice = (event.button.id or "").removeprefix("trigger-")
        self.dismiss(choice if choice in ("rotate", "remove") else None)
