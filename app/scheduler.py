"""The cron scheduler: one heap of fire instants, one timer, exactly-once claims.

How it works
------------

* Every enabled agent has a *plan*: its schedule, zone, policy and the next
  instant it fires (``next_ms``). Plans due at the same instant share a
  *bucket* (``{fire_ms: {agent_id: plan}}``); the heap holds the bucket
  instants. One timer task sleeps until the earliest instant, never polls.
  Re-planning an agent (create, update, enable, disable, delete through
  :class:`~app.service.AgentService`, which calls our listener synchronously)
  moves it between buckets in O(1) and wakes the timer when the earliest
  instant changed; emptied buckets are dropped lazily when they reach the top
  of the heap.
* Agents sharing ``(schedule, timezone)`` share the croniter work: after a
  fire the next instant is computed once per group, not once per agent.
* At a fire instant, for every due agent, by ``concurrencyPolicy``:
  ``forbid`` (default) records the slot as ``skipped`` when the agent still
  has a queued or running run (any process); ``allow`` runs it;
  ``replace`` cancels the agent's runs, then runs it. The runs of one
  instant are claimed in ONE transaction (unique agent + scheduled time, so a
  slot runs once even with two processes on one file); only runs whose claim
  succeeded are handed to the runner (``enqueue_claimed``), which starts them
  as global run slots free up. Then the new ``next_run_at`` of every fired
  agent is written in one transaction and an ``agent.scheduled`` event is
  published per agent.
* Large instants (at least ``claim_ahead_min`` agents, default 500) are
  claimed :data:`CLAIM_AHEAD_MS` before the slot: inserting 10,000 claim rows
  takes SQLite 40-80 ms here, too long for the instant itself. Those rows are
  ``queued`` runs with ``started_at`` = the slot. At the instant the usual
  rules apply: a row is handed over only if its agent is still planned for
  that instant unchanged, has no other queued or running run (unless
  ``allow``) and the row is still ``queued``; the other rows are deleted (the
  slot is free again) and those agents take the general path (``forbid``
  skip, ``replace`` cancel, new claim). ``stop()`` deletes claims not yet
  handed over. The instant's claim statement and the JSON it reads are built
  while idle, for every instant.
* Missed slots. At start-up, each enabled agent's *last known point* is the
  latest of (the ``scheduled_for`` of its newest slot row, any status, any
  process) and its ``updated_at`` (which is ``created_at`` for an agent never
  edited): slots before an edit belong to the old definition, or to a time the
  agent was disabled. Of the slots between that point and now, the latest
  runs once if it is at most ``startingDeadlineSeconds`` old (``null``: never
  catch up); the others are recorded as ONE ``skipped`` row ("missed while
  the server was down: N slots", at the latest-but-one slot, or at the latest
  slot when it is not run either). The same rule handles a running scheduler
  that wakes up late (machine suspended, loop blocked): a slot fired within
  :data:`ON_TIME_MS` of its time is simply on time; older ones are caught up
  within ``max(startingDeadlineSeconds, ON_TIME_MS)``.
  Counting stops at :data:`MISSED_COUNT_LIMIT` (a week of a minutely
  schedule); beyond that the reason says "at least N slots".

The clock is injected (:class:`SystemClock`, or :class:`FakeClock` in tests),
so tests never wait for real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from app.cron import get_schedule, next_fire_time, slots_between
from app.service import agent_json
from app.timeutil import from_datetime, iso, to_datetime
from storage import Database
from storage import agents as agent_store
from storage import runs as run_store

if TYPE_CHECKING:
    from app.service import AgentService

__all__ = [
    "Clock",
    "FakeClock",
    "RunStarter",
    "Scheduler",
    "SystemClock",
]

log = logging.getLogger("cronagents.scheduler")

OVERLAP_REASON = "skipped: the previous run was still running"
REPLACED_REASON = "cancelled: replaced by the next scheduled run"
DOWN_REASON = "missed while the server was down"
PAUSED_REASON = "missed while the scheduler was paused"
DEFAULT_DEADLINE_SECONDS = 3600
ON_TIME_MS = 60_000
"""A running scheduler that fires a slot at most this late fires it as on time."""
MISSED_COUNT_LIMIT = 10_080
"""Missed slots are counted exactly up to this many (7 days of ``* * * * *``)."""
CLAIM_AHEAD_MS = 500
"""How long before a large instant its slots are claimed (see :class:`Scheduler`)."""
CLAIM_AHEAD_MIN_AGENTS = 500
MAX_SLEEP_SECONDS = 60.0
"""Longest single sleep: the wall clock is re-read at least this often (clock jumps)."""


# ----------------------------------------------------------------------------- boundaries


class RunStarter(Protocol):
    """What the scheduler needs from the runner."""

    owner: str
    """The server id that owns the runs this runner starts (and the slots it claims)."""

    async def enqueue_claimed(self, agent: dict[str, Any], run_id: str) -> None:
        """Start (or queue) a run whose row already exists with status ``queued``."""

    async def cancel_agent_runs(self, agent_id: str, reason: str = "cancelled") -> int:
        """Cancel the agent's running and queued runs; return once they are recorded."""


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


# ----------------------------------------------------------------------------- plans


@dataclass(slots=True, eq=False)
class _Plan:
    """One enabled agent as the scheduler sees it (replaced, never edited, on re-plan)."""

    agent_id: str
    expr: str
    tz: str
    policy: str
    deadline_ms: int | None  # None: never catch up
    agent: dict[str, Any]
    next_ms: int | None = None


@dataclass(slots=True)
class _Due:
    """What to do for one agent at one fire batch."""

    plan: _Plan
    run_slot: int | None  # the slot to run, if any
    skip_slot: int | None = None  # one skipped row for the missed slots, if any
    skip_reason: str | None = None
    caught_up: bool = False  # run_slot is a missed slot run late


@dataclass(slots=True)
class _Prepared:
    """The claims of the next instant, built while idle (most instants use it as is)."""

    slot: int
    epoch: int  # Scheduler._epoch when built: any re-plan since makes it stale
    plans: list[_Plan]
    claims: list[tuple[str, str, int, str]]
    payload: str  # ``claims`` as JSON, for the claim statement
    index: dict[str, _Plan]
    first_next: int  # the earliest next instant of these agents after ``slot``
    preclaimed: set[str] | None = None  # run ids claimed ahead of the instant, if done
    ahead: bool = True  # False once claiming ahead failed: claim at the instant instead


# ----------------------------------------------------------------------------- storage
# Queries of the hot path; the claim itself is storage.runs.claim_slots_json.

async def _claim_json(db: Database, payload: str, started_at: int, owner: str) -> set[str]:
    return await run_store.claim_slots_json(db, payload, started_at, owner)


async def _running_agent_ids(db: Database, besides_slot: int | None = None) -> set[str]:
    """Agents with a queued or running run (any process), not counting slot ``besides_slot``.

    Same as ``storage.runs.running_agent_ids`` but written so SQLite uses the
    partial index ``runs_active`` (its ``IN`` list must match the index's, in
    order): that one scans every run ever recorded.
    """
    rows = await db.fetchall(
        "SELECT DISTINCT agent_id FROM runs WHERE status IN ('running', 'queued') AND scheduled_for IS NOT ?",
        (besides_slot,),
    )
    return {r[0] for r in rows}


async def _finished_slot_rows(db: Database, slot: int) -> set[str]:
    """Ids of the rows of ``slot`` (started at the slot, as claimed ahead) no longer queued."""
    rows = await db.fetchall(
        "SELECT id FROM runs WHERE started_at = ? AND scheduled_for = ? AND status != 'queued'",
        (slot, slot),
    )
    return {r[0] for r in rows}


async def _release_claims(db: Database, run_ids: list[str]) -> None:
    """Delete claimed rows that were never handed to the runner (the slot is free again)."""
    if run_ids:
        async with db.write() as conn:
            await conn.execute(
                "DELETE FROM runs WHERE status = 'queued' AND id IN (SELECT value FROM json_each(?))",
                (json.dumps(run_ids),),
            )


async def _store_next_run_times(db: Database, rows: list[tuple[int, str, str, str]]) -> None:
    """``(next_run_at, agent_id, schedule, timezone)``, in one transaction.

    Written only where the agent still has that schedule and zone and is
    enabled, so a value computed before a concurrent edit never overwrites the
    one the edit stored.
    """
    async with db.write() as conn:
        await conn.executemany(
            "UPDATE agents SET next_run_at = ? WHERE id = ? AND schedule = ? AND timezone = ?"
            " AND enabled = 1",
            rows,
        )


def _plan_of(agent: dict[str, Any]) -> _Plan | None:
    if not agent.get("enabled"):
        return None
    deadline = agent.get("startingDeadlineSeconds", DEFAULT_DEADLINE_SECONDS)
    return _Plan(
        agent_id=agent["id"],
        expr=agent["schedule"],
        tz=agent["timezone"],
        policy=agent.get("concurrencyPolicy") or "forbid",
        deadline_ms=None if deadline is None else int(deadline) * 1000,
        agent=agent,
    )


def _next_ms(expr: str, tz: str, after_ms: int) -> int:
    return from_datetime(next_fire_time(expr, tz, to_datetime(after_ms)))


def _run_ids(count: int) -> list[str]:
    """``count`` ids shaped like ``app.auth.new_id("run")``, from one urandom call."""
    raw = secrets.token_bytes(8 * count).hex()
    return [f"run_{raw[i : i + 16]}" for i in range(0, 16 * count, 16)]


def _slots_text(count: int, capped: bool) -> str:
    if capped:
        return f"at least {count} slots"
    return f"{count} slot" if count == 1 else f"{count} slots"


def _missed_counts(
    expr: str, tz: str, starts: Iterable[int], end: int, limit: int = MISSED_COUNT_LIMIT
) -> dict[int, int]:
    """Slots in ``(start, end]`` for each start of one (expr, tz) group, capped at ``limit``.

    Works back from the latest start, adding up the slots of each segment
    between consecutive starts, so a group costs at most ``limit`` croniter
    steps plus one per distinct start, however long the outage.
    """
    schedule = get_schedule(expr, tz)
    counts: dict[int, int] = {}
    total = 0
    upper = to_datetime(end)
    for start in sorted(set(starts), reverse=True):
        if start >= end:
            counts[start] = 0
            continue
        if total < limit:
            for instant in schedule.iter_after(to_datetime(start)):
                if instant > upper:
                    break
                total += 1
                if total >= limit:
                    break
            upper = to_datetime(start)
        counts[start] = min(total, limit)
    return counts


def _latest_two(expr: str, tz: str, start: int, end: int) -> tuple[int | None, int | None]:
    """The latest slot in ``(start, end]`` and the one before it (also > start), or None."""
    _, latest = slots_between(expr, tz, to_datetime(start), to_datetime(end), limit=1)
    if latest is None:
        return None, None
    last = from_datetime(latest)
    _, before = slots_between(expr, tz, to_datetime(start), to_datetime(last - 1), limit=1)
    return last, None if before is None else from_datetime(before)


def _missed_dues(
    plans: list[tuple[_Plan, int]], now: int, reason: str, allowance: Mapping[int, int | None]
) -> list[_Due]:
    """Dues for agents whose slots in ``(start, now]`` were missed; ``plans``: (plan, start).

    ``allowance`` maps a plan's ``id()`` to how old (ms) its latest slot may be
    and still run; None: it never runs late.
    """
    groups: dict[tuple[str, str], list[tuple[_Plan, int]]] = {}
    for plan, start in plans:
        groups.setdefault((plan.expr, plan.tz), []).append((plan, start))
    dues: list[_Due] = []
    for (expr, tz), members in groups.items():
        starts = [start for _, start in members]
        counts = _missed_counts(expr, tz, starts, now)
        latest, before = _latest_two(expr, tz, min(starts), now)
        if latest is None:
            continue
        for plan, start in members:
            count = counts[start]
            if count == 0:
                continue
            capped = count >= MISSED_COUNT_LIMIT
            limit = allowance[id(plan)]
            if limit is not None and now - latest <= limit:
                due = _Due(plan, latest, caught_up=True)
                if count > 1:
                    due.skip_slot = before
                    due.skip_reason = f"{reason}: {_slots_text(count - 1, capped)}"
            else:
                due = _Due(plan, None, latest, f"{reason}: {_slots_text(count, capped)}")
            dues.append(due)
    return dues


# ----------------------------------------------------------------------------- scheduler


class Scheduler:
    """Fires enabled agents on their cron schedules; see the module docstring."""

    def __init__(
        self,
        service: AgentService,
        runner: RunStarter,
        *,
        clock: Clock | None = None,
        claim_ahead_min: int = CLAIM_AHEAD_MIN_AGENTS,
    ) -> None:
        self.service = service
        self.claim_ahead_min = claim_ahead_min
        self.runner = runner
        self.clock: Clock = clock or SystemClock()
        self._plans: dict[str, _Plan] = {}
        self._buckets: dict[int, dict[str, _Plan]] = {}
        self._heap: list[int] = []
        self._wake = asyncio.Event()
        self._state = asyncio.Event()  # set whenever the timer parks (for settled())
        self._task: asyncio.Task[None] | None = None
        self._parked = False
        self._target: int | None = None
        self._stopping = False
        self._loading = False
        self._touched_while_loading: set[str] = set()
        self._epoch = 0  # bumped by every re-plan
        self._prepared: _Prepared | None = None

    # -- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Load the enabled agents, catch up missed slots, and start the timer.

        Call it after the runner has marked the runs of a previous process
        ``interrupted`` (otherwise ``forbid`` would see them as still running).
        """
        if self._task is not None:
            raise RuntimeError("the scheduler is already started")
        self._stopping = False
        self._plans.clear()
        self._buckets.clear()
        self._heap.clear()
        self._prepared = self._target = None
        self._loading = True
        self._touched_while_loading.clear()
        self.service.listeners.append(self._on_agent_change)
        try:
            await self._load()
        except BaseException:
            self._remove_listener()
            raise
        finally:
            self._loading = False
        self._task = asyncio.create_task(self._run(), name="cronagents-scheduler")

    async def stop(self) -> None:
        """Stop the timer; a fire batch in progress is finished first (bounded wait)."""
        self._remove_listener()
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._parked:
            task.cancel()
        else:
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 30)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared.preclaimed:
            await _release_claims(self.service.db, sorted(prepared.preclaimed))

    def _remove_listener(self) -> None:
        with contextlib.suppress(ValueError):
            self.service.listeners.remove(self._on_agent_change)

    async def settled(self) -> None:
        """Wait until nothing is due at the clock's current time and the timer is parked.

        For tests with a :class:`FakeClock`: ``clock.set(t); await scheduler.settled()``.
        """
        while not self._is_settled():
            if self._task is None or self._task.done():
                if self._task is not None and not self._task.cancelled() and self._task.exception():
                    raise RuntimeError("the scheduler task failed") from self._task.exception()
                return
            self._state.clear()
            await self._state.wait()

    def _is_settled(self) -> bool:
        if not self._parked or self._wake.is_set():
            return False
        return self._target is None or self._target > self.clock.now_ms()

    def next_fire_ms(self, agent_id: str) -> int | None:
        """The instant the agent is planned to fire next (None: disabled or unknown)."""
        plan = self._plans.get(agent_id)
        return None if plan is None else plan.next_ms

    # -- planning -------------------------------------------------------------------

    def _place(self, plan: _Plan, ms: int) -> None:
        self._epoch += 1
        plan.next_ms = ms
        bucket = self._buckets.get(ms)
        if bucket is None:
            bucket = self._buckets[ms] = {}
            heapq.heappush(self._heap, ms)
            if self._target is None or ms < self._target:
                self._wake.set()
        bucket[plan.agent_id] = plan

    def _unplace(self, plan: _Plan) -> None:
        self._epoch += 1
        if plan.next_ms is not None:
            bucket = self._buckets.get(plan.next_ms)
            if bucket is not None and bucket.get(plan.agent_id) is plan:
                del bucket[plan.agent_id]

    def _earliest(self) -> int | None:
        heap, buckets = self._heap, self._buckets
        while heap:
            ms = heap[0]
            if buckets.get(ms):
                return ms
            heapq.heappop(heap)
            buckets.pop(ms, None)
        return None

    def _on_agent_change(self, kind: str, agent: dict[str, Any] | None, agent_id: str) -> None:
        """AgentService listener: re-plan the agent at once (synchronous, in memory)."""
        try:
            self._replan(kind, agent, agent_id)
        except Exception:  # never break the service's change notification
            log.exception("scheduler: could not re-plan agent %s", agent_id)

    def _replan(self, kind: str, agent: dict[str, Any] | None, agent_id: str) -> None:
        if self._loading:
            self._touched_while_loading.add(agent_id)
        old = self._plans.get(agent_id)
        new = _plan_of(agent) if kind != "deleted" and agent is not None else None
        if (
            old is not None
            and new is not None
            and (old.expr, old.tz) == (new.expr, new.tz)
            and old.next_ms is not None
        ):
            # Same schedule: keep the planned instant, take the new settings.
            old.policy, old.deadline_ms, old.agent = new.policy, new.deadline_ms, new.agent
            return
        if old is not None:
            self._unplace(old)
            del self._plans[agent_id]
        if new is None:
            log.debug("agent %s unplanned (%s)", agent_id, kind)
            return
        self._plans[agent_id] = new
        self._place(new, _next_ms(new.expr, new.tz, self.clock.now_ms()))
        log.debug("agent %s planned for %s (%s)", agent_id, iso(new.next_ms), kind)

    # -- start-up ---------------------------------------------------------------------

    async def _load(self) -> None:
        db = self.service.db
        rows = await agent_store.list_enabled_agents(db)
        last_slots = {
            r[0]: r[1]
            for r in await db.fetchall(
                "SELECT agent_id, MAX(scheduled_for) FROM runs"
                " WHERE scheduled_for IS NOT NULL GROUP BY agent_id"
            )
        }
        now = self.clock.now_ms()
        loaded: list[tuple[_Plan, int, int | None]] = []  # plan, last point, stored next_run_at
        for row in rows:
            if row["id"] in self._touched_while_loading:
                continue  # the listener already planned it from fresher data
            plan = _plan_of(agent_json(row))
            if plan is None:
                continue
            try:
                get_schedule(plan.expr, plan.tz)
            except ValueError as err:
                log.warning("agent %s is not scheduled: %s", plan.agent_id, err)
                continue
            last = max(last_slots.get(row["id"]) or 0, row["updated_at"] or 0, row["created_at"] or 0)
            loaded.append((plan, last, row["next_run_at"]))
        dues, nexts = await asyncio.to_thread(self._catch_up_plan, loaded, now)
        changed: list[tuple[int, str, str, str]] = []
        for (plan, _, stored), nxt in zip(loaded, nexts, strict=True):
            if plan.agent_id in self._touched_while_loading:
                continue
            self._plans[plan.agent_id] = plan
            self._place(plan, nxt)
            if stored != nxt:
                changed.append((nxt, plan.agent_id, plan.expr, plan.tz))
        if changed:
            await _store_next_run_times(db, changed)
            self.service.agents_changed()
        log.info("scheduler started: %d enabled agents, %d with missed slots", len(loaded), len(dues))
        if dues:
            await self._execute(dues, now)

    @staticmethod
    def _catch_up_plan(loaded: list[tuple[_Plan, int, int | None]], now: int) -> tuple[list[_Due], list[int]]:
        """(missed-slot dues, next fire instant of each agent): pure, runs in a thread."""
        allowance = {id(plan): plan.deadline_ms for plan, _, _ in loaded}
        dues = _missed_dues([(plan, last) for plan, last, _ in loaded], now, DOWN_REASON, allowance)
        nexts: dict[tuple[str, str], int] = {}
        result = []
        for plan, _, _ in loaded:
            key = (plan.expr, plan.tz)
            nxt = nexts.get(key)
            if nxt is None:
                nxt = nexts[key] = _next_ms(plan.expr, plan.tz, now)
            result.append(nxt)
        return dues, result

    # -- the timer ----------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            target = self._earliest()
            now = self.clock.now_ms()
            if target is not None and target <= now:
                try:
                    await self._fire_due(now)
                except Exception:
                    log.exception("scheduler: a fire batch failed; carrying on")
                continue
            wake_at = target
            prepared = self._prepared
            if prepared is not None and prepared.preclaimed is not None and prepared.slot != target:
                self._prepared = None  # (rare) its instant is gone: free its slots
                try:
                    await _release_claims(self.service.db, sorted(prepared.preclaimed))
                except Exception:
                    log.exception("scheduler: could not release slots claimed ahead")
                continue
            if target is not None:
                prepared = self._prepare(target)
                if (
                    prepared.preclaimed is None
                    and prepared.ahead
                    and len(prepared.plans) >= self.claim_ahead_min
                ):
                    wake_at = target - CLAIM_AHEAD_MS
                    if wake_at <= now:
                        try:
                            await self._claim_ahead(prepared)
                        except Exception:
                            log.exception("scheduler: claiming ahead failed; claiming at the instant")
                            prepared.preclaimed = None
                            prepared.ahead = False
                        continue
            self._target = wake_at
            self._parked = True
            self._state.set()
            try:
                await self._wait(wake_at)
            finally:
                self._parked = False

    async def _wait(self, target: int | None) -> None:
        if self._wake.is_set():
            self._wake.clear()
            return
        waiter = asyncio.ensure_future(self._wake.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if target is not None:
            tasks.add(asyncio.ensure_future(self.clock.sleep_until(target)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
        self._wake.clear()

    async def _fire_due(self, now: int) -> None:
        """Fire every bucket whose instant is <= now, as one batch."""
        heap, buckets = self._heap, self._buckets
        popped: list[tuple[int, dict[str, _Plan]]] = []
        while heap and heap[0] <= now:
            ms = heapq.heappop(heap)
            bucket = buckets.pop(ms, None)
            if bucket:
                popped.append((ms, bucket))
        if not popped:
            return
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared.preclaimed is not None:
            bucket = popped[0][1]
            if (
                len(popped) == 1
                and prepared.slot == popped[0][0]
                and now - prepared.slot <= ON_TIME_MS
                and now < prepared.first_next
            ):
                try:
                    await self._execute_claimed_ahead(prepared, bucket, now)
                finally:
                    await self._replan_fired(list(bucket.values()), self.clock.now_ms())
                return
            await _release_claims(self.service.db, sorted(prepared.preclaimed))
            prepared = None
        if (
            prepared is not None
            and len(popped) == 1
            and prepared.slot == popped[0][0]
            and prepared.epoch == self._epoch
            and now - prepared.slot <= ON_TIME_MS
            and now < prepared.first_next
        ):
            try:
                await self._execute_prepared(prepared, now)
            finally:
                await self._replan_fired(prepared.plans, self.clock.now_ms())
            return
        dues: list[_Due] = []
        late: list[tuple[_Plan, int]] = []
        nexts: dict[tuple[str, str, int], int] = {}
        for slot, bucket in popped:
            on_time = now - slot <= ON_TIME_MS
            for plan in bucket.values():
                key = (plan.expr, plan.tz, slot)
                nxt = nexts.get(key)
                if nxt is None:
                    nxt = nexts[key] = _next_ms(plan.expr, plan.tz, slot)
                if on_time and nxt > now:
                    dues.append(_Due(plan, slot))  # the usual case
                else:
                    late.append((plan, slot - 1))
        if late:  # woke up late (suspend, blocked loop): slots since the planned one were missed
            allowance = {id(plan): max(plan.deadline_ms or 0, ON_TIME_MS) for plan, _ in late}
            dues.extend(_missed_dues(late, now, PAUSED_REASON, allowance))
        fired = [due.plan for due in dues]
        fired.extend(plan for plan, _ in late)
        try:
            await self._execute(dues, now, slot=popped[0][0] if len(popped) == 1 else None)
        finally:
            await self._replan_fired(fired, self.clock.now_ms())

    async def _replan_fired(self, plans: list[_Plan], now: int) -> None:
        """Plan the next instant of the agents just fired; store and publish it."""
        current = self._plans
        nexts: dict[tuple[str, str], int] = {}
        changed: list[tuple[int, str, str, str]] = []
        seen: set[str] = set()
        for plan in plans:
            agent_id = plan.agent_id
            if current.get(agent_id) is not plan or agent_id in seen:
                continue  # edited, disabled or deleted meanwhile: the listener re-planned it
            seen.add(agent_id)
            key = (plan.expr, plan.tz)
            nxt = nexts.get(key)
            if nxt is None:
                nxt = nexts[key] = _next_ms(plan.expr, plan.tz, now)
            self._place(plan, nxt)
            changed.append((nxt, agent_id, plan.expr, plan.tz))
        if not changed:
            return
        await _store_next_run_times(self.service.db, changed)
        self.service.agents_changed()
        publish = self.service.bus.publish
        for nxt, agent_id, _, _ in changed:
            publish("agent.scheduled", agentId=agent_id, nextRunAt=iso(nxt))

    # -- one batch: policies, claims, runner ------------------------------------------

    async def _execute(self, dues: list[_Due], now: int, slot: int | None = None) -> None:
        db = self.service.db
        running: set[str] = set()
        if any(d.run_slot is not None and d.plan.policy != "allow" for d in dues):
            running = await _running_agent_ids(db)
        skips: list[tuple[str, str, int, str]] = []
        claims: list[tuple[str, str, int, str]] = []
        claimed_plans: list[_Plan] = []
        cancel: list[str] = []
        overlaps = 0
        ids = iter(_run_ids(len(dues)))
        for due in dues:
            plan = due.plan
            agent_id = plan.agent_id
            if due.skip_slot is not None and due.skip_reason is not None:
                skips.append(("", agent_id, due.skip_slot, due.skip_reason))
            if due.run_slot is None:
                continue
            if agent_id in running:
                if plan.policy == "replace":
                    cancel.append(agent_id)
                elif plan.policy != "allow":
                    skips.append(("", agent_id, due.run_slot, OVERLAP_REASON))
                    overlaps += 1
                    continue
            claims.append((next(ids), agent_id, due.run_slot, "queued"))
            claimed_plans.append(plan)
        if cancel:
            await asyncio.gather(*(self.runner.cancel_agent_runs(a, REPLACED_REASON) for a in cancel))
        claimed: set[str] = set()
        if claims:
            claimed = await _claim_json(db, json.dumps(claims), self.clock.now_ms(), self.runner.owner)
            await self._enqueue(claims, claimed_plans, claimed)
        recorded: set[str] = set()
        if skips:
            skips = [
                (rid, agent_id, at, reason)
                for rid, (_, agent_id, at, reason) in zip(_run_ids(len(skips)), skips, strict=True)
            ]
            recorded = await run_store.record_skipped(db, skips, now, self.service.day_of)
        self._log_batch(dues, slot, now, len(claims), len(claimed), cancel, overlaps, skips, recorded)

    def _prepare(self, slot: int) -> _Prepared:
        """Build the claims of instant ``slot`` ahead of time (unless already built)."""
        prepared = self._prepared
        if (
            prepared is not None
            and prepared.slot == slot
            and (prepared.epoch == self._epoch or prepared.preclaimed is not None)
        ):
            return prepared  # (once claimed, edits are reconciled at the instant)
        plans = list(self._buckets[slot].values())
        ids = _run_ids(len(plans))
        claims = [(run_id, plan.agent_id, slot, "queued") for run_id, plan in zip(ids, plans, strict=True)]
        nexts = {(plan.expr, plan.tz) for plan in plans}
        self._prepared = _Prepared(
            slot=slot,
            epoch=self._epoch,
            plans=plans,
            claims=claims,
            payload=json.dumps(claims),
            index={plan.agent_id: plan for plan in plans},
            first_next=min(_next_ms(expr, tz, slot) for expr, tz in nexts),
        )
        return self._prepared

    async def _claim_ahead(self, prepared: _Prepared) -> None:
        """Claim a large instant's slots shortly before it, so the instant only hands over.

        The rows are ``queued`` runs with ``started_at`` = the slot; at the
        instant the usual rules are applied to them (see _execute_claimed_ahead).
        """
        started = time.perf_counter()
        prepared.preclaimed = await _claim_json(
            self.service.db, prepared.payload, prepared.slot, self.runner.owner
        )
        log.debug(
            "claimed %d of %d slots of %s ahead in %.1f ms",
            len(prepared.preclaimed), len(prepared.plans), iso(prepared.slot),
            (time.perf_counter() - started) * 1000,
        )  # fmt: skip

    async def _execute_claimed_ahead(self, prepared: _Prepared, bucket: dict[str, _Plan], now: int) -> None:
        """The instant of slots claimed ahead: hand over, then overlaps and edits since.

        A claimed row is handed over only if its agent is still planned for
        this instant unchanged, has no other queued or running run (unless
        ``allow``), and the row is still ``queued`` (a cancel may have reached
        it). The other claims are released and those agents go through the
        general path (which applies ``forbid``/``replace`` and claims anew).
        """
        db = self.service.db
        slot = prepared.slot
        claimed = prepared.preclaimed or set()
        running = await _running_agent_ids(db, besides_slot=slot)
        gone = await _finished_slot_rows(db, slot)
        ready: list[tuple[str, str, int, str]] = []
        ready_plans: list[_Plan] = []
        release: list[str] = []
        again: list[_Due] = []
        for claim, plan in zip(prepared.claims, prepared.plans, strict=True):
            run_id, agent_id = claim[0], claim[1]
            if run_id not in claimed or run_id in gone:
                continue  # another process has this slot, or it was cancelled meanwhile
            if bucket.get(agent_id) is not plan:
                release.append(run_id)  # edited, disabled or deleted since the claim
            elif agent_id in running and plan.policy != "allow":
                release.append(run_id)
                again.append(_Due(plan, slot))
            else:
                ready.append(claim)
                ready_plans.append(plan)
        await self._enqueue(ready, ready_plans, claimed)
        index = prepared.index
        again.extend(_Due(plan, slot) for agent_id, plan in bucket.items() if index.get(agent_id) is not plan)
        await _release_claims(db, release)
        if again:  # overlaps, and agents planned for this instant after the claims
            await self._execute(again, now, slot)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "fired %s (claimed ahead): %d due, %d started, %d claimed elsewhere,"
                " %d released, %d ms after the slot",
                iso(slot), len(bucket), len(ready), len(prepared.plans) - len(claimed),
                len(release), self.clock.now_ms() - slot,
            )  # fmt: skip

    async def _execute_prepared(self, prepared: _Prepared, now: int) -> None:
        """The usual instant: every due agent on time; claims built in advance."""
        db = self.service.db
        running = await _running_agent_ids(db)
        index = prepared.index
        if any(agent_id in index and index[agent_id].policy != "allow" for agent_id in running):
            # Overlaps to skip or replace: take the general path.
            dues = [_Due(plan, prepared.slot) for plan in prepared.plans]
            await self._execute(dues, now, prepared.slot)
            return
        claimed = await _claim_json(db, prepared.payload, self.clock.now_ms(), self.runner.owner)
        await self._enqueue(prepared.claims, prepared.plans, claimed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "fired %s: %d due, %d started, %d claimed elsewhere, %d ms after the slot",
                iso(prepared.slot), len(prepared.plans), len(claimed),
                len(prepared.plans) - len(claimed), self.clock.now_ms() - prepared.slot,
            )  # fmt: skip

    async def _enqueue(
        self, claims: list[tuple[str, str, int, str]], plans: list[_Plan], claimed: set[str]
    ) -> None:
        """Hand the runs whose claim succeeded to the runner, in order."""
        enqueue = self.runner.enqueue_claimed
        for (run_id, _, _, _), plan in zip(claims, plans, strict=True):
            if run_id in claimed:
                await enqueue(plan.agent, run_id)

    def _log_batch(
        self,
        dues: list[_Due],
        slot: int | None,
        now: int,
        tried: int,
        started: int,
        cancelled: list[str],
        overlaps: int,
        skips: list[tuple[str, str, int, str]],
        recorded: set[str],
    ) -> None:
        when = iso(slot) if slot is not None else "missed slots"
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "fired %s: %d due, %d started, %d claimed elsewhere, %d replaced, %d skipped,"
                " %d ms after the slot",
                when, len(dues), started, tried - started, len(cancelled), len(recorded),
                self.clock.now_ms() - slot if slot is not None else 0,
            )  # fmt: skip
        caught_up = [d.plan.agent_id for d in dues if d.caught_up]
        if caught_up:
            log.info(
                "caught up %d missed slot(s) at %s (latest missed slot of each agent): %s",
                len(caught_up), iso(now), _sample(caught_up),
            )  # fmt: skip
        if recorded:
            mine = [s for s in skips if s[0] in recorded]
            log.info(
                "recorded %d skipped slot row(s) (%d overlapping a run still going): %s",
                len(mine), overlaps, _sample(f"{s[1]} {iso(s[2])} {s[3]!r}" for s in mine),
            )  # fmt: skip


def _sample(items: Iterable[str], limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
