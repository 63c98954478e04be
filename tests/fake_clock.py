"""A clock for scheduler tests: time moves only when the test says so."""

from __future__ import annotations

import asyncio
import heapq


class FakeClock:
    """A clock for tests: time moves only when :meth:`set` or :meth:`advance` says so."""

    def __init__(self, now_ms: int) -> None:
        self._now = now_ms
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = 0

    def now_ms(self) -> int:
        return self._now

    async def sleep_until(self, ms: int) -> None:
        if ms <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (ms, self._seq, future))
        await future

    def set(self, ms: int) -> None:
        """Jump to ``ms`` (never backwards) and wake the sleepers that are due."""
        if ms < self._now:
            raise ValueError("a FakeClock never goes backwards")
        self._now = ms
        while self._sleepers and self._sleepers[0][0] <= ms:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def advance(self, ms: int) -> None:
        self.set(self._now + ms)
