"""Time zones a schedule may name: IANA keys only."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from app.cron.parsing import CronError

_REJECTED_ZONES = frozenset({"local", "localtime", "posixrules", "factory"})


@lru_cache(maxsize=1)
def _zone_names() -> tuple[frozenset[str], dict[str, str]]:
    names = frozenset(name for name in available_timezones() if name.lower() not in _REJECTED_ZONES)
    return names, {name.lower(): name for name in names}


def timezone_names() -> frozenset[str]:
    """Every name :func:`validate_timezone` accepts."""
    return _zone_names()[0]


def validate_timezone(name: str) -> str | None:
    """None when ``name`` is an IANA time zone key (e.g. ``Europe/Paris``), else a message."""
    if not isinstance(name, str):
        return f"a time zone must be text, not {type(name).__name__}"
    if not name.strip():
        return "empty time zone: use an IANA name such as UTC or Europe/Paris"
    shown = name if len(name) <= 60 else name[:57] + "..."
    if name.lower() in _REJECTED_ZONES:
        return f"time zone {shown!r} is not allowed: use an IANA name such as Europe/Paris"
    names, by_lower = _zone_names()
    if name in names:
        try:
            ZoneInfo(name)
        except (ValueError, OSError):  # pragma: no cover - broken tz database
            return f"time zone {shown!r} could not be loaded"
        return None
    suggestion = by_lower.get(name.strip().lower())
    if suggestion is not None:
        return f"unknown time zone {shown!r} (did you mean {suggestion!r}?)"
    return f"unknown time zone {shown!r}: use an IANA name such as UTC or Europe/Paris"


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    message = validate_timezone(name)
    if message is not None:
        raise CronError(message)
    return ZoneInfo(name)
