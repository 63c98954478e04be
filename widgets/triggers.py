"""How an agent's triggers read in the table and the detail line: a one-shot's time, its webhook.

An agent runs on its ``schedule`` or once at ``runAt`` (exactly one of them); the
one time is shown in the agent's time zone.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from widgets.formatting import parse_iso


def once_text(agent: dict[str, Any], *, short: bool = False) -> str:
    """A one-shot agent's time in its zone: ``once, Fri 10 Jan 16:00`` (short: ``once 10 Jan``)."""
    moment = parse_iso(agent.get("runAt"))
    if moment is None:
        return "once"
    try:
        moment = moment.astimezone(ZoneInfo(str(agent.get("timezone") or "UTC")))
    except (ZoneInfoNotFoundError, ValueError):
        pass
    return moment.strftime("once %d %b") if short else moment.strftime("once, %a %d %b %H:%M")


def when_text(agent: dict[str, Any], *, short: bool = False) -> str | None:
    """A one-shot's :func:`once_text`; None for an agent on a schedule (the caller describes it)."""
    if agent.get("schedule"):
        return None
    return once_text(agent, short=short)
