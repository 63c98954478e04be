"""Agent request bodies to typed models, with one clear message per bad field.

pydantic checks a body against :data:`~app.model.AgentCreate` or
:data:`~app.model.AgentUpdate`; its errors become the API's
``{"field": "what is wrong"}``, worded from the field's rules
(:class:`~app.model.Rules`): bounds, choices and the field's own
:class:`~app.model.rules.Wording`. Unknown fields are refused by name; fields
the server computes are accepted and ignored, so a client may send back what
it read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pydantic
from pydantic import BaseModel
from pydantic_core import ErrorDetails

from app.errors import ValidationError
from app.model import AGENT_FIELDS_BY_KEY, READ_ONLY_KEYS, AgentCreate, AgentUpdate, FieldSpec, Rules
from app.templates import input_text

_TYPE_ERRORS = frozenset(
    {
        "string_type",
        "int_type",
        "int_parsing",
        "int_from_float",
        "float_type",
        "float_parsing",
        "finite_number",
        "bool_type",
        "list_type",
        "literal_error",
        "model_type",
        "dict_type",
    }
)
_KIND_TYPE = {
    "text": "must be a string",
    "boolean": "must be true or false",
    "number": "must be a number",
    "list": "must be a list",
    "object": "must be an object",
}
_BOUND_WORDING = {
    "string_too_short": ("too_short", "must not be empty"),
    "string_too_long": ("too_long", "must be at most {max_length} characters"),
    "too_long": ("too_long", "must list at most {max_length} items"),
    "too_short": ("too_short", "must list at least {min_length} items"),
    "greater_than": ("greater_than", "must be greater than {gt}"),
    "greater_than_equal": ("greater_than_equal", "must be at least {ge}"),
    "less_than_equal": ("less_than_equal", "must be at most {le}"),
    "less_than": ("less_than", "must be less than {lt}"),
}


@dataclass(frozen=True)
class BodyShape:
    """What a resource's request bodies may hold: its create and update models and their fields."""

    create: type[BaseModel]
    update: type[BaseModel]
    fields: Mapping[str, FieldSpec]
    """By wire name."""
    read_only: frozenset[str] = frozenset()
    """Fields the server computes: accepted and ignored."""
    one_of: tuple[tuple[str, str], ...] = ()
    """``(key, alternative)``: a create needs one of the two (the service checks "not both")."""
    one_of_why: str = ""


AGENT_BODY = BodyShape(
    AgentCreate,
    AgentUpdate,
    AGENT_FIELDS_BY_KEY,
    READ_ONLY_KEYS,
    one_of=(("schedule", "runAt"),),
    one_of_why="for an agent that runs once",
)


def parse_agent_create(body: Any) -> BaseModel:
    """A create body as an :data:`AgentCreate` (defaults filled in; the time zone None when absent)."""
    return parse_body(AGENT_BODY, body, creating=True)


def parse_agent_update(body: Any) -> BaseModel:
    """An update body as an :data:`AgentUpdate`; ``model_fields_set`` holds the fields sent."""
    return parse_body(AGENT_BODY, body, creating=False)


def parse_body(shape: BodyShape, body: Any, *, creating: bool) -> BaseModel:
    """A create or update body as its model, or a :class:`ValidationError` naming each bad field."""
    if not isinstance(body, Mapping):
        raise ValidationError({"body": "must be a JSON object"}, "Request body must be a JSON object")
    problems: dict[str, str] = {}
    known: dict[str, Any] = {}
    for key, value in body.items():
        if key in shape.fields:
            known[key] = value
        elif key not in shape.read_only:
            problems[str(key)] = "unknown field"
    model = shape.create if creating else shape.update
    try:
        parsed = model.model_validate(known)
    except pydantic.ValidationError as exc:
        problems.update(field_problems(exc.errors(), shape.fields))
    if creating:
        for key, alternative in shape.one_of:
            if known.get(key) is None and known.get(alternative) is None:
                problems.setdefault(key, f"is required (or {alternative}, {shape.one_of_why})")
    if problems:
        # Named in the order the body holds them; fields left out at the end, in the model's order.
        order = {key: i for i, key in enumerate(body)}
        later = {key: len(order) + i for i, key in enumerate(shape.fields)}
        raise ValidationError(
            dict(sorted(problems.items(), key=lambda item: order.get(item[0], later.get(item[0], 0))))
        )
    return parsed


def parse_run_body(body: Any) -> str | None:
    """A run body (``{"input": ...}``; ``{}`` when none was sent) to the run's input text (None: none)."""
    if not isinstance(body, Mapping):
        raise ValidationError({"body": "must be a JSON object"}, "Request body must be a JSON object")
    unknown = {str(key): "unknown field" for key in body if key != "input"}
    if unknown:
        raise ValidationError(unknown)
    return input_text(body.get("input"))


def field_problems(
    errors: list[ErrorDetails], fields: Mapping[str, FieldSpec] = AGENT_FIELDS_BY_KEY
) -> dict[str, str]:
    """One message per field, from its first error (an error of the whole value before one of an item)."""
    by_field: dict[str, list[ErrorDetails]] = {}
    for error in errors:
        by_field.setdefault(str(error["loc"][0]), []).append(error)
    problems = {}
    for key, field_errors in by_field.items():
        error = min(field_errors, key=lambda e: len(e["loc"]))
        problems[key] = message(fields[key], error)
    return problems


def message(spec: FieldSpec, error: ErrorDetails) -> str:
    if error["type"] == "missing" or (spec.required and error["input"] is None):
        return "is required"
    return _worded(spec.rules, error, depth=1)


def _worded(rules: Rules, error: ErrorDetails, *, depth: int) -> str:
    kind, ctx, wording = error["type"], error.get("ctx") or {}, rules.wording
    if len(error["loc"]) > depth and rules.kind == "mapping" and rules.item is not None:
        # An error of one entry: its name, then what is wrong with the name or with the value.
        name, rest = str(error["loc"][depth]), error["loc"][depth + 1 :]
        if rest[:1] == ("[key]",):
            return (
                str(ctx["problem"]) if kind == "rule" else f"{name}: {wording.get('key', 'is not allowed')}"
            )
        return f"{name}: {_worded(rules.item, error, depth=depth + 1)}"
    if kind == "rule" and not (len(error["loc"]) > depth and rules.kind == "object"):
        return str(ctx["problem"])
    if len(error["loc"]) > depth and rules.item is not None:
        return wording.get("item", "each item") + " " + _worded(rules.item, error, depth=depth + 1)
    if len(error["loc"]) > depth and rules.kind == "object":
        key = str(error["loc"][depth])
        part = rules.part(key)
        if part is None:
            return f"{key}: unknown field"
        if error["type"] == "missing":
            return f"{key}: is required"
        return f"{key}: {_worded(part.rules, error, depth=depth + 1)}"
    if rules.kind == "integer":
        return f"must be an integer from {rules.bounds['ge']} to {rules.bounds['le']}"
    if kind == "string_unicode":  # the HTTP layer refuses them first; a direct caller may not
        return "must be Unicode text (no lone surrogates such as \\ud800)"
    if kind == "string_pattern_mismatch":
        return _text_problem(error["input"], wording.get("pattern", "has a character not allowed here"))
    if kind == "literal_error" or (kind in _TYPE_ERRORS and rules.kind == "choice"):
        return (
            rules.allowed.problem(error["input"])
            if rules.allowed
            else "must be one of " + ", ".join(rules.choices)
        )
    if kind in _TYPE_ERRORS:
        return wording.get("type", _KIND_TYPE.get(rules.kind, "has the wrong type"))
    if kind in _BOUND_WORDING:
        name, general = _BOUND_WORDING[kind]
        return wording.get(name, general).format(**{k: _number(v) for k, v in ctx.items()})
    return wording.get("type", error["msg"])


def _text_problem(value: Any, problem: str) -> str:
    if isinstance(value, str) and not value.strip():
        return "must not be empty"
    if isinstance(value, str) and "\x00" in value:
        return "must not contain NUL characters"
    return problem


def _number(value: Any) -> Any:
    """``10000.0`` reads ``10000``."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
