"""Storage rows to the model and to the wire, and request models to columns.

A field's column is its attribute's name; :class:`~app.model.rules.Stored`
says how a column's value becomes the field's when not as is. The wire form
is the field's JSON serialization (``PlainSerializer``: instants as ISO text).

``agent_json`` runs for every listed agent. So each model's conversions are
worked out once, from its fields, and compiled into one function that builds
the dict in a single expression, as a hand-written one would (the way
``dataclasses`` writes ``__init__``); pydantic's own serialization of a model
took about twice as long. A test checks that both give the same JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, get_origin

from pydantic import BaseModel, BeforeValidator, PlainSerializer
from pydantic.fields import FieldInfo

from app.model.agent import Agent
from app.model.rules import Row, Stored
from app.model.run import Run, RunEvent

Convert = Callable[[Any], Any]


def _stored(info: FieldInfo) -> Stored:
    return next((m for m in info.metadata if isinstance(m, Stored)), Stored())


def _types_in(annotation: Any) -> list[Any]:
    return [annotation, *(t for arg in getattr(annotation, "__args__", ()) for t in _types_in(arg))]


def _metadata(info: FieldInfo) -> list[Any]:
    inner = (m for t in _types_in(info.annotation) for m in getattr(t, "__metadata__", ()))
    return [*info.metadata, *inner]


def _serializer(info: FieldInfo) -> Convert | None:
    """The field's JSON serialization function, wherever its annotation holds it."""
    for meta in _metadata(info):
        if isinstance(meta, PlainSerializer) and meta.when_used in ("always", "json"):
            func: Convert = meta.func  # type: ignore[assignment]
            return func
    return None


def _parsers(info: FieldInfo) -> list[Convert]:
    """The field's lenient parsers (``BeforeValidator``: ISO text to milliseconds, 5.0 to 5)."""
    return [meta.func for meta in _metadata(info) if isinstance(meta, BeforeValidator)]  # type: ignore[misc]


def _model_in(info: FieldInfo) -> type[BaseModel] | None:
    """The model a field holds (a group of settings, the creator); None for plain data, which
    includes a mapping or list of models (kept as the JSON it is stored as, e.g. MCP servers)."""
    for t in _types_in(info.annotation):
        if get_origin(t) in (dict, list):
            return None
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _then(first: Convert | None, second: Convert | None) -> Convert | None:
    if first is None or second is None:
        return first or second
    return lambda value: second(first(value))


def _wire_of_part(value: Any) -> Any:
    return value.model_dump(by_alias=True, mode="json")


def _row_converter(model: type[BaseModel], *, wire: bool) -> Callable[[Row], dict[str, Any]]:
    """A function from a row to the model's fields (by attribute name, or by wire name)."""
    namespace: dict[str, Any] = {}
    items = []
    for i, (name, info) in enumerate(model.model_fields.items()):
        key = (info.alias or name) if wire else name
        stored = _stored(info)
        if stored.read is not None:  # plain data from several columns; typed, a model
            namespace[f"read{i}"] = stored.read
            nested = None if wire else _model_in(info)
            if nested is None:
                items.append(f"{key!r}: read{i}(row)")
            else:
                namespace[f"model{i}"] = nested.model_construct
                items.append(f"{key!r}: None if (v{i} := read{i}(row)) is None else model{i}(**v{i})")
            continue
        wire_form = _serializer(info)
        part = _model_in(info)
        if part is not None and stored.load is not None:  # a group of settings: its JSON object
            wire_form = _wire_of_part
        convert = _then(stored.load, wire_form if wire else None)
        if convert is None:
            items.append(f"{key!r}: row[{name!r}]")
        else:
            namespace[f"convert{i}"] = convert
            items.append(f"{key!r}: None if (v{i} := row[{name!r}]) is None else convert{i}(v{i})")
    source = "def convert(row):\n    return {" + ", ".join(items) + "}\n"
    exec(source, namespace)  # noqa: S102 - built above from the model's field names only
    function: Callable[[Row], dict[str, Any]] = namespace["convert"]
    return function


_agent_wire = _row_converter(Agent, wire=True)
_agent_fields = _row_converter(Agent, wire=False)
_run_wire = _row_converter(Run, wire=True)
_run_fields = _row_converter(Run, wire=False)
_event_at = _serializer(RunEvent.model_fields["at"]) or str
_AGENT_FROM_WIRE = tuple(
    (name, info.alias or name, tuple(_parsers(info)), _model_in(info))
    for name, info in Agent.model_fields.items()
)


def agent_json(row: Row) -> dict[str, Any]:
    """An agents row (with ``creator_name``) as the API returns it."""
    return _agent_wire(row)


def agent_from_row(row: Row) -> Agent:
    """An agents row (with ``creator_name``) as a typed :class:`Agent`.

    Storage is trusted: the row is not checked against today's input rules
    (an agent stored before a rule existed still loads).
    """
    return Agent.model_construct(**_agent_fields(row))


def agent_from_json(data: Mapping[str, Any]) -> Agent:
    """An agent as the API writes it (:func:`agent_json`) as a typed :class:`Agent`.

    Like :func:`agent_from_row`, it trusts what it reads: values are parsed
    (instants to milliseconds), not checked against today's input rules.
    """
    values: dict[str, Any] = {}
    for name, key, parsers, model in _AGENT_FROM_WIRE:
        value = data[key]
        if value is not None:
            for parse in parsers:
                value = parse(value)
            if model is not None:
                value = model.model_validate(value)
        values[name] = value
    return Agent.model_construct(**values)


def run_json(row: Row) -> dict[str, Any]:
    """A runs row as the API returns it."""
    return _run_wire(row)


def run_from_row(row: Row) -> Run:
    return Run.model_construct(**_run_fields(row))


def event_json(row: Row) -> dict[str, Any]:
    """A run_events row as the API returns it: its own fields beside seq, at and type."""
    return {"seq": row["seq"], "at": _event_at(row["at"]), "type": row["type"], **json.loads(row["data"])}


def to_columns(model: BaseModel, *, only_sent: bool = False) -> dict[str, Any]:
    """A request model's values as storage columns → values (every field, or only those sent)."""
    fields = type(model).model_fields
    out: dict[str, Any] = {}
    for name, value in model.model_dump(exclude_unset=only_sent).items():
        dump = _stored(fields[name]).dump
        out[name] = value if dump is None or value is None else dump(value)
    return out
