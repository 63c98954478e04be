"""Tests for app.cron: validation, descriptions, UTC/DST fire times, shared work.

Every expected instant below was worked out by hand from the zone rules:

* America/New_York: EST = UTC-5, EDT = UTC-4. 2026-03-08 02:00 EST (07:00Z)
  jumps to 03:00 EDT, so local 02:00-02:59 does not exist. 2026-11-01
  02:00 EDT (06:00Z) falls back to 01:00 EST, so local 01:00-01:59 happens
  twice: 05:00-05:59Z (EDT) and 06:00-06:59Z (EST).
* Australia/Lord_Howe: standard +10:30, daylight +11:00 (a 30-minute shift).
  2026-10-04 02:00 +10:30 (2026-10-03 15:30Z) jumps to 02:30 +11, so local
  02:00-02:29 does not exist. 2026-04-05 02:00 +11 (2026-04-04 15:00Z) falls
  back to 01:30 +10:30, so local 01:30-01:59 happens twice: 14:30-14:59Z
  (+11) and 15:00-15:29Z (+10:30).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from app import cron
from app.cron import (
    ALIASES,
    CronSchedule,
    describe_schedule,
    get_schedule,
    next_fire_time,
    slots_between,
    validate_schedule,
    validate_timezone,
)

NY = "America/New_York"
LH = "Australia/Lord_Howe"


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    cron._clear_caches()


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "expr",
    [
        "* * * * *",
        "0 9 * * *",
        "*/15 * * * *",
        "0-59/5 0-23/2 1-31/3 1-12/4 0-6/2",
        "5,10,15 1,2 3,4 5,6 0,1",
        "0 9 * * mon-fri",
        "0 9 * JAN-Mar SUN",
        "0 0 * * 7",
        "0 0 * * 5-7",
        "0 0 * * 0-7",
        "0 0 29 2 *",
        "0 0 31 2 1",  # day 31 never exists in Feb, but OR Monday fires
        "0 0 31 1-2 *",
        "  0   9\t* * *  ",
        "59 23 31 12 6",
        "*/60 * * * *",
        "0 0 * * */7",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
        "@Daily",
    ],
)
def test_valid_expressions(expr: str) -> None:
    assert validate_schedule(expr) is None


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty schedule"),
        ("   ", "empty schedule"),
        (
            "* * * * * *",
            "expected 5 fields (minute hour day-of-month month day-of-week), got 6",
        ),
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("0 0 1 1 * 2026", "got 6"),
        ("61 * * * *", "minute: 61 is out of range 0-59"),
        ("0 24 * * *", "hour: 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month: 0 is out of range 1-31"),
        ("0 0 32 * *", "day-of-month: 32 is out of range 1-31"),
        ("0 0 * 13 *", "month: 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
        ("*/0 * * * *", "minute: step 0 is out of range 1-60"),
        ("*/61 * * * *", "minute: step 61 is out of range 1-60"),
        ("5-1 * * * *", "minute: range 5-1 is reversed (start 5 > end 1)"),
        ("0 0 * * fri-mon", "day-of-week: range fri-mon is reversed"),
        ("5/15 * * * *", "minute: a step needs '*' or a range, e.g. 5-59/15 instead of 5/15"),
        ("0 0 L * *", "day-of-month: 'L' is not supported"),
        ("0 0 15W * *", "day-of-month: '15W' is not supported"),
        ("0 0 * * 1#2", "day-of-week: '1#2' is not supported"),
        ("0 0 * * 5L", "day-of-week: '5L' is not supported"),
        ("H * * * *", "minute: 'H' is not supported"),
        ("0 0 ? * *", "day-of-month: '?' is not supported"),
        ("0 0 * foo *", "month: 'foo' is not a number or month name (jan-dec)"),
        ("0 0 * * funday", "day-of-week: 'funday' is not a number or weekday name"),
        ("0 0 mon * *", "day-of-month: 'mon' is not a number"),
        ("a * * * *", "minute: 'a' is not a number"),
        ("1,,2 * * * *", "minute: empty list item"),
        ("1, * * * *", "minute: empty list item"),
        ("-5 * * * *", "minute: empty value"),
        ("*/ * * * *", "minute: missing step"),
        ("*/x * * * *", "minute: step 'x' is not a number"),
        ("1-2-3 * * * *", "minute: '2-3' is not a number"),
        ("\u0661 * * * *", "non-ASCII"),
        ("@reboot", "unknown alias '@reboot': use one of @hourly, @daily, @weekly, @monthly, @yearly"),
        ("@fortnightly", "unknown alias"),
        ("@", "unknown alias"),
        ("0 0 31 2 *", "never fires: day 31 does not exist in February"),
        ("0 0 30 2 *", "never fires: day 30 does not exist in February"),
        ("0 0 30,31 2 *", "never fires: none of the days 30,31 exist in February"),
        ("0 0 31 4,6 *", "never fires: day 31 does not exist in April or June"),
        ("0 0 31 2,4,6 *", "never fires: day 31 does not exist in February, April or June"),
        ("0 0 31 feb 0-7", "never fires"),  # 0-7 is every weekday: day-of-month decides
    ],
)
def test_invalid_expressions(expr: str, message: str) -> None:
    result = validate_schedule(expr)
    assert result is not None
    assert message in result
    assert "\n" not in result
    with pytest.raises(ValueError):
        CronSchedule(expr, "UTC")


def test_non_string_expression_is_rejected() -> None:
    assert validate_schedule(None) == "a cron expression must be text, not NoneType"  # type: ignore[arg-type]
    assert validate_schedule(5) is not None  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CronSchedule(None, "UTC")  # type: ignore[arg-type]


def test_aliases() -> None:
    assert ALIASES == {
        "@hourly": "0 * * * *",
        "@daily": "0 0 * * *",
        "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *",
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
        "@midnight": "0 0 * * *",
    }
    after = z(2026, 5, 13, 10, 30)  # a Wednesday
    assert next_fire_time("@hourly", "UTC", after) == z(2026, 5, 13, 11)
    assert next_fire_time("@daily", "UTC", after) == z(2026, 5, 14)
    assert next_fire_time("@weekly", "UTC", after) == z(2026, 5, 17)  # Sunday
    assert next_fire_time("@monthly", "UTC", after) == z(2026, 6, 1)
    # New York is UTC-4 in May: local midnight is 04:00Z.
    assert next_fire_time("@daily", NY, after) == z(2026, 5, 14, 4)


@pytest.mark.parametrize("alias", ["@yearly", "@annually", "@YEARLY"])
def test_yearly_aliases_fire_at_new_year_in_the_agent_zone(alias: str) -> None:
    """README documents @yearly/@annually: they fire at local midnight on January 1."""
    assert validate_schedule(alias) is None
    after = z(2026, 5, 13, 10, 30)
    assert next_fire_time(alias, "UTC", after) == z(2027, 1, 1)
    assert next_fire_time(alias, NY, after) == z(2027, 1, 1, 5)  # EST, UTC-5
    assert get_schedule(alias, "UTC").next_n(z(2026, 12, 31, 23, 59), 2) == [z(2027, 1, 1), z(2028, 1, 1)]


def test_midnight_alias_fires_every_local_midnight() -> None:
    assert validate_schedule("@midnight") is None
    after = z(2026, 5, 13, 10, 30)
    assert next_fire_time("@midnight", "UTC", after) == z(2026, 5, 14)
    assert next_fire_time("@midnight", NY, after) == z(2026, 5, 14, 4)


# --------------------------------------------------------------------------- time zones


@pytest.mark.parametrize("name", ["UTC", "Etc/UTC", "Europe/Paris", NY, LH, "Asia/Kolkata", "Etc/GMT+5"])
def test_valid_timezones(name: str) -> None:
    assert validate_timezone(name) is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty time zone"),
        ("   ", "empty time zone"),
        ("local", "not allowed"),
        ("localtime", "not allowed"),
        ("Factory", "not allowed"),
        ("posixrules", "not allowed"),
        ("/etc/localtime", "unknown time zone"),
        ("../../etc/passwd", "unknown time zone"),
        ("/usr/share/zoneinfo/UTC", "unknown time zone"),
        ("America", "unknown time zone"),
        ("Mars/Olympus_Mons", "unknown time zone"),
        ("Europe/Paris\x00", "unknown time zone"),
        ("america/new_york", "did you mean 'America/New_York'?"),
        (" UTC", "did you mean 'UTC'?"),
        ("x" * 500, "..."),
    ],
)
def test_invalid_timezones(name: str, message: str) -> None:
    result = validate_timezone(name)
    assert result is not None
    assert message in result
    assert len(result) < 200
    with pytest.raises(ValueError):
        CronSchedule("* * * * *", name)


@pytest.mark.parametrize("value", [None, 5, b"UTC", ZoneInfo("UTC")])
def test_non_string_timezones(value: object) -> None:
    result = validate_timezone(value)  # type: ignore[arg-type]
    assert result is not None and "must be text" in result


# --------------------------------------------------------------------------- descriptions


@pytest.mark.parametrize(
    ("expr", "description"),
    [
        ("0 9 * * *", "At 09:00"),
        ("30 14 * * *", "At 14:30"),
        ("* * * * *", "Every minute"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("@daily", "At 00:00"),
        ("@weekly", "At 00:00, only on Sunday"),
        ("@midnight", "At 00:00"),
        ("@yearly", "At 00:00, on day 1 of the month, only in January"),
        ("@annually", "At 00:00, on day 1 of the month, only in January"),
        ("0 9 * * mon-fri", "At 09:00, Monday through Friday"),
    ],
)
def test_describe(expr: str, description: str) -> None:
    assert describe_schedule(expr) == description


@pytest.mark.parametrize("expr", ["", "bogus", "61 * * * *", "@reboot", "0 0 31 2 *"])
def test_describe_falls_back_to_expression(expr: str) -> None:
    assert describe_schedule(expr) == expr


def test_describe_never_raises_on_non_strings() -> None:
    assert describe_schedule(None) == "None"  # type: ignore[arg-type]


# --------------------------------------------------------------------------- next times


def test_next_after_utc() -> None:
    schedule = CronSchedule("0 9 * * *", "UTC")
    assert schedule.next_after(z(2026, 1, 1)) == z(2026, 1, 1, 9)
    # strictly after: exactly on a fire time gives the next one
    assert schedule.next_after(z(2026, 1, 1, 9)) == z(2026, 1, 2, 9)
    # seconds and microseconds in `after`
    assert schedule.next_after(z(2026, 1, 1, 8, 59, 59)) == z(2026, 1, 1, 9)
    assert schedule.next_after(z(2026, 1, 1, 9).replace(microsecond=1)) == z(2026, 1, 2, 9)
    every = CronSchedule("* * * * *", "UTC")
    assert every.next_after(z(2026, 1, 1, 0, 0, 30)) == z(2026, 1, 1, 0, 1)
    assert every.next_after(z(2026, 12, 31, 23, 59)) == z(2027, 1, 1)


def test_results_are_utc_and_inputs_any_aware_zone() -> None:
    schedule = CronSchedule("0 9 * * *", "UTC")
    paris_morning = datetime(2026, 1, 1, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))  # 08:30Z
    result = schedule.next_after(paris_morning)
    assert result == z(2026, 1, 1, 9)
    assert result.tzinfo is UTC
    fixed = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=5)))  # 07:00Z
    assert schedule.next_after(fixed) == z(2026, 1, 1, 9)


def test_naive_datetimes_are_rejected() -> None:
    schedule = CronSchedule("0 9 * * *", "UTC")
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule.next_after(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_time("0 9 * * *", "UTC", datetime(2026, 1, 1))
    with pytest.raises(TypeError):
        schedule.next_after("2026-01-01")  # type: ignore[arg-type]


def test_next_after_in_non_utc_zones() -> None:
    # 09:00 in Paris in January (CET, +1) is 08:00Z; in July (CEST, +2) 07:00Z.
    paris = CronSchedule("0 9 * * *", "Europe/Paris")
    assert paris.next_after(z(2026, 1, 15)) == z(2026, 1, 15, 8)
    assert paris.next_after(z(2026, 7, 15)) == z(2026, 7, 15, 7)
    # Kolkata is +05:30: 09:00 local is 03:30Z.
    assert CronSchedule("0 9 * * *", "Asia/Kolkata").next_after(z(2026, 1, 1)) == z(2026, 1, 1, 3, 30)
    # Local date, not UTC date, decides the weekday: Monday 00:30 in Tokyo (+9)
    # is Sunday 15:30Z.
    tokyo = CronSchedule("30 0 * * mon", "Asia/Tokyo")
    assert tokyo.next_after(z(2026, 6, 1)) == z(2026, 6, 7, 15, 30)  # 2026-06-08 is a Monday


def test_day_of_month_or_day_of_week() -> None:
    # Both restricted: the 13th OR any Friday. 2026-02-06 is a Friday.
    schedule = CronSchedule("0 0 13 * 5", "UTC")
    assert schedule.next_n(z(2026, 2, 1), 4) == [
        z(2026, 2, 6),
        z(2026, 2, 13),  # a Friday and the 13th: once
        z(2026, 2, 20),
        z(2026, 2, 27),
    ]
    # Only day-of-month restricted (day-of-week '*'): just the 13th.
    assert CronSchedule("0 0 13 * *", "UTC").next_after(z(2026, 2, 14)) == z(2026, 3, 13)
    # Day-of-week 0-7 covers everything, so day-of-month alone decides.
    assert CronSchedule("0 0 13 * 0-7", "UTC").next_after(z(2026, 2, 14)) == z(2026, 3, 13)
    # Steps count as restrictions: day 1 OR any Sunday (7 = 0).
    assert CronSchedule("0 0 1 * 7", "UTC").next_n(z(2026, 2, 27), 3) == [
        z(2026, 3, 1),  # a Sunday and the 1st
        z(2026, 3, 8),
        z(2026, 3, 15),
    ]


def test_leap_day() -> None:
    schedule = CronSchedule("0 0 29 2 *", "UTC")
    assert schedule.next_n(z(2026, 1, 1), 2) == [z(2028, 2, 29), z(2032, 2, 29)]
    # 2100 is not a leap year: 2096 -> 2104
    assert schedule.next_after(z(2096, 3, 1)) == z(2104, 2, 29)


def test_next_n() -> None:
    schedule = CronSchedule("*/20 9 * * *", "UTC")
    assert schedule.next_n(z(2026, 1, 1, 9, 30), 4) == [
        z(2026, 1, 1, 9, 40),
        z(2026, 1, 2, 9, 0),
        z(2026, 1, 2, 9, 20),
        z(2026, 1, 2, 9, 40),
    ]
    assert schedule.next_n(z(2026, 1, 1), 0) == []
    with pytest.raises(ValueError):
        schedule.next_n(z(2026, 1, 1), -1)


# --------------------------------------------------------------------------- DST: New York


def test_ny_spring_forward_fixed_time_runs_once_after_the_jump() -> None:
    # 02:30 does not exist on 2026-03-08: fires at 03:00 EDT = 07:00Z.
    schedule = CronSchedule("30 2 * * *", NY)
    assert schedule.next_n(z(2026, 3, 7, 12), 3) == [
        z(2026, 3, 8, 7),
        z(2026, 3, 9, 6, 30),  # 02:30 EDT
        z(2026, 3, 10, 6, 30),
    ]
    # The day before: 02:30 EST = 07:30Z.
    assert schedule.next_after(z(2026, 3, 6, 12)) == z(2026, 3, 7, 7, 30)


def test_ny_spring_forward_several_skipped_times_collapse_into_one() -> None:
    schedule = CronSchedule("0,30 2 * * *", NY)
    assert schedule.next_n(z(2026, 3, 8), 2) == [z(2026, 3, 8, 7), z(2026, 3, 9, 6)]


def test_ny_spring_forward_frequent_schedules_skip_missing_times() -> None:
    # Every 15 minutes: 01:45 EST (06:45Z) then 03:00 EDT (07:00Z): steady in UTC.
    assert CronSchedule("*/15 * * * *", NY).next_n(z(2026, 3, 8, 6, 30), 3) == [
        z(2026, 3, 8, 6, 45),
        z(2026, 3, 8, 7),
        z(2026, 3, 8, 7, 15),
    ]
    # Hourly at :30: 01:30 EST (06:30Z), 02:30 missing, 03:30 EDT (07:30Z).
    assert CronSchedule("30 * * * *", NY).next_n(z(2026, 3, 8, 6), 2) == [
        z(2026, 3, 8, 6, 30),
        z(2026, 3, 8, 7, 30),
    ]
    # A wildcard schedule that only names the missing hour skips that day.
    assert CronSchedule("*/30 2 * * *", NY).next_n(z(2026, 3, 8), 2) == [
        z(2026, 3, 9, 6),  # 02:00 EDT
        z(2026, 3, 9, 6, 30),
    ]


def test_ny_fall_back_fixed_time_runs_once_at_first_occurrence() -> None:
    schedule = CronSchedule("30 1 * * *", NY)
    assert schedule.next_n(z(2026, 10, 31, 12), 3) == [
        z(2026, 11, 1, 5, 30),  # 01:30 EDT; the 01:30 EST repeat (06:30Z) is dropped
        z(2026, 11, 2, 6, 30),  # 01:30 EST
        z(2026, 11, 3, 6, 30),
    ]
    # From inside the repeated hour (second pass), the next run is tomorrow.
    assert schedule.next_after(z(2026, 11, 1, 6, 10)) == z(2026, 11, 2, 6, 30)
    # From the first pass, after the run: tomorrow as well.
    assert schedule.next_after(z(2026, 11, 1, 5, 40)) == z(2026, 11, 2, 6, 30)
    # Lists of fixed times: 01:00 and 01:30 EDT only.
    assert CronSchedule("0,30 1 * * *", NY).next_n(z(2026, 11, 1), 3) == [
        z(2026, 11, 1, 5),
        z(2026, 11, 1, 5, 30),
        z(2026, 11, 2, 6),
    ]


def test_ny_fall_back_frequent_schedules_run_in_both_passes() -> None:
    schedule = CronSchedule("*/15 * * * *", NY)
    start = z(2026, 11, 1, 4, 45)  # 00:45 EDT
    expected = [start + timedelta(minutes=15 * i) for i in range(1, 14)]  # to 03:00 EST
    assert schedule.next_n(start, 13) == expected
    # From inside the first pass and the second pass.
    assert schedule.next_after(z(2026, 11, 1, 5, 50)) == z(2026, 11, 1, 6)  # 01:00 EST
    assert schedule.next_after(z(2026, 11, 1, 6, 20)) == z(2026, 11, 1, 6, 30)  # 01:30 EST
    # Hourly at :30 also runs twice: 01:30 EDT (05:30Z) and 01:30 EST (06:30Z).
    assert CronSchedule("30 * * * *", NY).next_n(z(2026, 11, 1, 5), 3) == [
        z(2026, 11, 1, 5, 30),
        z(2026, 11, 1, 6, 30),
        z(2026, 11, 1, 7, 30),  # 02:30 EST
    ]
    # A star in the minute field makes a schedule wildcard even with a fixed hour.
    assert CronSchedule("*/30 1 * * *", NY).next_n(z(2026, 11, 1), 5) == [
        z(2026, 11, 1, 5),
        z(2026, 11, 1, 5, 30),
        z(2026, 11, 1, 6),
        z(2026, 11, 1, 6, 30),
        z(2026, 11, 2, 6),
    ]


# --------------------------------------------------------------------------- DST: Lord Howe


def test_lord_howe_transitions_are_as_assumed() -> None:
    tz = ZoneInfo(LH)
    assert z(2026, 4, 4, 14, 59).astimezone(tz).utcoffset() == timedelta(hours=11)
    assert z(2026, 4, 4, 15).astimezone(tz).utcoffset() == timedelta(hours=10, minutes=30)
    assert z(2026, 10, 3, 15, 29).astimezone(tz).utcoffset() == timedelta(hours=10, minutes=30)
    assert z(2026, 10, 3, 15, 30).astimezone(tz).utcoffset() == timedelta(hours=11)


def test_lord_howe_spring_forward_half_hour_gap() -> None:
    # 02:15 does not exist on 2026-10-04: fires at 02:30 +11 = 15:30Z on 10-03.
    schedule = CronSchedule("15 2 * * *", LH)
    assert schedule.next_n(z(2026, 10, 2, 12), 3) == [
        z(2026, 10, 2, 15, 45),  # 10-03 02:15 +10:30
        z(2026, 10, 3, 15, 30),  # 10-04, moved to the end of the gap
        z(2026, 10, 4, 15, 15),  # 10-05 02:15 +11
    ]
    # 02:15 (missing) and 02:30 (exists, = the jump instant) fire once together.
    assert CronSchedule("15,30 2 * * *", LH).next_n(z(2026, 10, 3, 12), 3) == [
        z(2026, 10, 3, 15, 30),
        z(2026, 10, 4, 15, 15),
        z(2026, 10, 4, 15, 30),
    ]
    # Wildcard: hourly at :00 skips 02:00 (missing); 01:00 +10:30 then 03:00 +11.
    assert CronSchedule("0 * * * *", LH).next_n(z(2026, 10, 3, 14), 2) == [
        z(2026, 10, 3, 14, 30),
        z(2026, 10, 3, 16),
    ]
    # Wildcard every 10 minutes: 01:50 +10:30 (15:20Z), then 02:30 +11 (15:30Z).
    assert CronSchedule("*/10 * * * *", LH).next_n(z(2026, 10, 3, 15, 15), 3) == [
        z(2026, 10, 3, 15, 20),
        z(2026, 10, 3, 15, 30),
        z(2026, 10, 3, 15, 40),
    ]


def test_lord_howe_fall_back_repeated_half_hour() -> None:
    # 01:45 happens at 14:45Z (+11) and 15:15Z (+10:30) on 04-04: first only.
    schedule = CronSchedule("45 1 * * *", LH)
    assert schedule.next_n(z(2026, 4, 4, 12), 2) == [
        z(2026, 4, 4, 14, 45),
        z(2026, 4, 5, 15, 15),  # 04-06 01:45 +10:30
    ]
    assert schedule.next_after(z(2026, 4, 4, 15)) == z(2026, 4, 5, 15, 15)
    # 01:15 is before the repeated half hour: happens once, at +11 (14:15Z).
    assert CronSchedule("15 1 * * *", LH).next_after(z(2026, 4, 4, 12)) == z(2026, 4, 4, 14, 15)
    # Wildcard every 15 minutes: steady in UTC through both passes.
    every = CronSchedule("*/15 * * * *", LH)
    start = z(2026, 4, 4, 14)  # 01:00 +11
    assert every.next_n(start, 8) == [start + timedelta(minutes=15 * i) for i in range(1, 9)]
    # Hourly at :45 runs in both passes: 14:45Z and 15:15Z, then 02:45 +10:30.
    assert CronSchedule("45 * * * *", LH).next_n(z(2026, 4, 4, 14), 3) == [
        z(2026, 4, 4, 14, 45),
        z(2026, 4, 4, 15, 15),
        z(2026, 4, 4, 16, 15),
    ]
    # Hourly at :00: 01:00 +11 (14:00Z); 02:00 +11 never shows; 02:00 +10:30 (15:30Z).
    assert CronSchedule("0 * * * *", LH).next_n(z(2026, 4, 4, 13, 30), 2) == [
        z(2026, 4, 4, 14),
        z(2026, 4, 4, 15, 30),
    ]


# --------------------------------------------------------------------------- shared work


def test_next_fire_time_is_memoised_and_shares_schedules() -> None:
    after = z(2026, 5, 1, 12, 0, 0)
    first = next_fire_time("*/5 * * * *", "Europe/Paris", after)
    assert first == z(2026, 5, 1, 12, 5)
    info = cron._next_fire_time_utc.cache_info()
    # Same instant expressed in another zone hits the same entry.
    same = after.astimezone(ZoneInfo("Asia/Tokyo"))
    assert next_fire_time("*/5 * * * *", "Europe/Paris", same) == first
    assert cron._next_fire_time_utc.cache_info().hits == info.hits + 1
    assert get_schedule("*/5 * * * *", "Europe/Paris") is get_schedule("*/5 * * * *", "Europe/Paris")
    with pytest.raises(ValueError, match="out of range"):
        next_fire_time("61 * * * *", "UTC", after)
    with pytest.raises(ValueError, match="unknown time zone"):
        next_fire_time("* * * * *", "Nowhere/Land", after)


def test_ten_thousand_agents_sharing_expressions_are_cheap() -> None:
    exprs = ["*/5 * * * *", "0 9 * * *", "@hourly", "30 2 * * *"]
    now = z(2026, 5, 1, 12)
    began = time.perf_counter()
    results = [next_fire_time(exprs[i % 4], NY, now) for i in range(10_000)]
    elapsed = time.perf_counter() - began
    assert cron._next_fire_time_utc.cache_info().misses == 4
    assert results[0] == z(2026, 5, 1, 12, 5)
    assert elapsed < 1.0


# --------------------------------------------------------------------------- slots_between


def test_slots_between_basic() -> None:
    # (start, end]: a fire exactly at start is excluded, one at end included.
    count, latest = slots_between("0 * * * *", "UTC", z(2026, 1, 1), z(2026, 1, 1, 5))
    assert (count, latest) == (5, z(2026, 1, 1, 5))
    assert slots_between("0 9 * * *", "UTC", z(2026, 1, 1, 9), z(2026, 1, 2, 8)) == (0, None)
    assert slots_between("0 9 * * *", "UTC", z(2026, 1, 1), z(2026, 1, 1)) == (0, None)
    assert slots_between("0 9 * * *", "UTC", z(2026, 1, 2), z(2026, 1, 1)) == (0, None)
    # Fixed time across New York's spring forward: 03-08's 02:30 runs at 07:00Z.
    assert slots_between("30 2 * * *", NY, z(2026, 3, 7, 12), z(2026, 3, 9, 12)) == (
        2,
        z(2026, 3, 9, 6, 30),
    )
    # Wildcard across the fall back: 01:00-02:00 local repeated, 4 fires per UTC hour.
    count, latest = slots_between("*/15 * * * *", NY, z(2026, 11, 1, 4), z(2026, 11, 1, 8))
    assert (count, latest) == (16, z(2026, 11, 1, 8))


def test_slots_between_capped_month_long_outage_is_fast() -> None:
    start, end = z(2026, 5, 1), z(2026, 5, 31, 0, 0, 30)
    began = time.perf_counter()
    count, latest = slots_between("* * * * *", "UTC", start, end, limit=100)
    assert time.perf_counter() - began < 0.5
    assert count == 100  # means "100 or more"
    assert latest == z(2026, 5, 31)
    # Exact below the limit.
    assert slots_between("0 0 * * *", "UTC", start, end, limit=100) == (30, z(2026, 5, 31))
    # Capped, with the latest fire long before `end`: day 1 only, every minute.
    count, latest = slots_between("* * 1 * *", "UTC", start, z(2026, 5, 30), limit=10)
    assert (count, latest) == (10, z(2026, 5, 1, 23, 59))
    with pytest.raises(ValueError):
        slots_between("* * * * *", "UTC", start, end, limit=0)


# --------------------------------------------------------------------------- properties


def _field(lo: int, hi: int) -> st.SearchStrategy[str]:
    number = st.integers(lo, hi)
    single = number.map(str)
    span = st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}")
    stepped = st.tuples(span, st.integers(1, hi - lo + 1)).map(lambda t: f"{t[0]}/{t[1]}")
    star_step = st.integers(1, hi - lo + 1).map(lambda s: f"*/{s}")
    item = st.one_of(single, span, stepped, star_step)
    return st.one_of(st.just("*"), item, st.lists(item, min_size=1, max_size=3).map(",".join))


EXPRESSIONS = st.tuples(_field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12), _field(0, 6)).map(
    " ".join
)

TRANSITIONS = [
    z(2026, 3, 8, 7),
    z(2026, 11, 1, 6),
    z(2026, 4, 4, 15),
    z(2026, 10, 3, 15, 30),
    z(2026, 3, 29, 1),  # Europe/London spring forward
    z(2026, 10, 25, 1),  # Europe/London fall back
]
ZONES = ["UTC", NY, LH, "Europe/London"]


def _oracle_next(schedule: CronSchedule, zone: ZoneInfo, after: datetime, limit: datetime) -> datetime | None:
    """Brute force, minute by minute in UTC, straight from the DST rules."""
    minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute <= limit:
        local = minute.astimezone(zone)
        previous = (minute - timedelta(minutes=1)).astimezone(zone)
        wall = local.replace(tzinfo=None)
        jump = local.utcoffset() - previous.utcoffset()  # type: ignore[operator]
        if jump > timedelta(0) and not schedule.is_wildcard:
            skipped = previous.replace(tzinfo=None) + timedelta(minutes=1)
            while skipped < wall:
                if schedule.matches_local(skipped):
                    return minute
                skipped += timedelta(minutes=1)
        repeat = local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()
        if schedule.matches_local(wall) and (schedule.is_wildcard or not repeat):
            return minute
        minute += timedelta(minutes=1)
    return None


@settings(max_examples=80, deadline=None, database=None)
@given(
    expr=EXPRESSIONS,
    zone_name=st.sampled_from(ZONES),
    base=st.sampled_from(TRANSITIONS),
    shift=st.integers(-36 * 60, 36 * 60),
    second=st.integers(0, 59),
)
def test_property_next_after(expr: str, zone_name: str, base: datetime, shift: int, second: int) -> None:
    if validate_schedule(expr) is not None:
        assert "never fires" in (validate_schedule(expr) or "")
        return
    schedule = CronSchedule(expr, zone_name)
    zone = ZoneInfo(zone_name)
    after = base + timedelta(minutes=shift, seconds=second)
    times = schedule.next_n(after, 4)
    previous = after
    for instant in times:
        assert instant.tzinfo is UTC
        assert instant > previous
        local = instant.astimezone(zone)
        if not schedule.matches_local(local):
            # only a fixed-time schedule moved out of a spring-forward gap
            assert not schedule.is_wildcard
            before = (instant - timedelta(minutes=1)).astimezone(zone)
            assert local.utcoffset() != before.utcoffset()
        previous = instant
    # Brute-force oracle over the next three days, for the first two fires.
    horizon = after + timedelta(days=3)
    cursor = after
    for instant in times[:2]:
        expected = _oracle_next(schedule, zone, cursor, horizon)
        if expected is None:
            assert instant > horizon
            break
        assert instant == expected
        cursor = instant
    if zone_name == "UTC":
        # croniter gets the canonical form: it reads a range like "5-5" as "*".
        reference = croniter(schedule.canonical, after).get_next(datetime)
        assert times[0] == reference


@settings(max_examples=100, deadline=None, database=None)
@given(
    expr=EXPRESSIONS,
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
)
def test_property_matches_local_agrees_with_croniter(expr: str, moment: datetime) -> None:
    if validate_schedule(expr) is not None:
        return
    wall = moment.replace(second=0, microsecond=0)
    schedule = CronSchedule(expr, "UTC")
    assert schedule.matches_local(wall) == croniter.match(schedule.canonical, wall)


def test_single_value_ranges_are_not_wildcards() -> None:
    # croniter 7 expands "N-N" to "*"; app.cron must not inherit that.
    assert CronSchedule("0 5-5 * * *", "UTC").next_n(z(2026, 1, 1), 2) == [
        z(2026, 1, 1, 5),
        z(2026, 1, 2, 5),
    ]
    assert CronSchedule("0 0 * * 1-1", "UTC").next_after(z(2026, 3, 8)) == z(2026, 3, 9)
