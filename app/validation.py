"""Field-by-field validation of agent bodies: one clear message per bad field.

Each API field maps to a storage column and a checker that returns the
stored value or raises ``FieldError`` with the message the client sees.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.cron import validate_schedule, validate_timezone
from app.errors import ValidationError

PERMISSION_MODES = ("dontAsk", "default", "acceptEdits", "plan", "bypassPermissions")
CONCURRENCY_POLICIES = ("forbid", "allow", "replace")
DEFAULT_ALLOWED_TOOLS = ("Read", "Glob", "Grep")
# Fields the server computes: accepted in a body (so a client can send back
# what it read) and ignored.
READ_ONLY_FIELDS = frozenset(
    {"id", "creator", "createdAt", "updatedAt", "nextRunAt", "lastRunAt", "lastStatus"}
)


class FieldError(Exception):
    pass


def _string(min_len: int, max_len: int, *, strip: bool = True) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise FieldError("must be a string")
        text = value.strip() if strip else value
        if len(text) < min_len or len(text) > max_len:
            if min_len == 1 and not text:
                raise FieldError("must not be empty")
            raise FieldError(f"must be {min_len}-{max_len} characters")
        return text

    return check


def _nullable(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def nullable(value: Any) -> Any:
        return None if value is None else check(value)

    return nullable


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(f"must be an integer from {low} to {high}")
        if isinstance(value, float) and not value.is_integer():
            raise FieldError(f"must be an integer from {low} to {high}")
        if not low <= value <= high:
            raise FieldError(f"must be an integer from {low} to {high}")
        return int(value)

    return check


def _budget(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FieldError("must be a number greater than 0, or null for no limit")
    if value <= 0:
        raise FieldError("must be greater than 0, or null for no limit")
    if value > 10_000:
        raise FieldError("must be at most 10000")
    return float(value)


def _boolean(value: Any) -> int:
    if not isinstance(value, bool):
        raise FieldError("must be true or false")
    return int(value)


def _schedule(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("must be a string")
    expr = " ".join(value.split())
    problem = validate_schedule(expr)
    if problem:
        raise FieldError(problem)
    return expr


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("must be an IANA time zone name such as Europe/Paris")
    problem = validate_timezone(value)
    if problem:
        raise FieldError(problem)
    return value


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise FieldError("must be one of " + ", ".join(options))
        return str(value)

    return check


def _permission_mode(value: Any) -> str:
    mode = _choice(PERMISSION_MODES)(value)
    if mode == "bypassPermissions" and hasattr(os, "geteuid") and os.geteuid() == 0:
        raise FieldError("bypassPermissions is refused while the server runs as root")
    return mode


def _tools(value: Any) -> str:
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise FieldError('must be a list of tool names, e.g. ["Read", "Bash(git log:*)"]')
    if len(value) > 200:
        raise FieldError("must list at most 200 tools")
    return json.dumps([t.strip() for t in value])


def _cwd(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldError("must be an absolute directory path, or null")
    path = value.strip()
    if not os.path.isabs(path):
        raise FieldError("must be an absolute path")
    if not os.path.isdir(path):
        raise FieldError(f"{path} is not an existing directory on the server")
    return path


def _model(value: Any) -> str:
    text = _string(1, 200)(value)
    if any(c.isspace() for c in text):
        raise FieldError("must be a model name such as claude-sonnet-4-5, without spaces")
    return text


@dataclass(frozen=True)
class Field:
    column: str
    check: Callable[[Any], Any]
    required: bool = False


FIELDS: dict[str, Field] = {
    "name": Field("name", _string(1, 200), required=True),
    "description": Field("description", _nullable(_string(0, 2000))),
    "schedule": Field("schedule", _schedule, required=True),
    "prompt": Field("prompt", _string(1, 100_000), required=True),
    "enabled": Field("enabled", _boolean),
    "maxTurns": Field("max_turns", _integer(1, 1000)),
    "maxBudgetUsd": Field("max_budget_usd", _nullable(_budget)),
    "timezone": Field("timezone", _timezone),
    "model": Field("model", _nullable(_model)),
    "cwd": Field("cwd", _nullable(_cwd)),
    "allowedTools": Field("allowed_tools", _tools),
    "permissionMode": Field("permission_mode", _permission_mode),
    "timeoutSeconds": Field("timeout_seconds", _integer(1, 7 * 86_400)),
    "concurrencyPolicy": Field("concurrency_policy", _choice(CONCURRENCY_POLICIES)),
    "loadProjectSettings": Field("load_project_settings", _boolean),
    "startingDeadlineSeconds": Field("starting_deadline_seconds", _nullable(_integer(0, 31_536_000))),
}


def validate_agent_body(body: Any, *, creating: bool) -> dict[str, Any]:
    """Check a create or update body; returns storage columns → values.

    Raises ``ValidationError`` naming every bad field at once.
    """
    if not isinstance(body, Mapping):
        raise ValidationError({"body": "must be a JSON object"}, "Request body must be a JSON object")
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, value in body.items():
        field = FIELDS.get(key)
        if field is None:
            if key not in READ_ONLY_FIELDS:
                problems[str(key)] = "unknown field"
            continue
        if field.required and value is None:
            problems[key] = "is required"
            continue
        try:
            values[field.column] = field.check(value)
        except FieldError as exc:
            problems[key] = str(exc)
    if creating:
        for key, field in FIELDS.items():
            if field.required and key not in body:
                problems[key] = "is required"
    if problems:
        raise ValidationError(problems)
    return values
