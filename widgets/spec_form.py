"""SpecForm: a form built from the typed model's fields, with the API's field errors beside them.

Each :class:`~app.model.FieldSpec` (label, help, kind, choices, default, limits,
section) becomes one labelled row: an Input, a TextArea, a Switch, a Select, or a
:class:`~widgets.choice_list.ChoiceList` for a list of choices (and for channel ids,
picked by the channel's name). A group of settings (an object field such as
``notify``) becomes a heading and a row per part. The agent editor, the channel
editor and the settings dialog are subclasses that name their fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Select, SelectionList, Static, Switch, TextArea

from app.model import NO_DEFAULT, FieldSpec
from widgets.choice_list import ChoiceList
from widgets.secret_env import SecretEnv

NO_CHANNELS = "No channels yet: add one with C on the main screen"


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


def json_problem(text: str) -> str | None:
    """Why a mapping field's text is not a JSON object (None: it is one, or it is empty)."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    if not isinstance(value, dict):
        return 'must be a JSON object: {"name": ...}'
    return None


def _mapping(text: str) -> Any:
    """A JSON object typed into a text area: empty is ``{}``; text that is no JSON goes as it is
    (the API names the problem beside the field)."""
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return text


def _number(text: str, kind: str) -> Any:
    """An int/float when the text is one; the raw text otherwise (the API explains why not)."""
    try:
        return int(text) if kind == "integer" else float(text)
    except ValueError:
        return text


def channel_choices(channels: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, id) of each channel, by name: ``On-call  webhook``, a disabled one marked so."""
    out = []
    for channel in sorted(channels, key=lambda c: (str(c.get("name", "")).casefold(), str(c["id"]))):
        label = f"{channel.get('name')}  ({channel.get('type')}{'' if channel.get('enabled') else ', off'})"
        out.append((label, str(channel["id"])))
    return out


class SpecForm(Widget):
    """Downward: :meth:`load`, :meth:`show_errors`, :meth:`set_channels`; upward: :class:`Changed`."""

    FIELDS: ClassVar[tuple[FieldSpec, ...]] = ()
    """The fields, in order."""
    CHANNEL_PICKERS: ClassVar[frozenset[str]] = frozenset()
    """Rows (``key`` or ``group-part``) whose values are channel ids: picked by name."""

    DEFAULT_CSS = """
    SpecForm {
        height: 1fr;
    }
    SpecForm > #form-scroll {
        height: 1fr;
    }
    SpecForm .field {
        height: auto;
        margin-bottom: 1;
    }
    SpecForm .field-label {
        width: 20;
        padding: 0 1 0 0;
        text-align: right;
        color: $text-muted;
    }
    SpecForm .field.-invalid .field-label, SpecForm .field.-invalid .group-label {
        color: $error;
        text-style: bold;
    }
    SpecForm .field-body {
        width: 1fr;
        height: auto;
    }
    SpecForm .field-body Input, SpecForm .field-body TextArea, SpecForm .field-body Select > SelectCurrent {
        background: $boost;
    }
    SpecForm .field-body Input:focus, SpecForm .field-body TextArea:focus {
        background: $primary 20%;
    }
    SpecForm .field-body Input, SpecForm .field-body Select {
        width: 1fr;
    }
    SpecForm .field-body ChoiceList {
        background: $boost;
    }
    SpecForm .field-body Switch {
        border: none;
        height: 1;
        width: 6;
        padding: 0;
        margin: 0;
    }
    SpecForm .form-section {
        text-style: bold;
        color: $accent;
        border-top: hkey $surface-lighten-2;
        margin: 0 0 1 0;
        padding: 0 0 0 2;
    }
    SpecForm .field-group {
        height: auto;
        margin-bottom: 0;
    }
    SpecForm .group-label {
        padding: 0 0 0 4;
        color: $text-muted;
        text-style: italic;
    }
    SpecForm .field-error {
        color: $error;
        height: auto;
        padding: 0 1;
        display: none;
    }
    """

    class Changed(Message):
        """A field changed (the screen may want to know whether the form is dirty)."""

        def __init__(self, form: SpecForm, key: str) -> None:
            super().__init__()
            self.form = form
            self.key = key

        @property
        def control(self) -> SpecForm:
            return self.form

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.by_key: dict[str, FieldSpec] = {f.key: f for f in self.FIELDS}
        self._original: dict[str, Any] = {}
        self._loading = False
        self.errors: dict[str, str] = {}
        """The API's complaints still shown, by field."""

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form-scroll"):
            for f in self.FIELDS:
                if f.section:
                    yield Static(f.section, classes="form-section")
                yield from self.before(f)
                if f.kind == "object":
                    # A group of settings (notify, retry): a heading, then a row per part.
                    with Vertical(classes="field field-group", id=f"field-{f.key}"):
                        if f.label != f.section:  # "Notifications" once, not twice
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
                yield self._control(f, wid)
                yield from self.below(wid)
                if error:
                    yield Static("", id=f"error-{wid}", classes="field-error")

    def below(self, wid: str) -> Iterable[Widget]:
        """Widgets shown under a field's control (the agent form's schedule preview)."""
        return ()

    def before(self, f: FieldSpec) -> Iterable[Widget]:
        """Rows shown before a field's row (the agent form's choice of schedule or one time)."""
        return ()

    def custom_control(self, f: FieldSpec, cid: str) -> Widget | None:
        """A control of the subclass's own for the field (None: the kind's usual control)."""
        return None

    def _control(self, f: FieldSpec, wid: str) -> Widget:
        control: Widget
        cid = f"input-{wid}"
        item = f.rules.item
        if (custom := self.custom_control(f, cid)) is not None:
            control = custom
        elif wid in self.CHANNEL_PICKERS:
            control = ChoiceList(empty=NO_CHANNELS, id=cid, classes="channel-picker")
        elif f.kind == "list" and item is not None and item.kind == "choice":
            control = ChoiceList([(c, c) for c in item.choices], id=cid)
        elif f.kind == "mapping":
            control = TextArea(
                "", id=cid, language="json", show_line_numbers=False, tab_behavior="focus", compact=True
            )
        elif f.kind == "text" and f.multiline:
            control = TextArea(
                "", id=cid, soft_wrap=True, show_line_numbers=False, tab_behavior="focus", compact=True
            )
        elif f.kind == "boolean":
            control = Switch(True, id=cid)
        elif f.kind == "choice":
            choices = f.rules.choices
            control = Select(
                [(c, c) for c in choices], value=choices[0], allow_blank=False, id=cid, compact=True
            )
        else:
            control = Input(placeholder=placeholder(f), id=cid, compact=True)
        return control.with_tooltip(help_text(f))

    # -- values ------------------------------------------------------------------------

    def shown(self, f: FieldSpec) -> bool:
        """Whether the field is part of the form now (the channel form hides another type's)."""
        return True

    def default(self, f: FieldSpec) -> Any:
        """A new object's value: the API's default."""
        return None if f.default is NO_DEFAULT else f.default

    def load(self, values: dict[str, Any] | None) -> None:
        """Fill the fields (None: a new object, with the API's defaults)."""
        self._loading = True
        try:
            for f in self.FIELDS:
                value = values.get(f.key) if values is not None else self.default(f)
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

    def set_channels(self, channels: Sequence[dict[str, Any]]) -> None:
        """The channels to pick from, by name."""
        for picker in self.query(".channel-picker").results(ChoiceList):
            picker.set_choices(channel_choices(channels))

    def _set(self, f: FieldSpec, wid: str, value: Any) -> None:
        widget = self.query_one(f"#input-{wid}")
        if isinstance(widget, SecretEnv):
            widget.value = value if isinstance(value, dict) else {}
        elif isinstance(widget, ChoiceList):
            widget.value = [str(v) for v in value or []]
        elif isinstance(widget, Switch):
            widget.value = bool(value)
        elif isinstance(widget, Select):
            choices = f.rules.choices
            widget.value = str(value) if value in choices else choices[0]
        elif isinstance(widget, TextArea):
            if f.kind == "mapping":
                widget.text = json.dumps(value, indent=2) if value else ""
            else:
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
        if isinstance(widget, ChoiceList | Switch | Select | SecretEnv):
            return widget.value
        if isinstance(widget, TextArea):
            return widget.text
        assert isinstance(widget, Input)
        return widget.value

    def _value(self, f: FieldSpec, wid: str) -> Any:
        raw = self.raw(wid)
        if f.kind in ("boolean", "choice") or isinstance(raw, list | dict):
            return raw
        if f.kind == "mapping":
            return _mapping(str(raw))
        text = str(raw) if f.multiline else str(raw).strip()
        if f.kind == "list":
            return [t.strip() for t in text.split(",") if t.strip()]
        if not text.strip():
            return None
        if f.kind in ("integer", "number"):
            return _number(text, f.kind)
        return text

    def values(self) -> dict[str, Any]:
        """Every field shown, typed as the API wants it (``None`` for an empty nullable field)."""
        out: dict[str, Any] = {}
        for f in self.FIELDS:
            if not self.shown(f):
                continue
            if f.kind == "object":
                group = {p.key: self._value(p, f"{f.key}-{p.key}") for p in f.parts}
                # A part left empty takes the API's default (as a field left empty does).
                out[f.key] = {k: v for k, v in group.items() if v is not None}
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
        return {k: v for k, v in values.items() if v is not None or self.by_key[k].nullable}

    # -- errors ------------------------------------------------------------------------

    def local_problems(self) -> dict[str, str]:
        """What is wrong before asking the API: a mapping field's text that is no JSON object."""
        problems: dict[str, str] = {}
        for f in self.FIELDS:
            if f.kind == "mapping" and self.shown(f):
                raw = self.raw(f.key)
                if isinstance(raw, str) and (problem := json_problem(raw)):
                    problems[f.key] = problem
        return problems

    def show_error(self, key: str, problem: str) -> None:
        """One field's problem beside it (or none), leaving the others and the focus as they are."""
        label = self.query_one(f"#error-{key}", Static)
        label.update(f"✗ {problem}" if problem else "")
        label.display = bool(problem)
        self.query_one(f"#field-{key}").set_class(bool(problem), "-invalid")
        if problem:
            self.errors[key] = problem
        else:
            self.errors.pop(key, None)

    def show_errors(self, errors: dict[str, str]) -> None:
        """Show each problem beside its field; clears the others. Focuses the first bad field."""
        self.errors = {k: v for k, v in errors.items() if k in self.by_key}
        first: str | None = None
        for f in self.FIELDS:
            problem = self.errors.get(f.key, "")
            label = self.query_one(f"#error-{f.key}", Static)
            label.update(f"✗ {problem}" if problem else "")
            label.display = bool(problem)
            self.query_one(f"#field-{f.key}").set_class(bool(problem), "-invalid")
            if problem and first is None:
                first = f.key
        self.errors_shown()
        if first is not None:
            spec = self.by_key[first]
            control = f"{first}-{spec.parts[0].key}" if spec.kind == "object" else first
            self.query_one(f"#input-{control}").focus()
            self.query_one(f"#field-{first}").scroll_visible(animate=False)

    def errors_shown(self) -> None:
        """After :meth:`show_errors` (the agent form redraws its preview)."""

    # -- events ------------------------------------------------------------------------

    def changed(self, key: str) -> None:
        """After a field changed by hand (the agent form updates its preview)."""

    def _changed(self, widget_id: str | None) -> None:
        if self._loading or not widget_id:
            return
        key = widget_id.removeprefix("input-").split("-", 1)[0]  # a part's change is its group's
        if self.errors.pop(key, None) is not None:  # being fixed: the complaint no longer applies
            self.query_one(f"#error-{key}", Static).display = False
            self.query_one(f"#field-{key}").remove_class("-invalid")
        spec = self.by_key.get(key)
        if spec is not None and spec.kind == "mapping" and isinstance(raw := self.raw(key), str):
            self.show_error(key, json_problem(raw) or "")  # JSON checked as it is typed
        self.changed(key)
        self.post_message(self.Changed(self, key))

    @on(Input.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    @on(SelectionList.SelectedChanged)
    def _on_field_changed(
        self, event: Input.Changed | Switch.Changed | Select.Changed | SelectionList.SelectedChanged[Any]
    ) -> None:
        event.stop()
        self._changed(event.control.id if event.control else None)

    @on(SecretEnv.Changed)
    def _on_secrets_changed(self, event: SecretEnv.Changed) -> None:
        event.stop()
        self._changed(event.control.id)

    @on(TextArea.Changed)
    def _on_text_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._changed(event.text_area.id)
