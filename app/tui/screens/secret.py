"""SecretScreen: a secret shown once, to copy before it is gone.

A new webhook channel's signing secret, or an agent's trigger secret (with the URL
its signed webhooks go to).

Bindings: ``c`` copy it to the clipboard [secret.copy], ``escape``/``enter`` close
[secret.close]. The secret sits in a read-only text box too, where it can be
selected and copied by hand (terminals without clipboard access).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

CHANNEL_ABOUT = (
    "Receivers verify this channel's webhooks with it (Standard Webhooks: the "
    "webhook-id, webhook-timestamp and webhook-signature headers)."
)
CHANNEL_LOST = "Lost it? Delete the channel and create a new one."
TRIGGER_ABOUT = (
    "Webhooks signed with it start the agent, their body as its input: GitHub's "
    "X-Hub-Signature-256 (paste it as the webhook's secret) or Standard Webhooks headers."
)
TRIGGER_LOST = "Lost it? W again rotates it (the old one stops working) or removes it."


class SecretScreen(ModalScreen[None]):
    """Says that the secret will not be shown again."""

    BINDINGS = [
        Binding("c", "copy", "Copy", id="secret.copy", tooltip="Copy the secret to the clipboard"),
        Binding("escape,enter", "close", "Close", id="secret.close", tooltip="Close (the secret is gone)"),
    ]

    DEFAULT_CSS = """
    SecretScreen {
        align: center middle;
    }
    SecretScreen > #secret-dialog {
        width: 76;
        max-width: 100%;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    SecretScreen #secret-title {
        text-style: bold;
    }
    SecretScreen #secret-url {
        margin-top: 1;
    }
    SecretScreen #secret-value {
        height: 3;
        margin: 1 0;
        background: $boost;
    }
    SecretScreen #secret-warning {
        color: $warning;
        margin-bottom: 1;
    }
    SecretScreen #secret-buttons {
        height: 1;
        align-horizontal: right;
    }
    SecretScreen #secret-buttons Button {
        margin-left: 2;
    }
    """

    def __init__(
        self,
        channel_name: str,
        secret: str,
        *,
        title: str = "",
        about: str = CHANNEL_ABOUT,
        lost: str = CHANNEL_LOST,
        url: str = "",
    ) -> None:
        super().__init__()
        self.channel_name = channel_name
        self.secret = secret
        self.title_text = title or f"Signing secret of “{channel_name}”"
        self.about = about
        self.lost = lost
        self.url = url
        """Where the signed webhooks go (an agent's trigger URL); empty: not shown."""

    def compose(self) -> ComposeResult:
        with Vertical(id="secret-dialog"):
            yield Static(self.title_text, id="secret-title")
            yield Static(self.about)
            if self.url:
                yield Static(Text.assemble(("URL  ", "dim"), (self.url, "bold")), id="secret-url")
            yield TextArea(self.secret, id="secret-value", read_only=True, soft_wrap=True, compact=True)
            yield Static(f"Copy it now: it will not be shown again. ({self.lost})", id="secret-warning")
            with Horizontal(id="secret-buttons"):
                yield Button("Copy (c)", variant="primary", id="secret-copy", compact=True)
                yield Button("Done (esc)", id="secret-close", compact=True)

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.select_all()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.secret)
        self.notify("Secret copied to the clipboard")

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#secret-copy")
    def _copy_pressed(self) -> None:
        self.action_copy()

    @on(Button.Pressed, "#secret-close")
    def _close_pressed(self) -> None:
        self.dismiss(None)
