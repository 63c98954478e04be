"""Run events of every node on every node's event stream (several nodes on one database).

Each node's runner publishes its runs' events (``run.queued``, ``run.started``,
``run.event``, ``run.finished``) on its own in-process bus. This forwards them
to the other nodes through the database (:meth:`Storage.broadcast`:
PostgreSQL ``NOTIFY``, in batches), and publishes theirs on this node's bus,
so an ``/api/events`` client attached to any node (``tui --remote``) sees the
runs of the whole cluster. Agent changes cross by the change feed already
(:mod:`app.change_feed`), so only run events travel here. Forwarded events
carry ``node`` (the id of the server whose run it is); events that came from
another node are never forwarded again. On SQLite, broadcasting does nothing.

A message is at most :data:`MAX_MESSAGE_BYTES` (``NOTIFY``'s limit is 8,000
bytes): a larger event (a long tool result) goes without its ``event`` body,
marked ``"truncated": true``; the run's transcript has it whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from app.events import Event, EventBus
from storage.interface import Storage

log = logging.getLogger("cronagents.cluster")

FORWARDED_PREFIX = "run."
MAX_MESSAGE_BYTES = 7_900
BATCH = 200


class ClusterEvents:
    def __init__(self, bus: EventBus, store: Storage, server_id: str) -> None:
        self.bus = bus
        self.store = store
        self.server_id = server_id
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if not self.store.shared_events:
            return
        self.store.on_broadcast(self._received)
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._forward(ready), name="cronagents-cluster-events")
        await ready.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _received(self, message: str) -> None:
        try:
            event: dict[str, Any] = json.loads(message)
        except ValueError:
            return
        if event.get("node") in (None, self.server_id):
            return
        event.pop("id", None)
        event_type = event.pop("type", "")
        if isinstance(event_type, str) and event_type.startswith(FORWARDED_PREFIX):
            self.bus.publish(event_type, **event)

    async def _forward(self, ready: asyncio.Event) -> None:
        while True:  # again after an overflow (a burst of more events than the bus holds)
            async with self.bus.subscribe() as sub:
                ready.set()
                while (event := await sub.get()) is not None:
                    batch = [event]
                    while len(batch) < BATCH and not sub.queue.empty():
                        more = sub.queue.get_nowait()
                        if more is None:
                            break
                        batch.append(more)
                    messages = [m for e in batch if (m := self._message(e)) is not None]
                    if messages:
                        try:
                            await self.store.broadcast(messages)
                        except Exception:
                            log.exception("could not tell the other nodes of %d event(s)", len(messages))
                if not sub.overflowed:
                    return  # the bus closed: the server is stopping

    def _message(self, event: Event) -> str | None:
        if not event["type"].startswith(FORWARDED_PREFIX) or "node" in event:
            return None
        message = json.dumps({**event, "node": self.server_id}, separators=(",", ":"))
        if len(message.encode()) > MAX_MESSAGE_BYTES:
            body = event.get("event")
            cut = {"seq": body.get("seq"), "type": body.get("type")} if isinstance(body, dict) else None
            slim = {k: v for k, v in event.items() if k not in ("event", "run")}
            message = json.dumps(
                {**slim, "event": cut, "truncated": True, "node": self.server_id}, separators=(",", ":")
            )
        return message
