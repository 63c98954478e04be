"""AgentForm: every agent field, the API's field errors beside them, and a schedule preview.

The fields, their labels, help, choices, defaults and limits come from the typed
model (:data:`app.model.AGENT_FIELDS`): a field added there appears here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Select, Static, Switch, TextArea

from app.cron import describe_schedule, get_schedule, validate_schedule, validate_timezone
from app.model import AGENT_FIELDS, AGENT_FIELDS_BY_KEY, NO_DEFAULT, FieldSpec

FIELDS: tuple[FieldSpec, ...] = AGENT_FIELDS
FIELD_KEYS = tuple(f.key for f in FIELDS)


def placeholder(f: FieldSpec) -> str:
    """The hint in an empty input: the model's, else the default the API applies."""
    if f.placeholder or f.default is NO_DEFAULT or f.default is None:
        return f.placeholder
    if isinstance(f.default, list):
        return ", ".join(str(item) for item in f.default)
    return str(f.default)


def limits(f: FieldSpec) -> str:
    """The field's bounds in words, e.g. ``from 1 to 1000``."""
    bounds = f.rules.bounds
    if "ge" in bounds and "le" in bounds:
        return f"from {bounds['ge']} to {bounds['le']}"
    words = []
    if "gt" in bounds:
        words.append(f"more than {bounds['gt']}")
    if "le" in bounds:
        words.append(f"at most {bounds['le']}")
    unit = "item" if f.kind == "list" else "character"
    for name, word in (("min_length", "at least"), ("max_length", "at most")):
        if name in bounds:
            words.append(f"{word} {bounds[name]} {unit}{'' if bounds[name] == 1 else 's'}")
    return ", ".join(words)


def help_text(f: FieldSpec) -> str:
    """The field's help and limits, shown as the tooltip of its label and input."""
    bounds = limits(f)
    return f"{f.help} ({bounds})" if bounds else f.help


def _number(text: str, kind: str) -> Any:
    """An int/float when the text is one; the raw text otherwise (the API explains why not)."""
    try:
        return int(text) if kind == "integer" else float(text)
    except ValueError:
        return text


class AgentForm(Widget):
    """The editor's body. Downward: :meth:`load`, :meth:`show_errors`; upward: :class:`Changed`."""

    DEFAULT_CSS = """
    AgentForm {
        height: 1fr;
    }
    #form-scroll {
        height: 1fr;
    }
    .field {
        height: auto;
        margin-bottom: 1;
    }
    .field-label {
        width: 20;
        padding: 0 1 0 0;
        text-align: right;
        color: $text-muted;
    }
    .field.-invalid .field-label {
        color: $error;
        text-style: bold;
    }
    .field-body {
        width: 1fr;
        height: auto;
    }
    .field-body Input, .field-body TextArea, .field-body Select > SelectCurrent {
        background: $boost;
    }
    .field-body Input:focus, .field-body TextArea:focus {
        background: $primary 20%;
    }
    .field-body Input, .field-body Select {
        width: 1fr;
    }
    .field-body Switch {
        border: none;
        height: 1;
        width: 6;
        padding: 0;
        margin: 0;
    }
    #input-prompt {
        height: 5;
    }
    .form-section {
        text-style: bold;
        color: $accent;
        border-top: hkey $surface-lighten-2;
        margin: 0 0 1 0;
        padding: 0 0 0 2;
    }
    .field-group {
        height: auto;
        margin-bottom: 0;
    }
    .group-label {
        padding: 0 0 0 4;
        color: $text-muted;
        text-style: italic;
    }
    .field-error {
        color: $error;
        height: auto;
        padding: 0 1;
        display: none;
    }
    #schedule-preview {
        color: $success;
        padding: 0 1;
        height: auto;
    }
    #schedule-preview.-invalid {
        color: $error;
    }
    """

    class Changed(Message):
        """A field changed (the screen may want to know whether the form is dirty)."""

        def __init__(self, form: AgentForm, key: str) -> None:
            super().__init__()
            self.form = form
            self.key = key

        @property
        def control(self) -> AgentForm:
            return self.form

    def __init__(self, clock: Callable[[], datetime], default_timezone: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clock = clock
        self._default_timezone = default_timezone
        self._original: dict[str, Any] = {}
        self._loading = False
        self.errors: dict[str, str] = {}
        """The API's complaints still shown, by field."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form-scroll"):
            for f in FIELDS:
                if f.section:
                    yield Static(f.section, classes="form-section")
                if f.kind == "object":
                    # A group of settings (notify, retry): a heading, then a row per part.
                    with Vertical(classes="field field-group", id=f"field-{f.key}"):
                        yield Static(f.label, classes="group-label").with_tooltip(help_text(f))
                        yield Static("", id=f"error-{f.key}", classes="field-error")
                        for part in f.parts:
                            yield from self._row(part, f"{f.key}-{part.key}")
                    continue
                yield from self._row(f, f.key, error=True)

    def _row(self, f: FieldSpec, wid: str, *, error: bool = False) -> ComposeResult:
        with Horizontal(classes="field", id=f"field-{wid}"):
            yield Static(f.label, classes="field-label").with_tooltip(help_text(f))
            with Vertical(classes="field-body"):
                yield self._control(f, f"input-{wid}")
                if wid == "schedule":
                    yield Static("", id="schedule-preview")
                if error:
                    yield Static("", id=f"error-{wid}", classes="field-error")

    def _control(self, f: FieldSpec, wid: str) -> Widget:
        control: Widget
        if f.kind == "text" and f.multiline:
            control = TextArea(
                "", id=wid, soft_wrap=True, show_line_numbers=False, tab_behavior="focus", compact=True
            )
        elif f.kind == "boolean":
            control = Switch(True, id=wid)
        elif f.kind == "choice":
            choices = f.rules.choices
            control = Select(
                [(c, c) for c in choices], value=choices[0], allow_blank=False, id=wid, compact=True
            )
        else:
            control = Input(placeholder=placeholder(f), id=wid, compact=True)
        return control.with_tooltip(help_text(f))

    # -- values ------------------------------------------------------------------------

    def _default(self, f: FieldSpec) -> Any:
        """A new agent's value: the API's default (the server's own zone for the time zone)."""
        if f.server_default:
            return self._default_timezone
        return None if f.default is NO_DEFAULT else f.default

    def load(self, agent: dict[str, Any] | None) -> None:
        """Fill the fields from an agent (None: a new agent with the API's defaults)."""
        self._loading = True
        try:
            for f in FIELDS:
                value = agent.get(f.key) if agent is not None else self._default(f)
                if f.kind == "object":
                    group = value if isinstance(value, dict) else {}
                    for part in f.parts:
                        self._set(part, f"{f.key}-{part.key}", group.get(part.key, part.default))
                else:
                    self._set(f, f.key, value)
        finally:
            self._loading = False
        self._original = self.values()
        self.show_errors({})
        self.update_preview()

    def _set(self, f: FieldSpec, wid: str, value: Any) -> None:
        widget = self.query_one(f"#input-{wid}")
        if isinstance(widget, Switch):
            widget.value = bool(value)
        elif isinstance(widget, Select):
            choices = f.rules.choices
            widget.value = str(value) if value in choices else choices[0]
        elif isinstance(widget, TextArea):
            widget.text = str(value or "")
        elif isinstance(widget, Input):
            if f.kind == "list":
                widget.value = ", ".join(str(t) for t in value or [])
            elif value is None or value is NO_DEFAULT:
                widget.value = ""
            elif f.kind == "number":
                widget.value = f"{float(value):g}"
            else:
                widget.value = str(value)

    def raw(self, key: str) -> Any:
        widget = self.query_one(f"#input-{key}")
        if isinstance(widget, Switch):
            return widget.value
        if isinstance(widget, Select):
            return widget.value
        if isinstance(widget, TextArea):
            return widget.text
        assert isinstance(widget, Input)
        return widget.value

    def _value(self, f: FieldSpec, wid: str) -> Any:
        raw = self.raw(wid)
        if f.kind in ("boolean", "choice"):
            return raw
        text = str(raw) if f.multiline else str(raw).strip()
        if f.kind == "list":
            return [t.strip() for t in text.split(",") if t.strip()]
        if not text.strip():
            return None
        if f.kind in ("integer", "number"):
            return _number(text, f.kind)
        return text

    def values(self) -> dict[str, Any]:
        """Every field, typed as the API wants it (``None`` for an empty nullable field)."""
        out: dict[str, Any] = {}
        for f in FIELDS:
            if f.kind == "object":
                out[f.key] = {p.key: self._value(p, f"{f.key}-{p.key}") for p in f.parts}
                # A part left empty takes the API's default (as a field left empty does).
                out[f.key] = {k: v for k, v in out[f.key].items() if v is not None}
            else:
                out[f.key] = self._value(f, f.key)
        return out

    @property
    def is_dirty(self) -> bool:
        return self.values() != self._original

    def body(self, *, for_update: bool) -> dict[str, Any]:
        """The request body: changed fields for an update; set fields for a create."""
        values = self.values()
        if for_update:
            return {k: v for k, v in values.items() if v != self._original.get(k)}
        # An empty field: null where the field takes null (e.g. "never catch up"), else the API's default.
        return {k: v for k, v in values.items() if v is not None or AGENT_FIELDS_BY_KEY[k].nullable}

    # -- errors and preview ------------------------------------------------------------

    def show_errors(self, errors: dict[str, str]) -> None:
        """Show each problem beside its field; clears the others. Focuses the first bad field."""
        self.errors = {k: v for k, v in errors.items() if k in FIELD_KEYS}
        first: str | None = None
        for f in FIELDS:
            label = self.query_one(f"#error-{f.key}", Static)
            problem = errors.get(f.key, "")
            label.update(f"✗ {problem}" if problem else "")
            label.display = bool(problem)
            self.query_one(f"#field-{f.key}").set_class(bool(problem), "-invalid")
            if problem and first is None:
                first = f.key
        self.update_preview()
        if first is not None:
            spec = AGENT_FIELDS_BY_KEY[first]
            control = f"{first}-{spec.parts[0].key}" if spec.kind == "object" else first
            self.query_one(f"#input-{control}").focus()
            self.query_one(f"#field-{first}").scroll_visible(animate=False)

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

    # -- events ------------------------------------------------------------------------

    def _changed(self, widget_id: str | None) -> None:
        if self._loading or not widget_id:
            return
        key = widget_id.removeprefix("input-").split("-", 1)[0]  # a part's change is its group's
        error = self.query_one(f"#error-{key}", Static)
        if self.errors.pop(key, None) is not None:  # being fixed: the complaint no longer applies
            error.display = False
            self.query_one(f"#field-{key}").remove_class("-invalid")
        if key in ("schedule", "timezone"):
            self.update_preview()
        self.post_message(self.Changed(self, key))

    @on(Input.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    def _on_field_changed(self, event: Input.Changed | Switch.Changed | Select.Changed) -> None:
        self._changed(event.control.id if event.control else None)

    @on(TextArea.Changed)
    def _on_text_changed(self, event: TextArea.Changed) -> None:
        self._changed(event.text_area.id)
