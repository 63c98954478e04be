"""Schemathesis hooks: valid values for the two rules JSON Schema cannot state.

The OpenAPI document declares every limit it can (types, lengths, patterns,
ranges, enums). Two rules it cannot: a ``schedule`` must be a cron expression
that fires, and a ``cwd`` must be an existing directory on the server. A
generated string that fits the schema but breaks one of those rules is
replaced here by one that keeps it; values outside the schema (the negative
cases) are left alone, so the server must still refuse them.

Loaded by the schemathesis CLI through ``SCHEMATHESIS_HOOKS=tests.schemathesis_hooks``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import schemathesis

from app.cron import validate_schedule
from app.model.rules import CWD_MAX_LENGTH, CWD_PATTERN, SCHEDULE_MAX_LENGTH

SCHEDULES = ("0 9 * * *", "*/15 * * * *", "@daily", "30 8 * * 1-5", "@yearly")
EXISTING_DIRECTORY = os.environ.get("CRONAGENTS_TEST_CWD", "/")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Runs before every request of every phase (``map_body`` is not applied in all of them)."""
    if isinstance(case.body, dict):
        case.body = keep_server_rules(case.body)


def keep_server_rules(body: dict[str, Any]) -> dict[str, Any]:
    schedule = body.get("schedule")
    if (
        isinstance(schedule, str)
        and 1 <= len(schedule) <= SCHEDULE_MAX_LENGTH
        and validate_schedule(" ".join(schedule.split()))
    ):
        body = {**body, "schedule": SCHEDULES[len(schedule) % len(SCHEDULES)]}
    cwd = body.get("cwd")
    if (
        isinstance(cwd, str)
        and len(cwd) <= CWD_MAX_LENGTH
        and re.fullmatch(CWD_PATTERN, cwd)
        and not os.path.isdir(cwd)
    ):
        body = {**body, "cwd": EXISTING_DIRECTORY}
    return body
