"""ChannelTable: one row per alert channel (webhook, Slack, email), by name. Row keys are channel ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from widgets.formatting import parse_iso, truncate

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("type", "Type"),
    ("on", "On"),
    ("target", "Sends to"),
    ("test", "Last test"),
)
TYPE_STYLES = {"webhook": "cyan", "slack": "magenta", "email": "yellow"}


def target(channel: dict[str, Any]) -> str:
    """Where the channel sends, as the API shows it: the URL (a Slack one only in part), or the addresses."""
    if channel.get("to"):
        return ", ".join(str(a) for a in channel["to"])
    return str(channel.get("url") or "—")


def test_result(delivery: dict[str, Any] | None) -> Text:
    """``✓ sent 10:02`` in green, or ``✗`` and why in red."""
    if delivery is None:
        return Text("—", style="dim")
    if delivery.get("status") == "sent":
        at = parse_iso(delivery.get("sentAt"))
        return Text(f"✓ sent {at.strftime('%H:%M:%S') if at else ''}".rstrip(), style="green")
    return Text(f"✗ {truncate(str(delivery.get('lastError') or delivery.get('status')), 60)}", style="red")


class ChannelTable(DataTable[Any]):
    """Enter (``select_cursor``) posts ``RowSelected``; the screen opens the channel's editor."""

    DEFAULT_CSS = """
    ChannelTable {
        height: 1fr;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.channels: dict[str, dict[str, Any]] = {}
        """Every channel, by id."""
        self.tests: dict[str, dict[str, Any]] = {}
        """The last test delivery of each channel tested from here, by channel id."""

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def _cells(self, channel: dict[str, Any]) -> list[Any]:
        enabled = bool(channel.get("enabled"))
        kind = str(channel.get("type", ""))
        return [
            Text(truncate(str(channel.get("name", "")), 30), style="bold" if enabled else "dim"),
            Text(kind, style=TYPE_STYLES.get(kind, "")),
            Text("●", style="green") if enabled else Text("○", style="dim"),
            Text(truncate(target(channel), 50), style="" if enabled else "dim"),
            test_result(self.tests.get(str(channel["id"]))),
        ]

    @property
    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None

    def selected(self) -> dict[str, Any] | None:
        channel_id = self.selected_id
        return self.channels.get(channel_id) if channel_id else None

    def set_channels(self, channels: Iterable[dict[str, Any]]) -> None:
        """Replace every row (the cursor stays on the same channel when it is still there)."""
        keep = self.selected_id
        self.channels = {str(c["id"]): c for c in channels}
        self.clear()
        for channel in sorted(self.channels.values(), key=lambda c: (str(c["name"]).casefold(), c["id"])):
            self.add_row(*self._cells(channel), key=str(channel["id"]))
        if keep is not None:
            self.select_channel(keep)

    def select_channel(self, channel_id: str) -> None:
        try:
            self.move_cursor(row=self.get_row_index(channel_id))
        except RowDoesNotExist:
            pass

    def upsert(self, channel: dict[str, Any]) -> None:
        self.set_channels([*(c for c in self.channels.values() if c["id"] != channel["id"]), channel])

    def remove_channel(self, channel_id: str) -> None:
        if self.channels.pop(channel_id, None) is not None:
            try:
                self.remove_row(channel_id)
            except RowDoesNotExist:
                pass

    def set_test(self, channel_id: str, delivery: dict[str, Any]) -> None:
        self.tests[channel_id] = delivery
        try:
            self.update_cell(channel_id, "test", test_result(delivery), update_width=True)
        except (RowDoesNotExist, CellDoesNotExist):
            pass
