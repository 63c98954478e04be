"""Each editable field of the agent, read off the model: what an editor and error messages need.

A :class:`FieldSpec` holds a field's label, help, default and its
:class:`Rules` (kind, bounds, choices, wording), all taken from the field's
annotation and ``Field``; nothing is written down twice. The dashboard's form
is built from :data:`AGENT_FIELDS`; validation words its messages from them.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from app.model.agent import SERVER_DEFAULTS, Agent
from app.model.rules import Allowed, Form, Moment, Wording, is_read_only, read_only_keys

Kind = Literal["text", "integer", "number", "boolean", "list", "choice", "object", "instant", "mapping"]
BOUNDS = ("min_length", "max_length", "ge", "gt", "le", "lt")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class Rules:
    """What a value of a field (or of one item of a list field) must be."""

    kind: Kind
    nullable: bool = False
    bounds: Mapping[str, Any] = field(default_factory=dict)
    """``min_length``, ``max_length`` (characters, or items of a list), ``ge``, ``gt``, ``le``, ``lt``."""
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    allowed: Allowed | None = None
    wording: Mapping[str, str] = field(default_factory=dict)
    item: Rules | None = None
    parts: tuple[FieldSpec, ...] = ()
    """The fields of an object (a group of settings such as ``notify``)."""

    def part(self, key: str) -> FieldSpec | None:
        return next((p for p in self.parts if p.key == key), None)


@dataclass(frozen=True)
class FieldSpec:
    """One editable field of the agent."""

    name: str
    """Attribute and storage column."""
    key: str
    """Name on the wire (camelCase)."""
    label: str
    help: str
    rules: Rules
    default: Any = NO_DEFAULT
    required: bool = False
    """A create body must hold it."""
    server_default: bool = False
    """Left out of a create body, the server's configuration gives it."""
    placeholder: str = ""
    multiline: bool = False
    section: str = ""
    """The heading of the group of fields this one starts in an editor ("" : none)."""

    @property
    def parts(self) -> tuple[FieldSpec, ...]:
        return self.rules.parts

    @property
    def kind(self) -> Kind:
        return self.rules.kind

    @property
    def nullable(self) -> bool:
        return self.rules.nullable


def _flatten(metadata: list[Any]) -> list[Any]:
    out: list[Any] = []
    for meta in metadata:
        out.extend(_flatten(list(meta.metadata)) if isinstance(meta, FieldInfo) else [meta])
    return out


def rules_of(annotation: Any, metadata: list[Any]) -> Rules:
    """The rules of a type, with the metadata found around it (outermost last)."""
    found: list[Any] = []
    nullable = False
    tp = annotation
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *inner = get_args(tp)
            found[:0] = inner
        elif origin in (Union, types.UnionType) and type(None) in get_args(tp):
            (tp,) = (a for a in get_args(tp) if a is not type(None))
            nullable = True
        else:
            break
    found = _flatten([*found, *metadata])
    bounds = {name: getattr(m, name) for m in found for name in BOUNDS if getattr(m, name, None) is not None}
    pattern = next((m.pattern for m in found if isinstance(getattr(m, "pattern", None), str)), None)
    wording: dict[str, str] = {}
    for meta in found:
        if isinstance(meta, Wording):
            wording.update(meta.messages)
    allowed = next((m for m in found if isinstance(m, Allowed)), None)
    common: dict[str, Any] = dict(nullable=nullable, bounds=bounds, pattern=pattern, wording=wording)
    if any(isinstance(m, Moment) for m in found):
        return Rules("instant", **common)
    if get_origin(tp) is Literal:
        return Rules("choice", choices=tuple(str(a) for a in get_args(tp)), allowed=allowed, **common)
    if get_origin(tp) is list:
        return Rules("list", item=rules_of(get_args(tp)[0], []), **common)
    if get_origin(tp) is dict:
        return Rules("mapping", item=rules_of(get_args(tp)[1], []), **common)
    kinds: dict[Any, Kind] = {bool: "boolean", int: "integer", float: "number", str: "text"}
    if tp in kinds:
        return Rules(kinds[tp], **common)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return Rules("object", parts=specs_of(tp), **common)
    raise TypeError(f"no rules for {tp!r}")


def field_spec(name: str, info: FieldInfo, server_defaults: frozenset[str] = frozenset()) -> FieldSpec:
    form = next((m for m in info.metadata if isinstance(m, Form)), Form())
    default = info.default
    if default is PydanticUndefined:
        default = NO_DEFAULT
    elif isinstance(default, BaseModel):
        default = default.model_dump(by_alias=True, mode="json")  # as the wire shows it
    server_default = name in server_defaults
    return FieldSpec(
        name=name,
        key=info.alias or name,
        label=info.title or name,
        help=info.description or "",
        rules=rules_of(info.annotation, list(info.metadata)),
        default=default,
        required=default is NO_DEFAULT and not server_default,
        server_default=server_default,
        placeholder=form.placeholder,
        multiline=form.multiline,
        section=form.section,
    )


def specs_of(model: type[BaseModel], server_defaults: frozenset[str] = frozenset()) -> tuple[FieldSpec, ...]:
    """The fields a client may set on ``model``, in its order."""
    return tuple(
        field_spec(name, info, server_defaults)
        for name, info in model.model_fields.items()
        if not is_read_only(info)
    )


AGENT_FIELDS: tuple[FieldSpec, ...] = specs_of(Agent, SERVER_DEFAULTS)
"""Every field a client may set, in the model's order."""
AGENT_FIELDS_BY_KEY: dict[str, FieldSpec] = {f.key: f for f in AGENT_FIELDS}
READ_ONLY_KEYS: frozenset[str] = read_only_keys(Agent)
"""Fields the server computes: accepted in a body (a client may send back what it read) and ignored."""
