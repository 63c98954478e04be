"""Runs of agents: a queue under a global limit, one Claude Code session per run.

Every run goes through the same path, whether started by hand
(``POST /api/agents/:id/run``) or by the scheduler (a slot it claimed):

1. the run row exists with status ``queued`` (``run.queued`` on the bus);
2. it waits for one of ``max_concurrent`` slots, first come first served (and,
   when the settings' ``maxConcurrentRuns`` is set, for a slot of all the
   servers sharing the database together);
3. it becomes ``running`` (``run.started``) and its prompt runs through
   :func:`app.agent_session.run_session`; every SDK message becomes a run
   event, published at once (``run.event``) and written in small batches;
4. it ends ``success`` / ``error`` / ``budget_exceeded`` / ``cancelled`` with
   cost, tokens, turns and duration, in the same transaction as the agent's
   ``lastRunAt``/``lastStatus`` and the stats rollups (``run.finished``).

Every run belongs to this server (``owner``, the server's id, see
:mod:`app.lease`) from the moment its row exists. Runs of a server whose lease
expired are ended by any live server (``error``, :data:`INTERRUPTED`). A
cancel reaches runs of other live servers as a request in the database, which
their runner acts on (:meth:`Runner.cancel_requested`). On shutdown, running
runs are cancelled and recorded as ``cancelled`` before the database closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.agent_session import SessionResult, run_session
from app.auth import new_id
from app.clock import Clock, SystemClock
from app.errors import Unavailable
from app.events import EventBus
from app.model import Agent, agent_from_row, agent_json, run_json
from app.processes import DB_ID_ENV, SERVER_ID_ENV
from app.run_spec import RunSpecs
from app.secret_box import SecretBox
from app.settings import load_settings
from app.settle import Settler, runs_to_start
from app.start_checks import Skipped, StartChecks
from app.timeutil import now_ms
from app.transcript import Transcript
from storage.interface import DayOf, Row, RunOutcome, Storage

log = logging.getLogger("cronagents.runner")

INTERRUPTED = "interrupted: the server stopped during this run"
CANCELLED_BY_USER = "cancelled"
CANCELLED_BY_SHUTDOWN = "cancelled: the server stopped"
CANCEL_WAIT_SECONDS = 10.0
SHUTDOWN_WAIT_SECONDS = 15.0
REMOTE_CANCEL_POLL_SECONDS = 0.05
ACTIVE_STATUSES = ("queued", "running")
CLUSTER_WAIT_SECONDS = 0.25
"""How often a run held back by the cluster-wide limit tries again (a run ending anywhere frees a slot)."""
RECORDING_AT_ONCE = 8
"""Run ends recorded and settled at the same time. Each takes a few reads and writes; a thousand runs
ending together would otherwise queue thousands of reads ahead of every API request."""


class _Run:
    """One queued or running run in this process."""

    def __init__(
        self, run_id: str, agent_id: str, agent: Agent | None, store: Storage, not_before: int | None = None
    ) -> None:
        self.run_id = run_id
        self.agent_id = agent_id
        self.agent = agent  # None: read when the run starts (its settings then)
        self.not_before = not_before  # a retry waits until then
        self.waiting = not_before is not None
        self.task: asyncio.Task[None] | None = None
        self.cancel_reason: str | None = None
        self.started_at: int | None = None
        self.transcript = Transcript(run_id, store)


class Runner:
    """Starts, limits, cancels and records agent runs."""

    def __init__(
        self,
        store: Storage,
        bus: EventBus,
        day_of: DayOf,
        *,
        owner: str,
        max_concurrent: int = 4,
        agent_env: Mapping[str, str] | None = None,
        workspaces_dir: Path,
        settler: Settler,
        checks: StartChecks,
        clock: Clock | None = None,
        secrets: SecretBox | None = None,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.day_of = day_of
        self.owner = owner
        self.db_id = ""  # the database's id (see start())
        self.store = store
        self.bus = bus
        self.max_concurrent = max_concurrent
        self.agent_env = dict(agent_env or {})
        self.workspaces_dir = workspaces_dir
        self.settler = settler
        self.checks = checks
        self.clock: Clock = clock or SystemClock()
        self.specs = RunSpecs(
            store, self.clock, agent_env=self.agent_env, workspaces_dir=workspaces_dir, secrets=secrets
        )
        self._slots = asyncio.Semaphore(max_concurrent)
        self._recording = asyncio.Semaphore(RECORDING_AT_ONCE)
        self._runs: dict[str, _Run] = {}
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        """Learn the database's id, which every run's processes carry."""
        self.db_id = await self.store.database_id()

    async def stop(self) -> None:
        """Cancel every run and wait (bounded) until each is recorded ``cancelled``."""
        self._stopping = True
        runs = list(self._runs.values())
        if runs:
            log.info("stopping: cancelling %d run(s)", len(runs))
        await self._cancel(runs, CANCELLED_BY_SHUTDOWN, SHUTDOWN_WAIT_SECONDS)

    # -- what the service and scheduler call --------------------------------

    async def start_manual(self, agent: Agent, run_input: str | None = None) -> str:
        """Queue a run of ``agent`` now, given ``run_input`` (its prompt's ``{{input}}``); its id at once."""
        self.refuse_when_stopping()
        run_id = new_id("run")
        await self.store.runs.insert(run_id, agent.id, "queued", now_ms(), owner=self.owner, input=run_input)
        await self._enqueue(run_id, agent.id, agent)
        return run_id

    async def enqueue_claimed(self, agent_id: str, run_id: str) -> None:
        """Queue a run of ours whose row already exists with status ``queued`` (a claimed slot).

        The agent's settings are read when the run starts, so a run queued
        behind others uses the agent as it is then.
        """
        await self._enqueue(run_id, agent_id, None)

    async def enqueue_retry(self, row: Row) -> None:
        """Queue a retry of ours (its row exists, ``queued``); it waits until its ``not_before``."""
        if row["id"] not in self._runs:
            await self._enqueue(row["id"], row["agent_id"], None, row["not_before"])

    async def _enqueue(
        self, run_id: str, agent_id: str, agent: Agent | None, not_before: int | None = None
    ) -> None:
        self.refuse_when_stopping()
        row = await self.store.runs.get(run_id)
        self.refuse_when_stopping()
        # Registered and started with no await in between, so a cancel always
        # finds the run together with its task.
        run = _Run(run_id, agent_id, agent, self.store, not_before)
        self._runs[run_id] = run
        run.task = asyncio.create_task(self._execute(run), name=f"run-{run_id}")
        self._publish("run.queued", run, run=run_json(row) if row else None)

    async def cancel_agent_runs(self, agent_id: str, reason: str = CANCELLED_BY_USER) -> int:
        """Cancel the agent's queued and running runs, this server's and any other's.

        Returns how many, once all are recorded (waiting at most
        ``CANCEL_WAIT_SECONDS`` for other servers to act on the request).
        Runs of ours are cancelled here; runs of another live server get a
        cancel request in the database; runs nobody runs any more (their
        owner's lease expired, or slots claimed but never handed over) are
        recorded ``cancelled`` at once.
        """
        local = [r for r in self._runs.values() if r.agent_id == agent_id]
        rows = await self.store.runs.active(agent_id)
        others = [row for row in rows if row["id"] not in self._runs]
        live = await self.store.leases.live_ids(now_ms()) if others else set()
        remote = [row["id"] for row in others if row["owner"] in live and row["owner"] != self.owner]
        unowned = [row["id"] for row in others if row["id"] not in remote]
        ended = await self.store.runs.finish_many(
            unowned, RunOutcome("cancelled", reason, now_ms()), self.day_of
        )
        requested = await self.store.runs.request_cancel(remote, reason)
        await asyncio.gather(self._cancel(local, reason, CANCEL_WAIT_SECONDS), self._await_final(requested))
        for row in ended:
            self.bus.publish("run.finished", agentId=row["agent_id"], runId=row["id"], run=run_json(row))
        return len(local) + len(ended) + len(requested)

    async def cancel_requested(self, requests: Mapping[str, str]) -> None:
        """Act on cancel requests ``{run_id: reason}`` that other servers recorded."""
        runs = [self._runs[r] for r in requests if r in self._runs]
        for run in runs:
            run.cancel_reason = run.cancel_reason or requests[run.run_id]
        if runs:
            log.info("cancelling %d run(s) on request of another server", len(runs))
            await self._cancel(runs, CANCELLED_BY_USER, CANCEL_WAIT_SECONDS)

    async def reconcile(self) -> None:
        """Match this runner to the database (called on each lease renewal).

        Acts on cancel requests it may have missed, and stops runs that are
        no longer active in the database (another server ended them while
        our lease had lapsed): nothing runs unsupervised.
        """
        requests = {r["id"]: r["cancel_requested"] for r in await self.store.runs.cancel_requests(self.owner)}
        if requests:
            await self.cancel_requested(requests)
        ids = list(self._runs)
        if not ids:
            return
        statuses = await self.store.runs.statuses(ids)
        ended = [self._runs[r] for r in ids if r in self._runs and statuses.get(r) not in ACTIVE_STATUSES]
        if ended:
            log.warning("stopping %d run(s) another server already ended", len(ended))
            await self._cancel(ended, INTERRUPTED, CANCEL_WAIT_SECONDS)

    async def _await_final(self, run_ids: list[str]) -> None:
        """Wait (bounded) until other servers recorded the end of these runs."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CANCEL_WAIT_SECONDS
        pending = list(run_ids)
        while pending and loop.time() < deadline:
            await asyncio.sleep(REMOTE_CANCEL_POLL_SECONDS)
            statuses = await self.store.runs.statuses(pending)
            pending = [r for r in pending if statuses.get(r) in ACTIVE_STATUSES]
        if pending:
            log.warning(
                "%d run(s) of other servers did not end within %.0f s of a cancel",
                len(pending),
                CANCEL_WAIT_SECONDS,
            )

    # -- internals ----------------------------------------------------------

    def refuse_when_stopping(self) -> None:
        """503 (:class:`Unavailable`) once the server has begun to stop."""
        if self._stopping:
            raise Unavailable("The server is shutting down")

    async def _cancel(self, runs: list[_Run], reason: str, wait: float) -> None:
        tasks = []
        for run in runs:
            if run.task is None or run.task.done():
                continue
            run.cancel_reason = run.cancel_reason or reason
            run.task.cancel()
            tasks.append(run.task)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=wait)
            if pending:
                log.error("%d run(s) did not stop within %.0f s", len(pending), wait)

    async def _execute(self, run: _Run) -> None:
        outcome: RunOutcome | None = None
        skipped: str | None = None
        leave_queued = False
        try:
            if run.not_before is not None:
                await self.clock.sleep_until(run.not_before)
            run.waiting = False
            async with self._slots:
                outcome = await self._session(run)
        except Skipped as skip:
            skipped = skip.reason
        except asyncio.CancelledError:
            if run.waiting and self._stopping:
                # A retry still waiting for its time: left queued for the next server to take over.
                leave_queued = True
            outcome = RunOutcome("cancelled", run.cancel_reason or CANCELLED_BY_USER, now_ms())
        except Exception as exc:
            log.exception("run %s failed", run.run_id)
            outcome = RunOutcome("error", f"run failed: {type(exc).__name__}: {exc}", now_ms())
        finally:
            if leave_queued:
                self._runs.pop(run.run_id, None)
                return  # noqa: B012 - nothing to record: the run never started
            # Record the end even while being cancelled a second time (shutdown).
            if outcome is None and skipped is None:
                outcome = RunOutcome("cancelled", run.cancel_reason or CANCELLED_BY_USER, now_ms())
            if skipped is not None:
                record = asyncio.ensure_future(self._record_skip(run, skipped))
            else:
                assert outcome is not None
                record = asyncio.ensure_future(self._record_end(run, outcome))
            try:
                await asyncio.shield(record)
            except asyncio.CancelledError:
                await record
            finally:
                self._runs.pop(run.run_id, None)

    async def _session(self, run: _Run) -> RunOutcome:
        agent = run.agent
        if agent is None:
            agent_row = await self.store.agents.get(run.agent_id)
            if agent_row is None:
                raise asyncio.CancelledError  # deleted meanwhile (its runs went with it)
            agent = agent_from_row(agent_row)
        queued = await self.store.runs.get(run.run_id)
        if queued is None or queued["status"] != "queued":
            raise asyncio.CancelledError  # ended while queued (a cancel, or its agent deleted)
        verdict = await self.checks.before_start(agent, queued)
        run.started_at = await self._mark_running(run)
        row = await self.store.runs.get(run.run_id)
        self._publish("run.started", run, run=run_json(row) if row else None)
        spec = await self.specs.spec(
            agent,
            queued,
            max_budget_usd=verdict.max_budget_usd,
            # Every process of the run says whose it is, so leftovers can be found.
            labels={DB_ID_ENV: self.db_id, SERVER_ID_ENV: self.owner},
        )
        log.info("run %s of agent %s started", run.run_id, run.agent_id)

        async def on_event(event: dict[str, Any]) -> None:
            self._publish("run.event", run, event=run.transcript.add(event))

        result: SessionResult = await run_session(spec, on_event)
        output = result.output
        if result.status == "error":
            output = await self.checks.usage_limit(agent, output)
        return RunOutcome(
            status=result.status,
            output=output,
            completed_at=now_ms(),
            cost_usd=result.cost_usd,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            num_turns=result.num_turns,
        )

    async def _mark_running(self, run: _Run) -> int:
        """Start the run (its start time), under the limit of runs at once over every server sharing
        the database (the settings' ``maxConcurrentRuns``) when one is set: while all its slots are
        taken the run stays queued, trying again every :data:`CLUSTER_WAIT_SECONDS`."""
        while True:
            started_at = now_ms()
            limit = (await load_settings(self.store)).max_concurrent_runs
            if limit is None:
                if await self.store.runs.mark_running(run.run_id, run.agent_id, started_at):
                    return started_at
                raise asyncio.CancelledError  # ended while queued (a cancel, or its agent deleted)
            outcome = await self.store.runs.start_within(run.run_id, run.agent_id, started_at, limit)
            if outcome == "started":
                return started_at
            if outcome == "gone":
                raise asyncio.CancelledError
            await asyncio.sleep(CLUSTER_WAIT_SECONDS)

    async def settle_pending(self) -> None:
        """Settle the ended runs nobody settled yet (their server died first; at start, on renewal)."""
        for run_id in await self.settler.pending():
            await self._settle(run_id)

    async def _settle(self, run_id: str) -> None:
        try:
            settlement = await self.settler.settle(run_id)
        except Exception:
            log.exception("run %s: could not settle its end; trying again later", run_id)
            return
        if settlement is None or self._stopping:
            return
        for chained in settlement.chained:  # recorded skipped (a loop, too deep): tell of them
            row = await self.store.runs.get(chained.run_id) if chained.skipped else None
            if row is not None:
                self.bus.publish("run.finished", agentId=row["agent_id"], runId=row["id"], run=run_json(row))
        for follow_up_id, agent_id, not_before in runs_to_start(settlement):
            try:
                await self._enqueue(follow_up_id, agent_id, None, not_before)
            except Unavailable:
                return  # stopping: queued runs are taken over by the next server

    async def _record_end(self, run: _Run, outcome: RunOutcome) -> None:
        async with self._recording:
            await self._record_end_now(run, outcome)

    async def _record_end_now(self, run: _Run, outcome: RunOutcome) -> None:
        await run.transcript.flush()
        row = await self.store.runs.finish(run.run_id, outcome, self.day_of)
        log.info("run %s of agent %s ended %s", run.run_id, run.agent_id, outcome.status)
        if row is None:
            row = await self.store.runs.get(run.run_id)
        self._publish("run.finished", run, run=run_json(row) if row else None)
        agent = await self.store.agents.get(run.agent_id)  # its lastRunAt/lastStatus changed
        if agent is not None:
            self.bus.publish("agent.updated", agentId=run.agent_id, agent=agent_json(agent))
        await self._settle(run.run_id)

    async def _record_skip(self, run: _Run, reason: str) -> None:
        """A queued run that did not start: recorded ``skipped`` with why."""
        row = await self.store.runs.skip(run.run_id, reason, now_ms(), self.day_of)
        log.info("run %s of agent %s skipped: %s", run.run_id, run.agent_id, reason)
        if row is None:
            row = await self.store.runs.get(run.run_id)
        self._publish("run.finished", run, run=run_json(row) if row else None)

    def _publish(self, event_type: str, current: _Run, **data: Any) -> None:
        self.bus.publish(event_type, agentId=current.agent_id, runId=current.run_id, **data)
