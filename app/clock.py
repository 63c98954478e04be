"""The wall clock, injected (scheduler, runner, alerts) so tests never wait for it.

The test double (``FakeClock``) lives with the tests (``tests/fake_clock.py``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

MAX_SLEEP_SECONDS = 60.0
"""Longest single sleep: the wall clock is re-read at least this often (clock jumps)."""


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time, ms since the epoch (UTC)."""

    async def sleep_until(self, ms: int) -> None:
        """Return as soon as possible once ``now_ms() >= ms`` (never before)."""


class SystemClock:
    """The real clock (``time.time``), optionally shifted by ``offset_ms``.

    A long ``asyncio.sleep`` wakes late by about 0.1% of its length (the
    kernel lets long poll timeouts slip), so this sleeps to a little short of
    the target, then sleeps the rest in short steps, and finally yields to the
    loop until the target has passed: it wakes within about a millisecond.
    """

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.offset_ms

    def _now(self) -> float:
        return time.time() + self.offset_ms / 1000

    async def sleep_until(self, ms: int) -> None:
        target = ms / 1000
        while True:
            remaining = target - self._now()
            if remaining <= 0:
                return
            if remaining > 0.003:
                # Aim short: the slack grows with the length of the sleep.
                margin = 0.002 + remaining * 0.003
                await asyncio.sleep(min(remaining - margin, MAX_SLEEP_SECONDS))
            else:
                await asyncio.sleep(0)  # the last few ms: yield until it is time
