"""The Scheduler: plans, the heap of fire instants, the timer (see :mod:`app.scheduler`)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from typing import TYPE_CHECKING, Any

from app.clock import Clock, SystemClock
from app.cron import get_schedule
from app.events import EventBus
from app.model import Agent, agent_from_row
from app.scheduler.firing import Firing, MissedSlots, RunStarter
from app.scheduler.plans import (
    ON_TIME_MS,
    Due,
    Plan,
    Prepared,
    catch_up_plan,
    dues_of,
    plan_of,
    prepare,
)
from app.timeutil import iso
from storage.interface import Storage

if TYPE_CHECKING:
    from app.service import AgentService

log = logging.getLogger("cronagents.scheduler")

CLAIM_AHEAD_MS = 500
"""How long before a large instant its slots are claimed (see :mod:`app.scheduler`)."""
CLAIM_AHEAD_MS_SHARED = 2_500
"""The same on a database several nodes share (PostgreSQL): a claim of 10,000 slots there takes
0.5-1 s while the other nodes' claims of the same instant wait on it."""
CLAIM_AHEAD_MIN_AGENTS = 500


class Scheduler:
    """Fires enabled agents on their cron schedules; see :mod:`app.scheduler`."""

    def __init__(
        self,
        service: AgentService,
        runner: RunStarter,
        store: Storage,
        bus: EventBus,
        *,
        clock: Clock | None = None,
        claim_ahead_min: int = CLAIM_AHEAD_MIN_AGENTS,
        claim_ahead_ms: int | None = None,
        missed: MissedSlots | None = None,
    ) -> None:
        self.service = service
        self.store = store
        self.bus = bus
        self.claim_ahead_min = claim_ahead_min
        if claim_ahead_ms is None:
            claim_ahead_ms = CLAIM_AHEAD_MS_SHARED if store.backend == "postgresql" else CLAIM_AHEAD_MS
        self.claim_ahead_ms = claim_ahead_ms
        self.runner = runner
        self.clock: Clock = clock or SystemClock()
        self._firing = Firing(store, runner, self.clock, service.day_of, missed)
        self._plans: dict[str, Plan] = {}
        self._buckets: dict[int, dict[str, Plan]] = {}
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
        self._prepared: Prepared | None = None

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
        self.service.subscribe(self._on_agent_change)
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
                async with asyncio.timeout(30):
                    await asyncio.shield(task)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared.preclaimed:
            await self.store.slots.release(sorted(prepared.preclaimed))

    def _remove_listener(self) -> None:
        with contextlib.suppress(ValueError):
            self.service.unsubscribe(self._on_agent_change)

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

    def _place(self, plan: Plan, ms: int) -> None:
        self._epoch += 1
        plan.next_ms = ms
        bucket = self._buckets.get(ms)
        if bucket is None:
            bucket = self._buckets[ms] = {}
            heapq.heappush(self._heap, ms)
            if self._target is None or ms < self._target:
                self._wake.set()
        bucket[plan.agent_id] = plan

    def _unplace(self, plan: Plan) -> None:
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

    def _on_agent_change(self, kind: str, agent: Agent | None, agent_id: str) -> None:
        """AgentService listener: re-plan the agent at once (synchronous, in memory)."""
        try:
            self._replan(kind, agent, agent_id)
        except Exception:  # never break the service's change notification
            log.exception("scheduler: could not re-plan agent %s", agent_id)

    def _replan(self, kind: str, agent: Agent | None, agent_id: str) -> None:
        if self._loading:
            self._touched_while_loading.add(agent_id)
        old = self._plans.get(agent_id)
        new = plan_of(agent) if kind != "deleted" and agent is not None else None
        if old is not None and new is not None and old.key == new.key and old.next_ms is not None:
            # Same schedule: keep the planned instant, take the new settings.
            old.policy, old.deadline_ms = new.policy, new.deadline_ms
            return
        if old is not None:
            self._unplace(old)
            del self._plans[agent_id]
        nxt = None if new is None else new.next_after(self.clock.now_ms())
        if new is None or nxt is None:
            log.debug("agent %s unplanned (%s)", agent_id, kind)
            return
        self._plans[agent_id] = new
        self._place(new, nxt)
        log.debug("agent %s planned for %s (%s)", agent_id, iso(new.next_ms), kind)

    # -- start-up ---------------------------------------------------------------------

    async def _load(self) -> None:
        rows = await self.store.agents.list_enabled()
        last_slots = await self.store.slots.latest_slots()
        now = self.clock.now_ms()
        loaded: list[tuple[Plan, int, int | None]] = []  # plan, last point, stored next_run_at
        for row in rows:
            if row["id"] in self._touched_while_loading:
                continue  # the listener already planned it from fresher data
            plan = plan_of(agent_from_row(row))
            if plan is None:
                continue
            try:
                if plan.once is None:
                    get_schedule(plan.expr, plan.tz)
            except ValueError as err:
                log.warning("agent %s is not scheduled: %s", plan.agent_id, err)
                continue
            last = max(last_slots.get(row["id"]) or 0, row["updated_at"] or 0, row["created_at"] or 0)
            loaded.append((plan, last, row["next_run_at"]))
        dues, nexts = await asyncio.to_thread(catch_up_plan, loaded, now)
        changed: list[tuple[int, str, str, str]] = []
        spent: list[Plan] = []  # one-shots whose time came while the server was down
        for (plan, _, stored), nxt in zip(loaded, nexts, strict=True):
            if plan.agent_id in self._touched_while_loading:
                continue
            if nxt is None:
                spent.append(plan)
                continue
            self._plans[plan.agent_id] = plan
            self._place(plan, nxt)
            if stored != nxt:
                changed.append((nxt, plan.agent_id, plan.expr, plan.tz))
        if changed:
            await self.store.slots.store_next_run_times(changed)
        log.info("scheduler started: %d enabled agents, %d with missed slots", len(loaded), len(dues))
        try:
            if dues:
                await self._firing.fire(now, None, dues, None)
        finally:
            await self._end_one_shots(spent)

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
                    await self.store.slots.release(sorted(prepared.preclaimed))
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
                    wake_at = target - self.claim_ahead_ms
                    if wake_at <= now:
                        try:
                            await self._firing.claim_ahead(prepared)
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
        popped: list[tuple[int, dict[str, Plan]]] = []
        while heap and heap[0] <= now:
            ms = heapq.heappop(heap)
            bucket = buckets.pop(ms, None)
            if bucket:
                popped.append((ms, bucket))
        if not popped:
            return
        prepared, self._prepared = self._prepared, None
        slot = popped[0][0] if len(popped) == 1 else None
        on_time = (
            prepared is not None
            and prepared.slot == slot
            and now - prepared.slot <= ON_TIME_MS
            and now < prepared.first_next
        )
        if prepared is not None and not on_time:
            if prepared.preclaimed:
                await self.store.slots.release(sorted(prepared.preclaimed))
            prepared = None
        dues: list[Due] | None = None
        fired: list[Plan]
        if prepared is not None and prepared.preclaimed is None and prepared.epoch == self._epoch:
            fired = prepared.plans  # the usual instant: nothing changed since it was prepared
        elif prepared is not None:
            fired = list(popped[0][1].values())  # every plan of the instant, on time
        else:
            dues, fired = dues_of(popped, now)
        try:
            await self._firing.fire(now, slot, dues, prepared, fired)
        finally:
            await self._replan_fired(fired, self.clock.now_ms())

    async def _replan_fired(self, plans: list[Plan], now: int) -> None:
        """Plan the next instant of the agents just fired; store and publish it."""
        current = self._plans
        nexts: dict[tuple[str, str, int | None], int | None] = {}
        changed: list[tuple[int, str, str, str]] = []
        seen: set[str] = set()
        spent: list[Plan] = []
        for plan in plans:
            agent_id = plan.agent_id
            if current.get(agent_id) is not plan or agent_id in seen:
                continue  # edited, disabled or deleted meanwhile: the listener re-planned it
            seen.add(agent_id)
            key = plan.key
            if key not in nexts:
                nexts[key] = plan.next_after(now)
            nxt = nexts[key]
            if nxt is None:  # a one-shot that fired: it is done
                del current[agent_id]
                spent.append(plan)
                continue
            self._place(plan, nxt)
            changed.append((nxt, agent_id, plan.expr, plan.tz))
        await self._end_one_shots(spent)
        if not changed:
            return
        await self.store.slots.store_next_run_times(changed)
        publish = self.bus.publish
        for nxt, agent_id, _, _ in changed:
            publish("agent.scheduled", agentId=agent_id, nextRunAt=iso(nxt))

    async def _end_one_shots(self, plans: list[Plan]) -> None:
        """One-shot agents whose one time came (run, skipped or missed): disabled."""
        for plan in plans:
            if plan.once is None:
                continue
            try:
                await self.service.end_one_shot(plan.agent_id, plan.once)
            except Exception:
                log.exception("scheduler: could not disable the one-shot agent %s", plan.agent_id)

    def _prepare(self, slot: int) -> Prepared:
        """Build the claims of instant ``slot`` ahead of time (unless already built)."""
        prepared = self._prepared
        if (
            prepared is not None
            and prepared.slot == slot
            and (prepared.epoch == self._epoch or prepared.preclaimed is not None)
        ):
            return prepared  # (once claimed, edits are reconciled at the instant)
        self._prepared = prepare(
            slot, list(self._buckets[slot].values()), self._epoch, self.store.slots.encode
        )
        return self._prepared
