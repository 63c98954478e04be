"""Banners across the top of the dashboard.

ConnectionBanner: shown while the server cannot be reached, with the next retry.
NoticeBanner: a standing warning with its fix (no Claude credentials, say).
"""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class ConnectionBanner(Static):
    """Hidden while connected; ``message`` set means disconnected."""

    DEFAULT_CSS = """
    ConnectionBanner {
        display: none;
        height: auto;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
    }
    """

    message: reactive[str] = reactive("")
    """Why and when the next attempt is; empty when connected."""

    def watch_message(self, message: str) -> None:
        self.update(f"⚠ {message}" if message else "")
        self.display = bool(message)


class NoticeBanner(Static):
    """A standing warning; hidden when ``message`` is empty."""

    DEFAULT_CSS = """
    NoticeBanner {
        display: none;
        height: auto;
        padding: 0 1;
        background: $warning;
        color: $text;
        text-style: bold;
    }
    """

    message: reactive[str] = reactive("")
    """What is wrong and how to fix it."""

    def watch_message(self, message: str) -> None:
        self.update(f"⚠ {message}" if message else "")
        self.display = bool(message)
