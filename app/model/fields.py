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

from app.model.agent import SERVER_DEFAULTS, Agent, is_read_only
from app.model.rules import Allowed, Form, Wording

Kind = Literal["text", "integer", "number", "boolean", "list", "choice", "object"]
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
    if get_origin(tp) is Literal:
        return Rules("choice", choices=tuple(str(a) for a in get_args(tp)), allowed=allowed, **common)
    if get_origin(tp) is list:
        return Rules("list", item=rules_of(get_args(tp)[0], []), **common)
    kinds: dict[Any, Kind] = {bool: "boolean", int: "integer", float: "number", str: "text"}
    if tp in kinds:
        return Rules(kinds[tp], **common)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return Rules("object", **common)
    raise TypeError(f"no rules for {tp!r}")


def field_spec(name: str, info: FieldInfo) -> FieldSpec:
    form = next((m for m in info.metadata if isinstance(m, Form)), Form())
    default = info.default
    if default is PydanticUndefined:
        default = NO_DEFAULT
    server_default = name in SERVER_DEFAULTS
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
    )


AGENT_FIELDS: tuple[FieldSpec, ...] = tuple(
    field_spec(name, info) for name, info in Agent.model_fields.items() if not is_read_only(info)
)
"""Every field a client may set, in the model's order."""
AGENT_FIELDS_BY_KEY: dict[str, FieldSpec] = {f.key: f for f in AGENT_FIELDS}
READ_ONLY_KEYS: frozenset[str] = frozenset(
    info.alias or name for name, info in Agent.model_fields.items() if is_read_only(info)
)
"""Fields the server computes: accepted in a body (a client may send back what it read) and ignored."""
