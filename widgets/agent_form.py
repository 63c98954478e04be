"""AgentForm: every agent field, the API's field errors beside them, and a schedule preview.

The fields, their labels, help, choices, defaults, limits and sections come from the
typed model (:data:`app.model.AGENT_FIELDS`): a field added there appears here. The
notify channels are picked by name from the channels the editor read
(:meth:`~widgets.spec_form.SpecForm.set_channels`), the events to send on from the
model's choices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from textual.widget import Widget
from textual.widgets import Static

from app.cron import describe_schedule, get_schedule, validate_schedule, validate_timezone
from app.model import AGENT_FIELDS, FieldSpec
from widgets.spec_form import SpecForm, help_text, limits, placeholder

FIELDS: tuple[FieldSpec, ...] = AGENT_FIELDS
FIELD_KEYS = tuple(f.key for f in FIELDS)

NONE_PICKED = "None picked: the settings' default channels (S on the main screen)."

__all__ = ["FIELDS", "FIELD_KEYS", "AgentForm", "help_text", "limits", "placeholder"]


class AgentForm(SpecForm):
    """The agent editor's body (see :class:`~widgets.spec_form.SpecForm` for the messages)."""

    FIELDS = AGENT_FIELDS
    CHANNEL_PICKERS = frozenset({"notify-channels"})

    DEFAULT_CSS = """
    AgentForm #input-prompt {
        height: 5;
    }
    AgentForm .field-hint {
        color: $text-muted;
        padding: 0 1;
    }
    AgentForm #schedule-preview {
        color: $success;
        padding: 0 1;
        height: auto;
    }
    AgentForm #schedule-preview.-invalid {
        color: $error;
    }
    """

    def __init__(self, clock: Callable[[], datetime], default_timezone: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        self._default_timezone = default_timezone

    def below(self, wid: str) -> Iterable[Widget]:
        if wid == "notify-channels":
            return [Static(NONE_PICKED, classes="field-hint")]
        return [Static("", id="schedule-preview")] if wid == "schedule" else []

    def default(self, f: FieldSpec) -> Any:
        """The API's default; the server's own zone for the time zone."""
        if f.server_default:
            return self._default_timezone
        return super().default(f)

    def errors_shown(self) -> None:
        self.update_preview()

    def changed(self, key: str) -> None:
        if key in ("schedule", "timezone"):
            self.update_preview()

    def preview_text(self) -> str:
        expr = str(self.raw("schedule")).strip()
        zone = str(self.raw("timezone")).strip() or self._default_timezone or "UTC"
        if not expr:
            return "Type a cron expression: minute hour day month weekday"
        problem = validate_schedule(expr)
        if problem:
            return f"✗ {problem}"
        if validate_timezone(zone):
            return f"{describe_schedule(expr)}  (✗ unknown time zone {zone!r})"
        try:
            times = get_schedule(expr, zone).next_n(self._clock(), 5)
        except (ValueError, StopIteration):
            return describe_schedule(expr)
        tz = ZoneInfo(zone)
        lines = [
            f"{describe_schedule(expr)} ({zone})",
            "Next: " + " · ".join(t.astimezone(tz).strftime("%a %d %b %H:%M") for t in times[:5]),
        ]
        return "\n".join(lines)

    def update_preview(self) -> None:
        preview = self.query_one("#schedule-preview", Static)
        text = self.preview_text()
        preview.update(text)
        invalid = text.startswith("✗")
        preview.set_class(invalid, "-invalid")
        # The API's own message for the schedule is shown just below: say it once.
        preview.display = not (invalid and "schedule" in self.errors)
