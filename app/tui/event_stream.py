"""The dashboard's one reader of ``GET /api/events``, run as the app's exclusive ``events`` worker.

Each server event becomes a typed message (:mod:`app.tui.messages`) handed to
``deliver``, which posts a copy to every open dashboard screen. When the stream
drops, :class:`ConnectionLost` says why and when the next attempt is (exponential
backoff); when it opens again, :class:`ConnectionRestored` tells the screens to
re-read what they show if events may have been missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial

from app.client import ApiError, DashboardClient
from app.tui.messages import ConnectionLost, ConnectionRestored, ServerMessage, server_message

RECONNECT_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
FELL_BEHIND = "fell behind the event stream"

Deliver = Callable[[Callable[[], ServerMessage | None]], None]
"""Posts the message the factory makes to each open screen (one message per screen)."""


class EventStream:
    """Follows the stream forever; ``is_open`` while connected."""

    def __init__(
        self,
        client: DashboardClient,
        deliver: Deliver,
        reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
    ) -> None:
        self._client = client
        self._deliver = deliver
        self._delays = tuple(reconnect_delays) or RECONNECT_DELAYS
        self.is_open = False
        """True while the stream is connected."""

    async def follow(self) -> None:
        """Read the stream; reconnect with backoff and announce each loss and return."""
        attempt = 0
        had_gap = False
        while True:
            reason = "the event stream ended"
            try:
                async for event in self._client.events():
                    kind = event.get("type")
                    if kind == "stream.open":
                        self.is_open = True
                        attempt = 0
                        self._deliver(partial(ConnectionRestored, had_gap))
                        had_gap = True
                        continue
                    if kind == "overflow":
                        reason = FELL_BEHIND
                        break
                    self._deliver(partial(server_message, event))
            except ApiError as exc:
                reason = exc.message
            self.is_open = False
            delay = self._delays[min(attempt, len(self._delays) - 1)]
            attempt += 1
            if reason == FELL_BEHIND:
                delay = 0.0  # at once, quietly: the reload on return covers what was missed
            else:
                self._deliver(partial(ConnectionLost, reason, delay, attempt))
            await asyncio.sleep(delay)
