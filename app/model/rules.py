"""The rules a field's value obeys, as reusable annotated types, and the markers fields carry.

A rule pydantic can state (type, length, pattern, range) is stated with
``Field``; it is then both enforced and published in the JSON Schema. A rule
JSON Schema cannot state (a cron expression that fires, an existing directory)
is an ``AfterValidator`` raising :func:`problem`, whose message the client sees
as is. Text patterns are regular expressions understood alike by Python's
``re``, pydantic's Rust ``regex`` and ECMA-262 (JSON Schema ``pattern``).

The markers (:class:`ReadOnly`, :class:`Stored`, :class:`Wording`,
:class:`Form`, :class:`Allowed`) are metadata pydantic keeps on a field for the
code that reads the model: storage mapping, error messages, the editor.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
    create_model,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from app.cron import ALIASES, timezone_names, validate_schedule, validate_timezone
from app.templates import unknown_placeholder_problem
from app.timeutil import from_datetime, iso

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
PROMPT_MAX_LENGTH = 100_000
SCHEDULE_MAX_LENGTH = 200
MODEL_MAX_LENGTH = 200
CWD_MAX_LENGTH = 4096
TOOL_MAX_LENGTH = 500

_CONTROL = r"\x00-\x1f\x7f-\x9f"  # C0, DEL and C1
# What str.strip() removes: all of it lies in the Basic Multilingual Plane (a test checks).
_SPACE = "".join(f"\\u{c:04x}" for c in range(0x10000) if chr(c).isspace())
_LINE = rf"[^{_CONTROL}]"  # one character of a single-line text
_TEXT = r"[^\x00]"  # one character of a multi-line text (no NUL: it cannot reach a process)
NAME_PATTERN = rf"^{_LINE}*[^{_CONTROL}{_SPACE}]{_LINE}*$"
PROMPT_PATTERN = rf"^{_TEXT}*[^\x00{_SPACE}]{_TEXT}*$"
DESCRIPTION_PATTERN = rf"^{_TEXT}*$"
MODEL_PATTERN = r"^[A-Za-z0-9._:\[\]/][A-Za-z0-9._:\[\]/-]*$"
CWD_PATTERN = r"^/[^\x00]*$"


class Row(Protocol):
    """A stored row: its columns by name (``sqlite3.Row``, a mapping, another backend's record)."""

    def __getitem__(self, column: str, /) -> Any: ...


# -- markers ---------------------------------------------------------------------------


class ReadOnly:
    """The server computes this field: ignored in a request body, ``readOnly`` in the schema."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), "readOnly": True}


@dataclass(frozen=True)
class Stored:
    """How a field is kept in storage when not as is (the column is the field's name).

    ``load`` turns the column's value into the field's, ``dump`` the field's into
    the column's; ``read`` takes the field from a whole row (several columns) as
    plain data (a dict for a model), the way the field looks on the wire.
    """

    load: Callable[[Any], Any] | None = None
    dump: Callable[[Any], Any] | None = None
    read: Callable[[Row], Any] | None = None


class Wording:
    """What a field's errors say where the general wording does not fit.

    Keys: ``type`` (wrong kind of value), ``pattern`` (text not matching its
    pattern), ``too_short``, ``too_long``, ``greater_than``, and ``item``: how
    an error of one item of a list begins (``"each tool name"``). Texts may use
    the error's context, e.g. ``{max_length}``.
    """

    def __init__(self, **messages: str) -> None:
        self.messages: dict[str, str] = messages

    def __repr__(self) -> str:
        return f"Wording({self.messages!r})"


@dataclass(frozen=True)
class Form:
    """How an editor shows the field: the hint in an empty input, one line or several, and
    ``section``: the heading of the group of fields this one starts."""

    placeholder: str = ""
    multiline: bool = False
    section: str = ""


@dataclass(frozen=True)
class Allowed:
    """Of a field's choices, those this process accepts now; ``refusal(value)`` may say why not.

    Validation refuses the others, and the request schema lists only these.
    """

    choices: Callable[[], tuple[str, ...]]
    refusal: Callable[[Any], str | None]

    def problem(self, value: Any) -> str:
        return self.refusal(value) or "must be one of " + ", ".join(self.choices())

    def _check(self, value: Any) -> Any:
        if value not in self.choices():
            raise problem(self.problem(value))
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if handler.mode == "validation":
            json_schema = {**json_schema, "enum": list(self.choices())}
        return json_schema


class Moment:
    """The field is an instant a client writes as ISO text (an editor shows it as text)."""

    def __repr__(self) -> str:
        return "Moment()"


def is_read_only(info: FieldInfo) -> bool:
    return any(isinstance(m, ReadOnly) for m in info.metadata)


def read_only_keys(model: type[BaseModel]) -> frozenset[str]:
    """The wire names of the fields the server computes."""
    return frozenset(info.alias or name for name, info in model.model_fields.items() if is_read_only(info))


def request_model(
    source: type[BaseModel],
    name: str,
    doc: str,
    *,
    update: bool = False,
    server_defaults: frozenset[str] = frozenset(),
    exclude: frozenset[str] = frozenset(),
) -> type[BaseModel]:
    """The request body of ``source``: its fields a client sets, strict, no others.

    ``update``: every field optional (absent: unchanged); ``server_defaults``:
    fields a create may leave out although they have no default (the server fills them in);
    ``exclude``: fields a client may not set in this body.
    """
    fields: dict[str, Any] = {}
    for field_name, info in source.model_fields.items():
        if is_read_only(info) or field_name in exclude:
            continue
        request_info = copy.copy(info)
        if update or (field_name in server_defaults and info.is_required()):
            request_info.default = None  # absent: unchanged (update) or the server's (create)
        fields[field_name] = (info.annotation, request_info)
    config = ConfigDict(alias_generator=to_camel, strict=True, extra="forbid")
    model: type[BaseModel] = create_model(name, __config__=config, __doc__=doc, **fields)
    return model


def problem(message: str) -> PydanticCustomError:
    """A broken rule, with the message the client sees (error type ``rule``)."""
    return PydanticCustomError("rule", "{problem}", {"problem": message})


# -- checks ----------------------------------------------------------------------------


def _strip(value: str) -> str:
    """Stored without the spaces around it (checked with them: a bound counts what was sent)."""
    return value.strip()


def _integral(value: Any) -> Any:
    """An integer sent as ``5.0`` is the integer 5 (JSON does not tell them apart)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _schedule(value: str) -> str:
    expr = " ".join(value.split())
    message = validate_schedule(expr)
    if message:
        raise problem(message)
    return expr


def _placeholders(value: str) -> str:
    message = unknown_placeholder_problem(value)
    if message:
        raise problem(message)
    return value


def _timezone(value: str) -> str:
    message = validate_timezone(value)
    if message:
        raise problem(message)
    return value


def _directory(value: str) -> str:
    if not os.path.isdir(value):
        raise problem(f"{value} is not an existing directory on the server")
    return value


def _ms(value: Any) -> Any:
    """An instant as the API writes it (``2025-01-07T09:00:00.000Z``) to milliseconds."""
    if isinstance(value, str):
        return from_datetime(datetime.fromisoformat(value))
    return value


WHEN_HELP = "an ISO time with its offset, e.g. 2026-01-05T09:00:00Z or 2026-01-05T10:00:00+01:00"


def _when(value: Any) -> Any:
    """An instant written by a client: ISO text with its offset, to milliseconds."""
    if not isinstance(value, str):
        raise problem(f"must be {WHEN_HELP}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise problem(f"must be {WHEN_HELP}") from None
    if moment.tzinfo is None:
        raise problem(f"must say its offset (Z for UTC): {WHEN_HELP}")
    try:
        return from_datetime(moment)
    except (OverflowError, ValueError):
        raise problem(f"must be {WHEN_HELP}") from None


def _money(value: float) -> float:
    return round(value, 6)


# -- types -----------------------------------------------------------------------------


def _unique(values: list[Any] | None) -> list[Any] | None:
    return None if values is None else list(dict.fromkeys(values))


UNIQUE = AfterValidator(_unique)
"""On a list: each item once, in the order first given."""

INTEGRAL = BeforeValidator(_integral)
"""On an ``int`` (after its bounds, so the schema keeps them): ``5.0`` is taken for 5."""

Name = Annotated[
    str,
    Field(max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN),
    Wording(pattern="must not contain control characters"),
    AfterValidator(_strip),
]
ToolName = Annotated[
    str,
    Field(max_length=TOOL_MAX_LENGTH, pattern=NAME_PATTERN),
    Wording(pattern="must not contain control characters"),
    AfterValidator(_strip),
]
Description = Annotated[
    str,
    Field(max_length=DESCRIPTION_MAX_LENGTH, pattern=DESCRIPTION_PATTERN),
    Wording(pattern="must not contain NUL characters"),
    AfterValidator(_strip),
]
Prompt = Annotated[
    str,
    Field(max_length=PROMPT_MAX_LENGTH, pattern=PROMPT_PATTERN),
    Wording(pattern="must not be empty"),
    AfterValidator(_strip),
    AfterValidator(_placeholders),
]
"""A prompt: its placeholders (app.templates) are checked when it is saved."""
Schedule = Annotated[
    str,
    Field(min_length=1, max_length=SCHEDULE_MAX_LENGTH),
    Wording(too_short=validate_schedule("") or "must not be empty"),
    AfterValidator(_schedule),
]
"""A cron expression (5 fields or an alias), stored with its spaces collapsed."""

TimezoneName = Annotated[
    str,
    Wording(type="must be an IANA time zone name such as Europe/Paris"),
    AfterValidator(_timezone),
    WithJsonSchema({"type": "string", "enum": sorted(timezone_names())}, mode="validation"),
]
ModelId = Annotated[
    str,
    Field(max_length=MODEL_MAX_LENGTH, pattern=MODEL_PATTERN),
    Wording(
        pattern="must be a model id such as claude-sonnet-4-5: letters, digits and . - _ : [ ] /, "
        "not starting with -"
    ),
]
Directory = Annotated[
    str,
    Field(max_length=CWD_MAX_LENGTH, pattern=CWD_PATTERN),
    Wording(pattern="must be an absolute path"),
    AfterValidator(_directory),
]
"""The absolute path of a directory that exists on the server."""

Instant = Annotated[
    int,
    BeforeValidator(_ms),
    PlainSerializer(iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
"""Milliseconds since the Unix epoch; on the wire ISO 8601 UTC with milliseconds and ``Z``."""

When = Annotated[
    int,
    BeforeValidator(_when),
    PlainSerializer(iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
    Moment(),
]
"""An instant a client sets (ISO 8601 text with its offset); milliseconds since the epoch inside."""

Money = Annotated[float, PlainSerializer(_money, return_type=float, when_used="json")]
"""US dollars, shown to a millionth."""


SCHEDULE_HELP = (
    "5-field cron expression (minute hour day-of-month month day-of-week), or one of " + ", ".join(ALIASES)
)
