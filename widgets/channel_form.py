"""ChannelForm: a channel's fields, those of its type only, with the API's field errors beside them.

The fields come from the typed model (:data:`app.model.channel.ChannelCreate`):
name, type, enabled, and the type's own — ``url`` for a webhook or Slack, ``to`` for
email, and a webhook's optional signing ``secret`` (generated when left empty). A
channel's type is chosen when it is created and fixed after, as the API has it.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Select

from app.model.channel import CHANNEL_FIELDS_BY_TYPE, CHANNEL_TYPES, ChannelCreate
from app.model.fields import FieldSpec, specs_of
from widgets.spec_form import SpecForm

TYPE_FIELDS = frozenset(key for keys in CHANNEL_FIELDS_BY_TYPE.values() for key in keys)


class ChannelForm(SpecForm):
    """A new channel (``creating``) or an existing one, whose type and secret are not edited."""

    FIELDS = specs_of(ChannelCreate)

    DEFAULT_CSS = """
    ChannelForm .field-label {
        width: 16;
    }
    """

    def __init__(self, *, creating: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.creating = creating

    @property
    def channel_type(self) -> str:
        value = self.raw("type")
        return str(value) if value in CHANNEL_TYPES else CHANNEL_TYPES[0]

    def shown(self, f: FieldSpec) -> bool:
        kind = self.channel_type
        if f.key == "secret":
            return self.creating and kind == "webhook"
        if f.key == "type":
            return self.creating
        return f.key not in TYPE_FIELDS or f.key in CHANNEL_FIELDS_BY_TYPE[kind]

    def load(self, values: dict[str, Any] | None) -> None:
        super().load(values)
        self.query_one("#input-type", Select).disabled = not self.creating
        self._show_type_fields()

    def changed(self, key: str) -> None:
        if key == "type":
            self._show_type_fields()

    def _show_type_fields(self) -> None:
        for f in self.FIELDS:
            # The type stays in sight when editing (disabled): it says what the fields are for.
            self.query_one(f"#field-{f.key}").display = self.shown(f) or f.key == "type"
