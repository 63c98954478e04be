"""SecretEnv: an agent's secrets (``env``) as masked inputs: values are written, never shown.

The API reads back each secret's name with its value masked (``"********"``); so does this
widget: one row per name saying it is set, a masked input to type a new value into (blank
keeps the value), and a button that marks the name for deletion (again: keep it). Under
them, a name and a masked value add a secret (``Add`` or Enter; one still typed there when
the form is saved is added too).

Its :attr:`value` is what an update sends: ``{"NAME": "********"}`` for a name kept (the
API keeps a value sent back masked), the new text for one replaced or added, ``None`` for
one deleted. Loaded and read back untouched, it equals what was loaded, so the form sees
no change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Static

SECRET_MASK = "********"
"""How the API shows a secret's value (the model's ``SECRET_MASK``); sent back, it keeps the value."""


@dataclass
class Secret:
    name: str
    stored: bool
    """Read from the API (else added here)."""
    typed: str = ""
    deleted: bool = False


class SecretEnv(Widget):
    """Downward: :attr:`value`; upward: :class:`Changed` (the form hears it as the field's change)."""

    DEFAULT_CSS = """
    SecretEnv {
        height: auto;
        width: 1fr;
        layout: vertical;
    }
    SecretEnv .secret-row {
        height: 1;
        margin-bottom: 0;
    }
    SecretEnv .secret-name {
        width: 26;
        padding: 0 1 0 0;
    }
    SecretEnv .secret-state {
        width: 9;
        color: $success;
    }
    SecretEnv .secret-row.-deleted .secret-name {
        text-style: strike;
        color: $text-muted;
    }
    SecretEnv .secret-row.-deleted .secret-state {
        color: $error;
    }
    SecretEnv Input {
        width: 1fr;
        background: $boost;
    }
    SecretEnv Input:focus {
        background: $primary 20%;
    }
    SecretEnv #secret-new-name {
        width: 26;
        margin-right: 1;
    }
    SecretEnv Button {
        margin-left: 1;
        min-width: 10;
    }
    SecretEnv .secret-hint {
        color: $text-muted;
    }
    """

    class Changed(Message):
        def __init__(self, control: SecretEnv) -> None:
            super().__init__()
            self.secrets = control

        @property
        def control(self) -> SecretEnv:
            return self.secrets

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secrets: list[Secret] = []
        self.new_name = ""
        self.new_value = ""

    def compose(self) -> ComposeResult:
        yield Static("No secrets yet.", classes="secret-hint", id="secret-none")
        with Horizontal(classes="secret-row", id="secret-add"):
            yield Input(placeholder="NEW_NAME", id="secret-new-name", compact=True)
            yield Input(placeholder="its value", password=True, id="secret-new-value", compact=True)
            yield Button("Add", id="secret-add-button", compact=True)

    # -- the value -----------------------------------------------------------------------

    @property
    def value(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for secret in self.secrets:
            if secret.deleted:
                if secret.stored:
                    out[secret.name] = None
            elif secret.typed:
                out[secret.name] = secret.typed
            elif secret.stored:
                out[secret.name] = SECRET_MASK
        name = self.new_name.strip()
        if name and self.new_value and name not in out:
            out[name] = self.new_value
        return out

    @value.setter
    def value(self, values: dict[str, Any] | None) -> None:
        self.secrets = [Secret(str(name), stored=True) for name in sorted(values or {})]
        self.new_name = self.new_value = ""
        if self.is_mounted:
            with self.prevent(Input.Changed):
                self.query_one("#secret-new-name", Input).value = ""
                self.query_one("#secret-new-value", Input).value = ""
        self._rebuild()

    def on_mount(self) -> None:
        self._rebuild()

    # -- rows ----------------------------------------------------------------------------

    def _rebuild(self) -> None:
        if not self.is_mounted:
            return
        for row in self.query(".secret-entry"):
            row.remove()
        add_row = self.query_one("#secret-add")
        rows = [self._row(i, secret) for i, secret in enumerate(self.secrets)]
        if rows:
            self.mount_all(rows, before=add_row)
        self.query_one("#secret-none").display = not self.secrets

    def _row(self, index: int, secret: Secret) -> Horizontal:
        state = "delete" if secret.deleted else ("set" if secret.stored else "new")
        shown = Text.assemble(("✓ " if state == "set" else "", "green"), state)
        value = Input(
            secret.typed,
            placeholder="blank: keep · type: replace" if secret.stored else "its value",
            password=True,
            name=f"secret-value-{index}",
            classes="secret-value",
            compact=True,
            disabled=secret.deleted,
        )
        label = "Keep" if secret.deleted else ("Delete" if secret.stored else "Remove")
        row = Horizontal(
            Static(secret.name, classes="secret-name"),
            Static(shown, classes="secret-state"),
            value,
            Button(label, name=f"secret-delete-{index}", classes="secret-delete", compact=True),
            classes="secret-row secret-entry",
        )
        row.set_class(secret.deleted, "-deleted")
        return row

    def focus(self, scroll_visible: bool = True) -> SecretEnv:
        """The first masked input (a field's error focuses the field)."""
        inputs = [i for i in self.query(Input) if not i.disabled]
        if inputs:
            inputs[0].focus(scroll_visible)
        return self

    def _changed(self) -> None:
        self.post_message(self.Changed(self))

    def _index(self, name: str | None, prefix: str) -> int | None:
        """The row a widget belongs to (named ``<prefix><index>``; rows carry no ids, being rebuilt)."""
        if name and name.startswith(prefix):
            index = int(name.removeprefix(prefix))
            return index if index < len(self.secrets) else None
        return None

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        wid = event.input.id
        if wid == "secret-new-name":
            self.new_name = event.value
        elif wid == "secret-new-value":
            self.new_value = event.value
        elif (index := self._index(event.input.name, "secret-value-")) is not None:
            self.secrets[index].typed = event.value
        self._changed()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id in ("secret-new-name", "secret-new-value"):
            self.add()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "secret-add-button":
            self.add()
        elif (index := self._index(event.button.name, "secret-delete-")) is not None:
            secret = self.secrets[index]
            if secret.stored:
                secret.deleted = not secret.deleted
                secret.typed = ""
            else:
                del self.secrets[index]
            self._rebuild()
            self._changed()

    def add(self) -> None:
        """The name and value typed under the rows become a row (a name already there: its new value)."""
        name, value = self.new_name.strip(), self.new_value
        if not name:
            self.query_one("#secret-new-name", Input).focus()
            return
        if not value:
            self.query_one("#secret-new-value", Input).focus()
            return
        existing = next((s for s in self.secrets if s.name == name), None)
        if existing is not None:
            existing.typed, existing.deleted = value, False
        else:
            self.secrets.append(Secret(name, stored=False, typed=value))
        self.new_name = self.new_value = ""
        self.query_one("#secret-new-name", Input).value = ""
        self.query_one("#secret-new-value", Input).value = ""
        self._rebuild()
        self.query_one("#secret-new-name", Input).focus()
        self._changed()
