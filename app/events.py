"""An in-process event bus: the runner, scheduler and service publish, SSE clients subscribe.

Publishing never blocks and never waits for a slow subscriber: each
subscriber has a bounded queue, and one that falls too far behind is told so
(an ``overflow`` event) and dropped, so it can reconnect and re-read state.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

Event = dict[str, Any]

# Room for a whole fire instant of 10,000 agents (one agent.scheduled event each).
SUBSCRIBER_QUEUE_SIZE = 50_000


class Subscription:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.overflowed = False

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.queue.get()
            if event is None:
                return
            yield event

    async def get(self) -> Event | None:
        return await self.queue.get()


class EventBus:
    def __init__(self, queue_size: int = SUBSCRIBER_QUEUE_SIZE) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size
        self._ids = itertools.count(1)

    def publish(self, event_type: str, **data: Any) -> Event:
        event: Event = {"id": next(self._ids), "type": event_type, **data}
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(sub)
        return event

    def _drop(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)
        sub.overflowed = True
        # Make room for the closing marker: the consumer sees the overflow.
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait({"id": 0, "type": "overflow"})
        sub.queue.put_nowait(None)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription(self._queue_size)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def close(self) -> None:
        """End every subscription (server shutdown)."""
        for sub in list(self._subscribers):
            self._subscribers.discard(sub)
            try:
                sub.queue.put_nowait(None)
            except asyncio.QueueFull:
                self._drop(sub)
