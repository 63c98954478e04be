"""AgentForm: every agent field, the API's field errors beside them, and a schedule preview.

The fields, their labels, help, choices, defaults, limits and sections come from the
typed model (:data:`app.model.AGENT_FIELDS`): a field added here appears there. The
notify channels are picked by name from the channels the editor read
(:meth:`~widgets.spec_form.SpecForm.set_channels`), the events to send on from the
model's choices.

Triggers: "Runs" chooses between a schedule and one time (``runAt``, shown right under
it, with its own preview); the other one is sent as null. The chain targets
(``onSuccess``, ``onFailure``) are picked by name from the other agents
(:meth:`AgentForm.set_agents`). The MCP servers are a JSON text area checked as it is
typed; the secrets (``env``) are masked inputs (:class:`~widgets.secret_env.SecretEnv`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Select, Static

from app.cron import describe_schedule, get_schedule, validate_schedule, validate_timezone
from app.model import AGENT_FIELDS, FieldSpec
from widgets.choice_list import ChoiceList
from widgets.formatting import parse_iso, relative
from widgets.secret_env import SecretEnv
from widgets.spec_form import SpecForm, help_text, limits, placeholder


def _ordered(fields: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
    """The model's fields, the one time (runAt) right under the schedule it replaces."""
    by_key = {f.key: f for f in fields}
    run_at = dataclasses.replace(by_key["runAt"], section="")
    out: list[FieldSpec] = []
    for f in fields:
        if f.key == "runAt":
            continue
        if f.key == "onSuccess":
            f = dataclasses.replace(f, section=by_key["runAt"].section)
        out.append(f)
        if f.key == "schedule":
            out.append(run_at)
    return tuple(out)


FIELDS: tuple[FieldSpec, ...] = _ordered(AGENT_FIELDS)
FIELD_KEYS = tuple(f.key for f in FIELDS)

NONE_PICKED = "None picked: the settings' default channels (S on the main screen)."
NO_OTHER_AGENTS = "No other agents yet"
CHAIN_HINT = "Started with this run's output as their input (trigger chain); space ticks."
MCP_HINT = (
    '{"tracker": {"command": "npx", "args": ["-y", "@acme/tracker-mcp"]}} or {"docs": {"type": "http", '
    '"url": "https://…"}}; ${NAME} takes a secret. Their tools run only when Allowed tools lists '
    "mcp__<server> or mcp__<server>__<tool>."
)
SECRETS_HINT = "Values are never shown, only whether a name is set."
WHEN_CHOICES = (("on a schedule", "schedule"), ("once, at a time", "once"))
NO_WEBHOOK = "none: W on the main screen creates a trigger secret for signed webhooks"


def agent_choices(agents: Iterable[dict[str, Any]], exclude: str | None) -> list[tuple[str, str]]:
    """(label, id) of every agent but ``exclude``, by name; a disabled one marked so."""
    out = []
    for agent in sorted(agents, key=lambda a: (str(a.get("name", "")).casefold(), str(a["id"]))):
        if agent["id"] != exclude:
            out.append((f"{agent.get('name')}{'' if agent.get('enabled') else '  (off)'}", str(agent["id"])))
    return out


__all__ = ["FIELDS", "FIELD_KEYS", "AgentForm", "help_text", "limits", "placeholder"]


class AgentForm(SpecForm):
    """The agent editor's body (see :class:`~widgets.spec_form.SpecForm` for the messages)."""

    FIELDS = FIELDS
    CHANNEL_PICKERS = frozenset({"notify-channels"})
    AGENT_PICKERS = frozenset({"onSuccess", "onFailure"})

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
    AgentForm #schedule-preview.-invalid, AgentForm #runat-preview.-invalid {
        color: $error;
    }
    AgentForm #runat-preview {
        color: $success;
        padding: 0 1;
        height: auto;
    }
    AgentForm #input-mcpServers {
        height: 6;
    }
    AgentForm .agent-picker {
        max-height: 5;
    }
    AgentForm #input-when {
        width: 24;
    }
    """

    def __init__(self, clock: Callable[[], datetime], default_timezone: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        self._default_timezone = default_timezone
        self.once = False
        """Whether the agent runs once (runAt) rather than on its schedule."""
        self.agent_id: str | None = None
        """The agent edited (None: a new one): not offered as its own chain target."""

    def before(self, f: FieldSpec) -> Iterable[Widget]:
        if f.key == "schedule":
            select = Select(WHEN_CHOICES, value="schedule", allow_blank=False, id="input-when", compact=True)
            tip = "A cron schedule, or one time (runAt) after which the agent disables itself"
            label = Static("Runs", classes="field-label").with_tooltip(tip)
            return [
                Horizontal(label, Vertical(select, classes="field-body"), classes="field", id="field-when")
            ]
        if f.key == "onSuccess":
            label = Static("Webhook", classes="field-label").with_tooltip("POST /hooks/agents/{id}, signed")
            body = Vertical(Static(NO_WEBHOOK, id="webhook-url", classes="field-hint"), classes="field-body")
            return [Horizontal(label, body, classes="field", id="field-webhook")]
        return []

    def custom_control(self, f: FieldSpec, cid: str) -> Widget | None:
        if f.key in self.AGENT_PICKERS:
            return ChoiceList(empty=NO_OTHER_AGENTS, id=cid, classes="agent-picker")
        if f.key == "env":
            return SecretEnv(id=cid)
        return None

    def below(self, wid: str) -> Iterable[Widget]:
        if wid == "notify-channels":
            return [Static(NONE_PICKED, classes="field-hint")]
        if wid == "onFailure":
            return [Static(CHAIN_HINT, classes="field-hint")]
        if wid == "mcpServers":
            return [Static(MCP_HINT, classes="field-hint")]
        if wid == "env":
            return [Static(SECRETS_HINT, classes="field-hint")]
        if wid == "runAt":
            return [Static("", id="runat-preview")]
        return [Static("", id="schedule-preview")] if wid == "schedule" else []

    # -- the agent list, one time or a schedule -------------------------------------------

    def set_agents(self, agents: Sequence[dict[str, Any]]) -> None:
        """The agents to chain to, by name (all but the one edited; those picked first)."""
        choices = agent_choices(agents, self.agent_id)
        for picker in self.query(".agent-picker").results(ChoiceList):
            chosen = set(picker.value)  # those picked first: seen without scrolling a long list
            picker.set_choices(sorted(choices, key=lambda choice: choice[1] not in chosen))

    def load(self, values: dict[str, Any] | None) -> None:
        self.agent_id = str(values["id"]) if values and values.get("id") else None
        self.once = bool(values and values.get("runAt") and not values.get("schedule"))
        select = self.query_one("#input-when", Select)
        with select.prevent(Select.Changed):
            select.value = "once" if self.once else "schedule"
        url = (values or {}).get("triggerUrl")
        self.query_one("#webhook-url", Static).update(str(url) if url else NO_WEBHOOK)
        super().load(values)
        self._show_when()

    def shown(self, f: FieldSpec) -> bool:
        return f.key != ("schedule" if self.once else "runAt")

    def values(self) -> dict[str, Any]:
        """The fields; the trigger not chosen is null (the API takes exactly one of them)."""
        out = super().values()
        out["schedule" if self.once else "runAt"] = None
        return out

    def show_errors(self, errors: dict[str, str]) -> None:
        """As the form's; the API's "schedule is required" of a one-shot is said at its time (runAt)."""
        if self.once and "schedule" in errors and "runAt" not in errors:
            errors = {**errors, "runAt": errors["schedule"]}
            del errors["schedule"]
        super().show_errors(errors)

    def _show_when(self) -> None:
        self.query_one("#field-schedule").display = not self.once
        self.query_one("#field-runAt").display = self.once
        self.update_preview()

    def default(self, f: FieldSpec) -> Any:
        """The API's default; the server's own zone for the time zone."""
        if f.server_default:
            return self._default_timezone
        return super().default(f)

    def errors_shown(self) -> None:
        self.update_preview()

    def changed(self, key: str) -> None:
        if key == "when":
            self.once = self.query_one("#input-when", Select).value == "once"
            self._show_when()
        elif key in ("schedule", "timezone", "runAt"):
            self.update_preview()

    def run_at_text(self) -> str:
        """The one time in words, in the agent's zone, or what is wrong with it."""
        text = str(self.raw("runAt")).strip()
        zone = str(self.raw("timezone")).strip() or self._default_timezone or "UTC"
        if not text:
            return "Type a time with its offset, e.g. 2026-01-05T09:00:00Z or 2026-01-05T10:00:00+01:00"
        moment = parse_iso(text)
        if moment is None:
            return "✗ not an ISO time, e.g. 2026-01-05T09:00:00Z"
        if moment.tzinfo is None:
            return "✗ give its offset: Z (UTC) or e.g. +01:00"
        try:
            local = moment.astimezone(ZoneInfo(zone))
        except (KeyError, ValueError):
            local, zone = moment, "UTC"
        now = self._clock()
        when = relative(moment.isoformat(), now)
        if moment <= now:
            return f"✗ {local:%a %d %b %Y %H:%M} ({zone}) has passed: give a time to come"
        return f"Runs once, {local:%a %d %b %Y %H:%M} ({zone}), {when}; then disables itself"

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
        once = self.query_one("#runat-preview", Static)
        text = self.run_at_text()
        once.update(text)
        once.set_class(text.startswith("✗"), "-invalid")
        once.display = "runAt" not in self.errors
        preview = self.query_one("#schedule-preview", Static)
        text = self.preview_text()
        preview.update(text)
        invalid = text.startswith("✗")
        preview.set_class(invalid, "-invalid")
        # The API's own message for the schedule is shown just below: say it once.
        preview.display = not (invalid and "schedule" in self.errors)
