"""ChoiceList: a list of values picked from named choices (notify channels, the events to send on).

A :class:`~textual.widgets.SelectionList` whose value is the list of chosen values, in
the order they were chosen (as they came from the API, then each one picked after), so
that loading a value and reading it back gives the same list whatever order the choices
are offered in. The choices may come after the value (the channels are read from the
API while the editor opens): a chosen value with no choice yet is offered under its own
name, marked unknown, so it can still be seen and taken out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual import on
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection


class ChoiceList(SelectionList[str]):
    """``space``/``enter`` toggles the highlighted choice. Downward: :attr:`value`, :meth:`set_choices`."""

    DEFAULT_CSS = """
    ChoiceList {
        height: auto;
        max-height: 8;
        width: 1fr;
    }
    """

    def __init__(self, choices: Iterable[tuple[str, str]] = (), *, empty: str = "", **kwargs: Any) -> None:
        super().__init__(compact=True, **kwargs)
        self._choices: list[tuple[str, str]] = list(choices)
        self._chosen: list[str] = []
        self.empty = empty
        """Shown as the only (disabled) line while there is nothing to choose from."""

    def on_mount(self) -> None:
        self._rebuild()

    @property
    def value(self) -> list[str]:
        """The chosen values, in the order they were chosen."""
        return list(self._chosen)

    @value.setter
    def value(self, values: Sequence[str]) -> None:
        self._chosen = list(dict.fromkeys(str(v) for v in values))
        self._rebuild()

    def set_choices(self, choices: Iterable[tuple[str, str]]) -> None:
        """Offer these (label, value) choices; what was chosen stays chosen."""
        self._choices = list(choices)
        self._rebuild()

    def _rebuild(self) -> None:
        known = {value for _, value in self._choices}
        options: list[tuple[str | Text, str, bool]] = [
            (label, value, value in self._chosen) for label, value in self._choices
        ]
        options += [
            (Text.assemble(value, (" (unknown)", "dim italic")), value, True)
            for value in self._chosen
            if value not in known
        ]
        highlighted = self.highlighted
        with self.prevent(SelectionList.SelectedChanged):
            self.clear_options()
            if options:
                self.add_options(options)
            elif self.empty:
                self.add_option(Selection(Text(self.empty, style="dim italic"), "", disabled=True))
        if options:  # space toggles the highlighted choice: there is always one
            self.highlighted = min(highlighted or 0, len(options) - 1)

    @on(SelectionList.SelectedChanged)
    def _selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        selected = set(self.selected)
        kept = [v for v in self._chosen if v in selected]
        self._chosen = kept + [v for v in self.selected if v not in kept and v]
        # The form hears it as its own change (the event bubbles on to it).
