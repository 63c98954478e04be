"""Cron expressions: strict validation, descriptions and DST-aware fire times.

Pure module: no I/O and no clock reads. Every time goes in and out as a
timezone-aware :class:`datetime`; results are always in UTC.

Accepted syntax (classic five-field cron, nothing more):

* ``minute hour day-of-month month day-of-week``, separated by whitespace;
* each field a comma list of ``*``, ``N``, ``A-B``, ``*/S`` or ``A-B/S``;
* month names ``jan``-``dec`` and weekday names ``sun``-``sat`` (any case);
  weekdays are 0-7 with both 0 and 7 meaning Sunday;
* the aliases in :data:`ALIASES`.

Day matching follows cron: when both day-of-month and day-of-week are
restricted (do not cover every value) a day matches if EITHER matches;
otherwise the restricted one alone decides.

Daylight saving follows Vixie/ISC cron (see :class:`CronSchedule`).

Computation: local wall-clock candidates come from croniter (run on naive
datetimes, which it handles exactly); this module then maps them to UTC
instants with its own, explicit DST rules. croniter is only ever given the
canonical numeric form of an expression (see ``CronSchedule.canonical``):
croniter 7 itself reads a one-value range such as ``5-5`` as ``*`` and accepts
extensions (``L``, ``W``, ``#``, ``?``, a seconds field, ``5/15``) this module rejects.
"""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from croniter import croniter

__all__ = [
    "ALIASES",
    "CronError",
    "CronSchedule",
    "describe_schedule",
    "get_schedule",
    "next_fire_time",
    "slots_between",
    "timezone_names",
    "validate_schedule",
    "validate_timezone",
]

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
_ONE_MINUTE = timedelta(minutes=1)
_ONE_SECOND = timedelta(seconds=1)
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


# ----------------------------------------------------------------------------- zones

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


# ----------------------------------------------------------------------------- description


def describe_schedule(expr: str) -> str:
    """Plain English, 24-hour clock (``"At 09:00"``, ``"Every minute"``); never raises.

    Falls back to the expression itself when it is invalid or cannot be described.
    """
    try:
        if validate_schedule(expr) is not None:
            return str(expr)
        from cron_descriptor import ExpressionDescriptor, Options

        text = expr.strip()
        text = ALIASES.get(text.lower(), text)
        options = Options()
        options.use_24hour_time_format = True
        description = ExpressionDescriptor(" ".join(text.split()), options).get_description()
        return str(description) or str(expr)
    except Exception:
        return str(expr)


# ----------------------------------------------------------------------------- schedule


def _require_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


def _offset(wall: datetime, zone: tzinfo, fold: int) -> timedelta:
    offset = wall.replace(tzinfo=zone, fold=fold).utcoffset()
    assert offset is not None
    return offset


def _transition(lo: datetime, hi: datetime, zone: tzinfo) -> datetime:
    """First UTC instant in (lo, hi] whose offset is hi's; lo's offset differs from hi's."""
    target = hi.astimezone(zone).utcoffset()
    low, high = int(lo.timestamp()), int(hi.timestamp()) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


class CronSchedule:
    """A validated cron expression bound to an IANA time zone.

    Fields match local wall-clock time in ``timezone``. Daylight saving, as
    Vixie/ISC cron does it:

    * the schedule is *wildcard* when its minute or hour field uses ``*`` or a
      ``/`` step (``*/15 * * * *``, ``0 * * * *``, ``0 */2 * * *``,
      ``*/10 3 * * *``), and *fixed-time* otherwise (``30 2 * * *``,
      ``0 9,17 * * *``, ``0 9-17 * * *``);
    * spring forward: a local time that does not exist is skipped by wildcard
      schedules; fixed-time schedules fire once at the first instant after the
      jump (several skipped times collapse into that one fire);
    * fall back: wildcard schedules fire in both passes of the repeated
      period (by UTC they keep their rhythm); fixed-time schedules fire only
      at the first occurrence of a repeated local time.

    Results are strictly increasing UTC datetimes.
    """

    __slots__ = ("_cron", "_lock", "_parsed", "_zone", "expr", "timezone")

    def __init__(self, expr: str, timezone: str) -> None:
        if not isinstance(expr, str) or not isinstance(timezone, str):
            raise CronError("expr and timezone must be strings")
        self._parsed = _parse_cached(expr)
        self._zone = _zone(timezone)
        self.expr = expr
        self.timezone = timezone
        self._cron = croniter(self._parsed.canonical(), datetime(2000, 1, 1), day_or=True)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CronSchedule({self.expr!r}, {self.timezone!r})"

    @property
    def canonical(self) -> str:
        """The expression as plain numeric lists (what croniter is given)."""
        return self._parsed.canonical()

    @property
    def is_wildcard(self) -> bool:
        """True when the minute or hour field uses '*' or a step (see class docstring)."""
        return self._parsed.wildcard

    def matches_local(self, wall: datetime) -> bool:
        """Whether the local wall-clock minute ``wall`` (naive or aware) matches the fields."""
        minutes, hours, doms, months, dows = self._parsed.fields
        if wall.minute not in minutes or wall.hour not in hours or wall.month not in months:
            return False
        dom_ok = wall.day in doms
        dow_ok = wall.isoweekday() % 7 in dows
        if self._parsed.dom_restricted and self._parsed.dow_restricted:
            return dom_ok or dow_ok
        return dom_ok and dow_ok

    # -- local candidates -------------------------------------------------------------

    def _next_wall(self, wall: datetime) -> datetime:
        """First matching naive local minute strictly after naive ``wall``."""
        with self._lock:
            result: datetime = self._cron.get_next(datetime, start_time=wall)
        return result

    def _walls_until(self, after: datetime, end: datetime) -> Iterator[datetime]:
        """Matching naive minutes in (after, end)."""
        wall = self._next_wall(after)
        while wall < end:
            yield wall
            wall = self._next_wall(wall)

    def _repeated_period(self, wall: datetime) -> tuple[datetime, datetime]:
        """Naive [start, end) of the repeated local period that contains ``wall``."""
        zone = self._zone
        first = (wall.replace(tzinfo=zone, fold=0)).astimezone(UTC)
        second = (wall.replace(tzinfo=zone, fold=1)).astimezone(UTC)
        switch = _transition(first, second, zone)
        before = _offset(wall, zone, 0)
        after = _offset(wall, zone, 1)
        start = (switch + after).replace(tzinfo=None)
        return start, (switch + before).replace(tzinfo=None)

    def _instants(self, after: datetime) -> Iterator[datetime]:
        """UTC fire instants after ``after``, non-decreasing (gap fires may repeat)."""
        zone, wildcard = self._zone, self._parsed.wildcard
        local = after.astimezone(zone)
        cursor = local.replace(tzinfo=None, fold=0)

        def first_pass(start: datetime, end: datetime) -> Iterator[datetime]:
            for wall in self._walls_until(start, end):
                yield wall.replace(tzinfo=zone, fold=0).astimezone(UTC)

        def second_pass(start: datetime, end: datetime) -> Iterator[datetime]:
            if wildcard:
                for wall in self._walls_until(start, end):
                    yield wall.replace(tzinfo=zone, fold=1).astimezone(UTC)

        if _offset(cursor, zone, 0) > _offset(cursor, zone, 1):  # `after` is in a repeat
            start, end = self._repeated_period(cursor)
            if local.fold == 0:
                yield from first_pass(cursor, end)
                yield from second_pass(start - _ONE_SECOND, end)
            else:
                yield from second_pass(cursor, end)
            cursor = end - _ONE_SECOND
        while True:
            wall = self._next_wall(cursor)
            before, later = _offset(wall, zone, 0), _offset(wall, zone, 1)
            if before == later:
                yield wall.replace(tzinfo=zone).astimezone(UTC)
                cursor = wall
            elif before < later:  # does not exist: spring-forward gap
                if not wildcard:
                    yield _transition(
                        wall.replace(tzinfo=zone, fold=1).astimezone(UTC),
                        wall.replace(tzinfo=zone, fold=0).astimezone(UTC),
                        zone,
                    )
                cursor = wall
            else:  # first wall time inside a repeated (fall-back) period
                start, end = self._repeated_period(wall)
                yield wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
                yield from first_pass(wall, end)
                yield from second_pass(start - _ONE_SECOND, end)
                cursor = end - _ONE_SECOND

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Endless strictly increasing UTC fire times, all strictly after ``after``."""
        _require_aware(after, "after")
        last = after.astimezone(UTC)
        for instant in self._instants(last):
            if instant > last:
                last = instant
                yield instant

    def next_after(self, after: datetime) -> datetime:
        """The first fire time strictly after ``after`` (aware), in UTC."""
        return next(self.iter_after(after))

    def next_n(self, after: datetime, n: int) -> list[datetime]:
        """The next ``n`` fire times strictly after ``after``, in UTC, increasing."""
        if n < 0:
            raise ValueError("n must be >= 0")
        times = self.iter_after(after)
        return [next(times) for _ in range(n)]


# ----------------------------------------------------------------------------- shared work


@lru_cache(maxsize=4096)
def get_schedule(expr: str, timezone: str) -> CronSchedule:
    """The shared, compiled schedule for (expr, timezone); raises ValueError if invalid."""
    return CronSchedule(expr, timezone)


@lru_cache(maxsize=65536)
def _next_fire_time_utc(expr: str, timezone: str, after: datetime) -> datetime:
    return get_schedule(expr, timezone).next_after(after)


def next_fire_time(expr: str, timezone: str, after: datetime) -> datetime:
    """Memoised ``get_schedule(expr, timezone).next_after(after)``: UTC, strictly after.

    Agents sharing an expression, zone and ``after`` (typically the current
    minute) share one computation. Raises ValueError for an invalid
    expression or zone, TypeError/ValueError for a naive ``after``.
    """
    _require_aware(after, "after")
    return _next_fire_time_utc(expr, timezone, after.astimezone(UTC))


def slots_between(
    expr: str, timezone: str, start: datetime, end: datetime, limit: int = 100
) -> tuple[int, datetime | None]:
    """Fire times in ``(start, end]``: ``(count, latest)``; used to detect missed fires.

    ``latest`` is always exact: the last fire time ``<= end`` and ``> start``
    (UTC), or None when there is none. ``count`` is exact when it is below
    ``limit``; when it equals ``limit`` it means "``limit`` or more" (the
    enumeration stops there, so a minutely schedule over a 30-day outage costs
    ``limit`` steps, not 43,200).
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    if limit < 1:
        raise ValueError("limit must be >= 1")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0, None
    schedule = get_schedule(expr, timezone)
    count = 0
    latest: datetime | None = None
    for instant in schedule.iter_after(start):
        if instant > end:
            return count, latest
        count += 1
        latest = instant
        if count >= limit:
            break
    # Capped: find the latest fire <= end with windows growing back from `end`.
    assert latest is not None
    window = timedelta(minutes=2)
    while True:
        lower = max(end - window, latest)
        found: datetime | None = None
        for instant in schedule.iter_after(lower):
            if instant > end:
                break
            found = instant
        if found is not None or lower == latest:
            return count, found if found is not None else latest
        window *= 2


def _clear_caches() -> None:
    """For tests and benchmarks."""
    _next_fire_time_utc.cache_clear()
    get_schedule.cache_clear()
    _parse_cached.cache_clear()
