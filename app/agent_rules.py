"""Rules over several fields of an agent, which no one field's type can state.

The typed model (:mod:`app.model`) checks each field on its own; what depends
on two fields, or on the clock, is decided here, on the agent as it will be
stored (an update merged onto the stored agent). Each rule raises a
:class:`~app.errors.ValidationError` naming the field to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.errors import ValidationError
from app.timeutil import iso

NEITHER = "is required (or runAt, for an agent that runs once)"
BOTH = "give either schedule or runAt, not both (send schedule: null to make the agent run once)"


def check_trigger(agent: Mapping[str, Any], sent: Mapping[str, Any], was_enabled: bool, now: int) -> None:
    """Exactly one of ``schedule`` and ``run_at``; an enabled one-shot's time must be to come.

    ``agent``: the columns as they will be stored; ``sent``: those the request
    set. A one-shot whose time has passed (it ran, or was missed) may still be
    edited while disabled; enabling it again needs a time to come.
    """
    schedule, run_at = agent.get("schedule"), agent.get("run_at")
    if schedule is None and run_at is None:
        raise ValidationError({"schedule": NEITHER})
    if schedule is not None and run_at is not None:
        raise ValidationError({"runAt": BOTH})
    if run_at is None or not agent.get("enabled"):
        return
    if ("run_at" in sent or not was_enabled) and run_at <= now:
        raise ValidationError({"runAt": f"is in the past ({iso(run_at)}): give a time to come"})


def next_run_at(agent: Mapping[str, Any], now: int, next_fire: Callable[[str, str, int], int]) -> int | None:
    """When an agent fires next: its one time if still to come, else its schedule's next slot.

    ``next_fire(schedule, timezone, now)`` gives a schedule's next slot (ms).
    """
    if not agent.get("enabled"):
        return None
    run_at = agent.get("run_at")
    if run_at is not None:
        return int(run_at) if run_at > now else None
    return next_fire(agent["schedule"], agent["timezone"], now)
