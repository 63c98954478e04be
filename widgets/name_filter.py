"""NameFilter: the box that filters the agent table by name, hidden until asked for.

It posts ``Input.Changed`` as the text changes (the screen filters the table) and
``Input.Submitted`` on Enter; submitted empty, it hides itself again.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.widgets import Input


class NameFilter(Input):
    """:meth:`open` shows and focuses it; :meth:`close` empties and hides it."""

    DEFAULT_CSS = """
    NameFilter {
        height: 3;
        margin: 0 1;
        display: none;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="filter by name (Enter keeps it, Esc clears)", **kwargs)

    def open(self) -> None:
        self.display = True
        self.focus()

    def close(self) -> bool:
        """Empty and hide it; False when it was hidden and empty already."""
        if not (self.display or self.value):
            return False
        self.value = ""
        self.display = False
        return True

    @on(Input.Submitted)
    def _hide_when_empty(self, event: Input.Submitted) -> None:
        if not event.value:
            self.display = False
