"""A run's transcript on its way to the database: numbered, published at once, written in batches.

Each SDK message of a run becomes an event with the next ``seq`` and the time
it came; the runner publishes it on the bus at once, and :class:`Transcript`
writes the events to storage at most every :data:`EVENT_FLUSH_SECONDS` or
every :data:`EVENT_FLUSH_BATCH` events, so a chatty run costs a few
transactions, not one per message.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.timeutil import iso, now_ms
from storage.interface import Storage

EVENT_FLUSH_SECONDS = 0.2
EVENT_FLUSH_BATCH = 200


class Transcript:
    """The events of one run not yet written."""

    def __init__(self, run_id: str, store: Storage) -> None:
        self.run_id = run_id
        self.store = store
        self.seq = 0
        self.pending: list[tuple[int, int, str, str]] = []
        self._flusher: asyncio.TimerHandle | None = None

    def add(self, event: dict[str, Any]) -> dict[str, Any]:
        """Number and keep an event; what to publish (``seq``, ``at`` and the event's fields)."""
        self.seq += 1
        at = now_ms()
        event_type = str(event.get("type", "unknown"))
        data = {k: v for k, v in event.items() if k != "type"}
        self.pending.append((self.seq, at, event_type, json.dumps(data, default=str)))
        if len(self.pending) >= EVENT_FLUSH_BATCH:
            self._schedule(0)
        elif self._flusher is None:
            self._schedule(EVENT_FLUSH_SECONDS)
        return {"seq": self.seq, "at": iso(at), **event}

    def _schedule(self, delay: float) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        loop = asyncio.get_running_loop()
        self._flusher = loop.call_later(delay, lambda: asyncio.ensure_future(self.flush()))

    async def flush(self) -> None:
        """Write what is pending (at the run's end, and on the batching timer)."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        batch, self.pending = self.pending, []
        if batch:
            await self.store.runs.add_events(self.run_id, batch)
