"""This server's lease in the shared database, and the end of runs whose server is gone.

Each server has an id and a row in ``servers`` with a lease it renews every
``renew_seconds`` (default 10 s) for ``lease_seconds`` (default 30 s). Runs
belong to a server by that id, never by process id (a process id is reused,
in containers at once). On every renewal, and at start, a server:

* ends the leases of servers on this host whose process is gone (a quick
  answer after a crash; a live process with that pid proves nothing, so
  such a lease simply runs out);
* kills any process on this host that carries this database's run marker
  but no live server's id (a run's processes die with their server through
  their supervisor; this is the backstop, e.g. for a server that froze);
* records every queued or running run whose owner holds no live lease as
  ``error`` ":data:`~app.runner.INTERRUPTED`" - within
  ``lease_seconds + renew_seconds`` (40 s by default) of its server's death;
* lets its runner act on cancel requests and stop runs others ended
  (:meth:`app.runner.Runner.reconcile`);
* forgets long-dead servers and old change-feed entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from app.events import EventBus
from app.processes import sweep_leftovers
from app.runner import INTERRUPTED, Runner
from app.service import run_json
from app.timeutil import now_ms
from storage.interface import DayOf, RunOutcome, Storage

log = logging.getLogger("cronagents.lease")

LEASE_SECONDS = 30.0
RENEW_SECONDS = 10.0
FORGET_SERVERS_AFTER_MS = 24 * 3_600_000
KEEP_CHANGES_MS = 3_600_000
HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ServerLease:
    """Registers this server, renews its lease, and ends the runs of dead servers."""

    def __init__(
        self,
        runner: Runner,
        store: Storage,
        bus: EventBus,
        day_of: DayOf,
        server_id: str,
        *,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
    ) -> None:
        if renew_seconds >= lease_seconds:
            raise ValueError("the lease must outlast the renewal interval")
        self.day_of = day_of
        self.store = store
        self.bus = bus
        self.runner = runner
        self.server_id = server_id
        self.lease_ms = int(lease_seconds * 1000)
        self.renew_seconds = renew_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.leases.register(self.server_id, HOST, os.getpid(), now_ms(), self.lease_ms)
        await self.end_orphaned_runs()
        self._task = asyncio.create_task(self._loop(), name="cronagents-lease")

    async def stop(self) -> None:
        """Stop renewing and give the lease up (call once this server's runs are recorded)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.leases.remove(self.server_id)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.renew_seconds)
            try:
                await self.renew()
            except Exception:
                log.exception("lease: renewal failed; trying again in %.0f s", self.renew_seconds)

    async def renew(self) -> None:
        now = now_ms()
        if not await self.store.leases.renew(self.server_id, now, self.lease_ms):
            log.warning("lease: this server was taken for dead (its lease had lapsed); registering again")
            await self.store.leases.register(self.server_id, HOST, os.getpid(), now, self.lease_ms)
        await self.end_orphaned_runs()
        await self.runner.reconcile()
        await self.store.leases.remove_expired(now, FORGET_SERVERS_AFTER_MS)
        await self.store.changes.prune(now - KEEP_CHANGES_MS)

    async def end_orphaned_runs(self) -> list[str]:
        """Record the active runs of servers without a live lease as interrupted."""
        now = now_ms()
        servers = await self.store.leases.all()
        gone = [
            s["id"]
            for s in servers
            if s["host"] == HOST
            and s["id"] != self.server_id
            and s["lease_expires_at"] > now
            and not pid_alive(s["pid"])
        ]
        if gone:
            await self.store.leases.expire(gone)
        live = await self.store.leases.live_ids(now)
        live.add(self.server_id)
        # Retries waiting for their time are not interrupted runs: this server takes them over.
        for row in await self.store.runs.adopt_retries(live, self.server_id):
            await self.runner.enqueue_retry(row)
        killed = await asyncio.to_thread(sweep_leftovers, self.runner.db_id, live)
        if killed:
            log.warning("ended %d leftover process(es) of runs of stopped servers", len(killed))
        orphans = await self.store.runs.orphaned(live)
        if not orphans:
            await self.runner.settle_pending()
            return []
        ended = await self.store.runs.finish_many(
            [r["id"] for r in orphans],
            RunOutcome("error", INTERRUPTED, now),
            self.day_of,
        )
        if ended:
            log.warning(
                "%d run(s) of stopped servers recorded as interrupted: %s",
                len(ended),
                ", ".join(sorted({str(r["owner"]) for r in orphans})),
            )
            for row in ended:
                self.bus.publish("run.finished", agentId=row["agent_id"], runId=row["id"], run=run_json(row))
        await self.runner.settle_pending()  # interrupted runs are retried and alerted like any other
        return [r["id"] for r in ended]
