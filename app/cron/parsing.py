"""Parsing and strict validation of five-field cron expressions (see :mod:`app.cron`)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from functools import lru_cache

ALIASES: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@midnight": "0 0 * * *",
}

FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {name: i + 1 for i, name in enumerate(_MONTHS)},
    {name: i for i, name in enumerate(_WEEKDAYS)},
)
_MONTH_TITLES = tuple(calendar.month_name[1:])
_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February: leap years
_EXPECTED = "expected 5 fields (minute hour day-of-month month day-of-week)"


class CronError(ValueError):
    """An invalid cron expression or time zone; ``str(err)`` is user-facing."""


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A validated expression: the sorted values each field allows."""

    fields: tuple[tuple[int, ...], ...]  # weekday 7 already folded into 0
    dom_restricted: bool
    dow_restricted: bool
    wildcard: bool  # minute or hour field uses '*' or a step: see CronSchedule

    def canonical(self) -> str:
        parts = []
        for index, values in enumerate(self.fields):
            lo, hi = _BOUNDS[index]
            full = hi - lo + (0 if index == 4 else 1)
            parts.append("*" if len(values) == full else ",".join(map(str, values)))
        return " ".join(parts)


# ----------------------------------------------------------------------------- parsing


def _value(token: str, index: int) -> int:
    """One number or name in field ``index``; raises CronError."""
    name = FIELD_NAMES[index]
    lo, hi = _BOUNDS[index]
    if token.isdigit() and token.isascii():
        number = int(token)
        if not lo <= number <= hi:
            raise CronError(f"{name}: {token} is out of range {lo}-{hi}")
        return number
    names = _NAMES[index]
    lowered = token.lower()
    if names and lowered in names:
        return names[lowered]
    if not token:
        raise CronError(f"{name}: empty value")
    if lowered in {"l", "w", "h", "?"} or "#" in token or re.fullmatch(r"[0-9]+[lw]", lowered):
        raise CronError(f"{name}: {token!r} is not supported (only standard cron syntax)")
    if names:
        kind = "month" if index == 3 else "weekday"
        examples = "jan-dec" if index == 3 else "sun-sat"
        raise CronError(f"{name}: {token!r} is not a number or {kind} name ({examples})")
    raise CronError(f"{name}: {token!r} is not a number")


def _parse_field(text: str, index: int) -> tuple[frozenset[int], bool]:
    """Values allowed by one field, and whether it uses '*' or a step."""
    name = FIELD_NAMES[index]
    lo, hi = _BOUNDS[index]
    values: set[int] = set()
    starred = False
    for item in text.split(","):
        if not item:
            raise CronError(f"{name}: empty list item in {text!r}")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            starred = True
            if not step_text:
                raise CronError(f"{name}: missing step after '/' in {item!r}")
            if not (step_text.isdigit() and step_text.isascii()):
                raise CronError(f"{name}: step {step_text!r} is not a number")
            step = int(step_text)
            cycle = 7 if index == 4 else hi - lo + 1
            if not 1 <= step <= cycle:
                raise CronError(f"{name}: step {step} is out of range 1-{cycle}")
        if base == "*":
            starred = True
            first, last = lo, hi
            if index == 4:
                last = 6
        elif "-" in base:
            start_text, _, end_text = base.partition("-")
            first = _value(start_text, index)
            last = _value(end_text, index)
            if first > last:
                raise CronError(f"{name}: range {base} is reversed (start {first} > end {last})")
        else:
            first = last = _value(base, index)
            if slash:
                raise CronError(
                    f"{name}: a step needs '*' or a range, e.g. {base}-{hi}/{step} instead of {item}"
                )
        values.update(range(first, last + 1, step))
    if index == 4 and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values), starred


def _never_fires(dom: tuple[int, ...], months: tuple[int, ...]) -> str | None:
    if any(dom[0] <= _MAX_DAYS[m - 1] for m in months):
        return None
    titles = [_MONTH_TITLES[m - 1] for m in months]
    where = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " or " + titles[-1]
    if len(dom) == 1:
        return f"never fires: day {dom[0]} does not exist in {where}"
    days = ",".join(map(str, dom))
    return f"never fires: none of the days {days} exist in {where}"


def _parse(expr: str) -> _Parsed:
    """Parse and validate; raises CronError with a one-line user message."""
    if not isinstance(expr, str):
        raise CronError(f"a cron expression must be text, not {type(expr).__name__}")
    text = expr.strip()
    if not text:
        raise CronError(f"empty schedule: {_EXPECTED} or one of {', '.join(ALIASES)}")
    if text.startswith("@"):
        alias = ALIASES.get(text.lower())
        if alias is None:
            raise CronError(f"unknown alias {text!r}: use one of {', '.join(ALIASES)}")
        text = alias
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"{_EXPECTED}, got {len(parts)}")
    fields: list[tuple[int, ...]] = []
    stars: list[bool] = []
    for index, part in enumerate(parts):
        if not part.isascii():
            raise CronError(f"{FIELD_NAMES[index]}: {part!r} contains non-ASCII characters")
        values, starred = _parse_field(part, index)
        fields.append(tuple(sorted(values)))
        stars.append(starred)
    dom_restricted = len(fields[2]) < 31
    dow_restricted = len(fields[4]) < 7
    if dom_restricted and not dow_restricted:
        message = _never_fires(fields[2], fields[3])
        if message is not None:
            raise CronError(message)
    return _Parsed(
        fields=tuple(fields),
        dom_restricted=dom_restricted,
        dow_restricted=dow_restricted,
        wildcard=stars[0] or stars[1],
    )


@lru_cache(maxsize=4096)
def _parse_cached(expr: str) -> _Parsed:
    return _parse(expr)


def validate_schedule(expr: str) -> str | None:
    """None when ``expr`` is a valid schedule, else a one-line message for the user."""
    if not isinstance(expr, str):
        return f"a cron expression must be text, not {type(expr).__name__}"
    try:
        _parse_cached(expr)
    except CronError as err:
        return str(err)
    return None
