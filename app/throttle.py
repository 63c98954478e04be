"""Throttling of failed attempts per client address, in bounded memory.

A fixed window per address: the first ``limit`` failures in ``window``
seconds are answered normally, later ones are refused until the window ends.
At most ``max_addresses`` addresses are tracked; past that the one idle the
longest is forgotten, so a flood of addresses costs a fixed amount of memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FAILURE_LIMIT = 20
WINDOW_SECONDS = 10.0
MAX_ADDRESSES = 10_000


@dataclass(slots=True)
class _Window:
    start: float
    failures: int


class FailureThrottle:
    def __init__(
        self,
        limit: int = FAILURE_LIMIT,
        window: float = WINDOW_SECONDS,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self._clock = clock
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def __len__(self) -> int:
        return len(self._windows)

    def failed(self, address: str) -> int:
        """Record a failure; 0 while under the limit, else the seconds to wait (at least 1)."""
        now = self._clock()
        entry = self._windows.get(address)
        if entry is None or now - entry.start >= self.window:
            entry = _Window(now, 0)
            self._windows[address] = entry
            if len(self._windows) > self.max_addresses:
                self._windows.popitem(last=False)
        self._windows.move_to_end(address)
        entry.failures += 1
        if entry.failures <= self.limit:
            return 0
        return max(1, math.ceil(entry.start + self.window - now))
