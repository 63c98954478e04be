"""HelpScreen: every key of the screen it was opened from, with what it does."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "Cron Agents — scheduled Claude agents.\n"
    "Keys can be changed in [keymap] of config.toml in the user config directory "
    '(binding id = "keys"; cronagents doctor shows where). ctrl+p opens the command palette.'
)


class HelpScreen(ModalScreen[None]):
    """Escape, ``q`` or ``?`` closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > #help-dialog {
        width: 90;
        max-width: 100%;
        height: auto;
        max-height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    #help-intro {
        margin-bottom: 1;
        color: $text-muted;
    }
    """

    def __init__(self, bindings: Mapping[str, ActiveBinding]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("Key", style="bold cyan", no_wrap=True)
        table.add_column("Action")
        table.add_column("Binding id", style="dim")
        seen: set[str] = set()
        for key, active in self.bindings.items():
            binding = active.binding
            if not binding.description or binding.id in seen or binding.system:
                continue
            seen.add(binding.id or key)
            display = self.app.get_key_display(binding)
            table.add_row(display, binding.tooltip or binding.description, binding.id or "")
        table.add_row("enter", "Edit the agent / open the run", "")
        table.add_row("1 2 3", "Runs, Live, Stats tabs", "tabs.*")
        with VerticalScroll(id="help-dialog"):
            yield Static(INTRO, id="help-intro")
            yield Static(table)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
