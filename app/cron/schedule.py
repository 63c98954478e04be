"""Fire times of a schedule in its time zone, with explicit DST rules (see :class:`CronSchedule`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from croniter import croniter

from app.cron.parsing import CronError, _parse_cached
from app.cron.zones import _zone

_ONE_SECOND = timedelta(seconds=1)


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
