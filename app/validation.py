"""Field-by-field validation of agent bodies: one clear message per bad field.

Each API field maps to a storage column, a checker that returns the stored
value or raises ``FieldError`` with the message the client sees, and the JSON
Schema of what the checker accepts. The OpenAPI document is built from those
schemas, so the published limits are the enforced ones: text rules are
regular expressions used both here (``re.fullmatch``) and in the schema.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.cron import ALIASES, timezone_names, validate_schedule, validate_timezone
from app.errors import ValidationError

PERMISSION_MODES = ("dontAsk", "default", "acceptEdits", "plan", "bypassPermissions")
CONCURRENCY_POLICIES = ("forbid", "allow", "replace")
DEFAULT_ALLOWED_TOOLS = ("Read", "Glob", "Grep")
# Fields the server computes: accepted in a body (so a client can send back
# what it read) and ignored.
READ_ONLY_FIELDS = frozenset(
    {"id", "creator", "createdAt", "updatedAt", "nextRunAt", "lastRunAt", "lastStatus"}
)

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
PROMPT_MAX_LENGTH = 100_000
SCHEDULE_MAX_LENGTH = 200
MODEL_MAX_LENGTH = 200
CWD_MAX_LENGTH = 4096
TOOL_MAX_LENGTH = 500
MAX_TOOLS = 200
MAX_TURNS_RANGE = (1, 1000)
MAX_BUDGET_USD = 10_000
TIMEOUT_SECONDS_RANGE = (1, 7 * 86_400)
STARTING_DEADLINE_RANGE = (0, 365 * 86_400)

# Regular-expression character classes understood alike by Python's ``re``,
# ECMA-262 (JSON Schema ``pattern``) and Rust's ``regex``: \xHH and \uHHHH.
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

Checker = Callable[[Any], Any]
Schema = dict[str, Any]


class FieldError(Exception):
    pass


@dataclass(frozen=True)
class Field:
    column: str
    check: Checker
    schema: Schema
    """JSON Schema of the values ``check`` accepts (what the OpenAPI document publishes)."""
    output: Schema
    """JSON Schema of the value as the API returns it (types only: stored rows may predate a rule)."""
    required: bool = False


def allowed_permission_modes() -> tuple[str, ...]:
    """The CLI refuses ``bypassPermissions`` as root, so the server does too."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return tuple(m for m in PERMISSION_MODES if m != "bypassPermissions")
    return PERMISSION_MODES


def _text(max_len: int, pattern: str, problem: str, *, strip: bool = True) -> tuple[Checker, Schema]:
    """A string of at most ``max_len`` characters matching ``pattern``, stored stripped."""
    regex = re.compile(pattern)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise FieldError("must be a string")
        if len(value) > max_len:
            raise FieldError(f"must be at most {max_len} characters")
        if not regex.fullmatch(value):
            raise FieldError(_text_problem(value, problem))
        return value.strip() if strip else value

    return check, {"type": "string", "maxLength": max_len, "pattern": pattern}


def _text_problem(value: str, problem: str) -> str:
    if not value.strip():
        return "must not be empty"
    if "\x00" in value:
        return "must not contain NUL characters"
    return problem


def _nullable(rule: tuple[Checker, Schema]) -> tuple[Checker, Schema]:
    check, schema = rule

    def nullable(value: Any) -> Any:
        return None if value is None else check(value)

    return nullable, {**schema, "type": [schema["type"], "null"]}


def _integer(low: int, high: int) -> tuple[Checker, Schema]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(f"must be an integer from {low} to {high}")
        if isinstance(value, float) and not value.is_integer():
            raise FieldError(f"must be an integer from {low} to {high}")
        if not low <= value <= high:
            raise FieldError(f"must be an integer from {low} to {high}")
        return int(value)

    return check, {"type": "integer", "minimum": low, "maximum": high}


def _budget(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FieldError("must be a number greater than 0, or null for no limit")
    if value <= 0:
        raise FieldError("must be greater than 0, or null for no limit")
    if value > MAX_BUDGET_USD:
        raise FieldError(f"must be at most {MAX_BUDGET_USD}")
    return float(value)


def _boolean(value: Any) -> int:
    if not isinstance(value, bool):
        raise FieldError("must be true or false")
    return int(value)


def _schedule(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("must be a string")
    if len(value) > SCHEDULE_MAX_LENGTH:
        raise FieldError(f"must be at most {SCHEDULE_MAX_LENGTH} characters")
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


def _choice(options: Callable[[], tuple[str, ...]], why: Callable[[Any], str | None]) -> Checker:
    def check(value: Any) -> str:
        if value not in options():
            raise FieldError(why(value) or "must be one of " + ", ".join(options()))
        return str(value)

    return check


def _no_reason(value: Any) -> str | None:
    return None


def _permission_refusal(value: Any) -> str | None:
    if value == "bypassPermissions" and value not in allowed_permission_modes():
        return "bypassPermissions is refused while the server runs as root"
    return None


_tool_check, _TOOL_SCHEMA = _text(TOOL_MAX_LENGTH, NAME_PATTERN, "must not contain control characters")


def _tools(value: Any) -> str:
    if not isinstance(value, list):
        raise FieldError('must be a list of tool names, e.g. ["Read", "Bash(git log:*)"]')
    if len(value) > MAX_TOOLS:
        raise FieldError(f"must list at most {MAX_TOOLS} tools")
    try:
        return json.dumps([_tool_check(t) for t in value])
    except FieldError as exc:
        raise FieldError(f"each tool name {exc}") from None


def _cwd(value: Any) -> str:
    path: str = _cwd_text(value)
    if not os.path.isdir(path):
        raise FieldError(f"{path} is not an existing directory on the server")
    return path


_cwd_text, _CWD_SCHEMA = _text(CWD_MAX_LENGTH, CWD_PATTERN, "must be an absolute path", strip=False)
_model_check, _MODEL_SCHEMA = _text(
    MODEL_MAX_LENGTH,
    MODEL_PATTERN,
    "must be a model id such as claude-sonnet-4-5: letters, digits and . - _ : [ ] /, "
    "not starting with -",
    strip=False,
)


def _field(column: str, rule: tuple[Checker, Schema], *, required: bool = False,
           output: Schema | None = None, **annotations: Any) -> Field:  # fmt: skip
    check, schema = rule
    return Field(column, check, {**schema, **annotations}, output or {"type": schema["type"]}, required)


def _enum(options: Callable[[], tuple[str, ...]], why: Callable[[Any], str | None]) -> tuple[Checker, Schema]:
    return _choice(options, why), {"type": "string", "enum": list(options())}


_BOOLEAN: tuple[Checker, Schema] = (_boolean, {"type": "boolean"})
_BUDGET: tuple[Checker, Schema] = (
    _budget, {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_BUDGET_USD}
)
_SCHEDULE: tuple[Checker, Schema] = (
    _schedule,
    {"type": "string", "minLength": 1, "maxLength": SCHEDULE_MAX_LENGTH,
     "description": "5-field cron expression, or one of " + ", ".join(ALIASES)},
)  # fmt: skip
_TIMEZONE: tuple[Checker, Schema] = (
    _timezone,
    {"type": "string", "enum": sorted(timezone_names()),
     "description": "IANA time zone; default: the server's zone"},
)  # fmt: skip
_TOOLS: tuple[Checker, Schema] = (
    _tools, {"type": "array", "maxItems": MAX_TOOLS, "items": _TOOL_SCHEMA}
)

FIELDS: dict[str, Field] = {
    "name": _field("name", _text(NAME_MAX_LENGTH, NAME_PATTERN, "must not contain control characters"),
                   required=True),  # fmt: skip
    "description": _field("description", _nullable(
        _text(DESCRIPTION_MAX_LENGTH, DESCRIPTION_PATTERN, "must not contain NUL characters"))),
    "schedule": _field("schedule", _SCHEDULE, required=True),
    "prompt": _field("prompt", _text(PROMPT_MAX_LENGTH, PROMPT_PATTERN, "must not be empty"),
                     required=True),  # fmt: skip
    "enabled": _field("enabled", _BOOLEAN, default=True),
    "maxTurns": _field("max_turns", _integer(*MAX_TURNS_RANGE), default=50),
    "maxBudgetUsd": _field("max_budget_usd", _nullable(_BUDGET), description="null: no limit"),
    "timezone": _field("timezone", _TIMEZONE),
    "model": _field("model", _nullable((_model_check, _MODEL_SCHEMA)),
                    description="null: the CLI's default model"),  # fmt: skip
    "cwd": _field("cwd", _nullable((_cwd, _CWD_SCHEMA)),
                  description="absolute path of an existing directory on the server"),  # fmt: skip
    "allowedTools": _field("allowed_tools", _TOOLS, default=list(DEFAULT_ALLOWED_TOOLS),
                           output={"type": "array", "items": {"type": "string"}}),  # fmt: skip
    "permissionMode": _field("permission_mode", _enum(allowed_permission_modes, _permission_refusal),
                             default="dontAsk", output={"enum": list(PERMISSION_MODES)}),  # fmt: skip
    "timeoutSeconds": _field("timeout_seconds", _integer(*TIMEOUT_SECONDS_RANGE), default=1800),
    "concurrencyPolicy": _field("concurrency_policy", _enum(lambda: CONCURRENCY_POLICIES, _no_reason),
                                default="forbid", output={"enum": list(CONCURRENCY_POLICIES)}),  # fmt: skip
    "loadProjectSettings": _field("load_project_settings", _BOOLEAN, default=False,
                                  description="load .claude settings and hooks found in cwd"),  # fmt: skip
    "startingDeadlineSeconds": _field("starting_deadline_seconds",
                                      _nullable(_integer(*STARTING_DEADLINE_RANGE)), default=3600),
}


def column_defaults() -> dict[str, Any]:
    """Storage column → stored value of every field the OpenAPI document gives a default.

    The defaults go through each field's own checker, so they are stored as a
    client's value would be (``allowedTools`` as JSON, booleans as 0/1).
    """
    return {f.column: f.check(f.schema["default"]) for f in FIELDS.values() if "default" in f.schema}


def validate_agent_body(body: Any, *, creating: bool) -> dict[str, Any]:
    """Check a create or update body; returns storage columns → values.

    Raises ``ValidationError`` naming every bad field at once.
    """
    if not isinstance(body, Mapping):
        raise ValidationError({"body": "must be a JSON object"}, "Request body must be a JSON object")
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    for key, value in body.items():
        spec = FIELDS.get(key)
        if spec is None:
            if key not in READ_ONLY_FIELDS:
                problems[str(key)] = "unknown field"
            continue
        if spec.required and value is None:
            problems[key] = "is required"
            continue
        try:
            values[spec.column] = spec.check(value)
        except FieldError as exc:
            problems[key] = str(exc)
    if creating:
        for key, spec in FIELDS.items():
            if spec.required and key not in body:
                problems[key] = "is required"
    if problems:
        raise ValidationError(problems)
    return values
