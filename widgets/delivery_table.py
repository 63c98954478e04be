"""DeliveryTable: a run's alerts, one row per delivery to a channel, and how far each got."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from widgets.formatting import parse_iso, truncate

DELIVERY_STYLES = {"sent": "green", "failed": "bold red", "pending": "yellow"}
# (key, label): the last error takes what width is left.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("channel", "Channel"),
    ("event", "Event"),
    ("status", "Status"),
    ("attempts", "Tries"),
    ("sent", "Sent at"),
    ("error", "Last error"),
)


def _when(value: str | None) -> str:
    at = parse_iso(value)
    return at.strftime("%m-%d %H:%M:%S") if at else "—"


class DeliveryTable(DataTable[Any]):
    """Downward: :meth:`show` (the run's ``deliveries`` and the channel names by id)."""

    DEFAULT_CSS = """
    DeliveryTable {
        height: auto;
        max-height: 8;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="none", zebra_stripes=True, show_cursor=False, **kwargs)
        self.deliveries: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show(self, deliveries: list[dict[str, Any]], names: Mapping[str, str]) -> None:
        """One row per delivery; a channel since deleted is shown by its id."""
        self.deliveries = list(deliveries)
        self.names = dict(names)
        self.clear()
        for d in self.deliveries:
            status = str(d.get("status", ""))
            pending_until = d.get("nextAttemptAt") if status == "pending" else None
            sent = _when(d.get("sentAt")) if d.get("sentAt") else "—"
            if pending_until:
                sent = f"next try {_when(pending_until)}"
            channel_id = str(d.get("channelId", ""))
            self.add_row(
                Text(truncate(self.names.get(channel_id, channel_id), 24), style="bold"),
                str(d.get("type", "")),
                Text(status, style=DELIVERY_STYLES.get(status, "")),
                Text(str(d.get("attempts", 0)), justify="right"),
                sent,
                Text(truncate(" ".join(str(d.get("lastError") or "").split()), 60), style="red"),
                key=str(d.get("id")),
            )
