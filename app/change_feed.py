"""Following what other processes sharing the database changed.

Another server (or any process) that edits an agent or asks for a run to be
cancelled appends an entry to the database's change feed in the same
transaction (:mod:`storage.changes`). This server notices a commit by another
connection within :data:`POLL_SECONDS` (SQLite's ``data_version``, one cheap
pragma), reads the new entries, and acts on those of other origins: an agent
edit re-plans the scheduler and reaches this server's event stream as if it
were made here; a cancel request for a run of ours cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from storage.interface import Storage

if TYPE_CHECKING:
    from app.runner import Runner
    from app.service import AgentService

log = logging.getLogger("cronagents.changes")

POLL_SECONDS = 0.25
AGENT_KINDS = {"agent.created": "created", "agent.updated": "updated", "agent.deleted": "deleted"}


class ChangeFeed:
    def __init__(self, service: AgentService, runner: Runner, store: Storage) -> None:
        self.service = service
        self.store = store
        self.runner = runner
        self._seq = 0
        self._task: asyncio.Task[None] | None = None
        self._cancels: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        # The generation first: a change committed after it is either in the
        # last sequence number read next (and in the state loaded after this)
        # or bumps the generation the loop compares against.
        generation = self.store.generation
        self._seq = await self.store.changes.last_seq()
        self._task = asyncio.create_task(self._loop(generation), name="cronagents-change-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        for t in [task, *self._cancels]:
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    async def _loop(self, generation: int) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                current = await self.store.refresh_generation()
                if current != generation:
                    generation = current
                    await self.follow()
            except Exception:
                log.exception("change feed: could not read the changes of other processes")

    async def follow(self) -> None:
        """Act on every entry of another origin appended since the last call."""
        while rows := await self.store.changes.after(self._seq):
            self._seq = rows[-1]["seq"]
            agents: dict[str, str] = {}
            cancels: dict[str, str] = {}
            for row in rows:
                if row["origin"] == self.store.origin:
                    continue
                if row["kind"] in AGENT_KINDS:
                    agents[row["agent_id"]] = AGENT_KINDS[row["kind"]]
                elif row["kind"] == "run.cancel":
                    cancels[row["run_id"]] = row["reason"] or "cancelled"
            for agent_id, kind in agents.items():
                await self.service.apply_remote_change(kind, agent_id)
            if cancels:
                # Not awaited here: a cancel waits for the run to be recorded.
                task = asyncio.create_task(self.runner.cancel_requested(cancels))
                self._cancels.add(task)
                task.add_done_callback(self._cancels.discard)
