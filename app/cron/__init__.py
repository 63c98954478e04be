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

Modules: ``parsing`` (syntax and strict validation), ``zones`` (time zone
names), ``describe`` (plain English), ``schedule`` (fire times, DST).
"""

from app.cron.describe import describe_schedule
from app.cron.parsing import ALIASES, CronError, validate_schedule
from app.cron.schedule import (
    CronSchedule,
    _clear_caches,
    _next_fire_time_utc,
    get_schedule,
    next_fire_time,
    slots_between,
)
from app.cron.zones import timezone_names, validate_timezone

__all__ = [
    "ALIASES",
    "CronError",
    "CronSchedule",
    "_clear_caches",
    "_next_fire_time_utc",
    "describe_schedule",
    "get_schedule",
    "next_fire_time",
    "slots_between",
    "timezone_names",
    "validate_schedule",
    "validate_timezone",
]
