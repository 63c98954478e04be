"""One fire batch: overlap policies, exactly-once claims, hand-over to the runner, skipped slots.

There is one path for every batch (an on-time instant, a large instant whose
slots were claimed ahead, slots caught up at start or after a pause):

1. which of the batch's agents are busy (a queued or running run, any
   process; rows claimed ahead for this very slot do not count);
2. per due: the missed-slots row if any; then, for the slot to run, a busy
   agent is skipped (``forbid``) or has its runs cancelled (``replace``);
   a row claimed ahead for this very plan is handed over as it is (unless
   another process has the slot or a cancel ended it); otherwise the slot is
   claimed now, with the run id built while idle when there is one;
3. rows claimed ahead but no longer wanted are released (before any new
   claim of the same slot), replaced runs cancelled, new claims made in one
   statement, and every claimed run handed to the runner in order;
4. skipped slots are recorded (claimed too, so once across processes).

When nothing changed since the instant's claims were built and no agent of
it is busy, steps 2-3 reduce to one claim statement built while idle: that is
what keeps an instant of 10,000 agents within milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from app.clock import Clock
from app.scheduler.plans import (
    DOWN_REASON,
    OVERLAP_REASON,
    PAUSED_REASON,
    REPLACED_REASON,
    Due,
    Plan,
    Prepared,
    new_run_ids,
)
from app.timeutil import iso
from storage.interface import EncodedClaims, SlotClaim, Storage

log = logging.getLogger("cronagents.scheduler")

MISSED_REASONS = (DOWN_REASON, PAUSED_REASON)


class RunStarter(Protocol):
    """What the scheduler needs from the runner."""

    owner: str
    """The server id that owns the runs this runner starts (and the slots it claims)."""

    async def enqueue_claimed(self, agent_id: str, run_id: str) -> None:
        """Start (or queue) a run whose row already exists with status ``queued``."""

    async def cancel_agent_runs(self, agent_id: str, reason: str = "cancelled") -> int:
        """Cancel the agent's running and queued runs; return once they are recorded."""


MissedSlots = Callable[[Sequence[tuple[str, int, str]]], Awaitable[None]]
"""Told of scheduled slots ``(agent_id, instant, reason)`` that were missed (the alarm)."""


class Firing:
    """Carries out fire batches for a :class:`~app.scheduler.Scheduler`."""

    def __init__(
        self,
        store: Storage,
        runner: RunStarter,
        clock: Clock,
        day_of: Callable[[int], str],
        missed: MissedSlots | None = None,
    ) -> None:
        self.store = store
        self.runner = runner
        self.clock = clock
        self.day_of = day_of
        self.missed = missed

    async def claim_ahead(self, prepared: Prepared) -> None:
        """Claim a large instant's slots shortly before it, so the instant only hands over.

        The rows are ``queued`` runs with ``started_at`` = the slot.
        """
        started = time.perf_counter()
        prepared.preclaimed = await self.store.slots.claim(prepared.encoded, prepared.slot, self.runner.owner)
        log.debug(
            "claimed %d of %d slots of %s ahead in %.1f ms",
            len(prepared.preclaimed),
            len(prepared.plans),
            iso(prepared.slot),
            (time.perf_counter() - started) * 1000,
        )

    async def fire(
        self,
        now: int,
        slot: int | None,
        dues: list[Due] | None,
        prepared: Prepared | None,
        plans: list[Plan] | None = None,
    ) -> None:
        """Fire one batch (see the module docstring).

        ``dues`` None means: every plan of ``plans`` (by default ``prepared``'s,
        unchanged since they were built) runs its slot ``slot``. ``prepared``
        is the instant's work built while idle (its rows possibly claimed
        ahead), or None.
        """
        preclaimed = (prepared.preclaimed or set()) if prepared is not None else set()
        # Claimed ahead, even if every claim went to another process (several nodes: the first to
        # claim an instant has all of it; the others must neither claim it again nor take its rows
        # for runs still going).
        claimed_ahead = prepared is not None and prepared.preclaimed is not None
        if dues is None:
            assert prepared is not None and slot is not None
            plans = prepared.plans if plans is None else plans
        else:
            plans = [d.plan for d in dues]
        busy: set[str] = set()
        ended: set[str] = set()  # rows claimed ahead that a cancel ended meanwhile
        if claimed_ahead and slot is not None:  # both reads at once, on two reader connections
            busy, ended = await asyncio.gather(
                self.store.slots.busy_agent_ids(besides_slot=slot), self.store.slots.ended_claims(slot)
            )
        elif any(p.policy != "allow" for p in plans):
            busy = await self.store.slots.busy_agent_ids()
        if (
            dues is None
            and prepared is not None
            and plans is prepared.plans
            and not claimed_ahead
            and not _any_busy(busy, prepared)
        ):
            await self._claim_and_hand_over([], [], prepared.claims, prepared.plans, prepared.encoded)
            self._log(slot, now, len(plans), prepared.claims, [], 0, [], set())
            return
        entries = (
            ((plan, slot, None, None) for plan in plans)
            if dues is None
            else ((d.plan, d.run_slot, d.skip_slot, d.skip_reason) for d in dues)
        )
        index, prepared_plans, prepared_claims, prepared_slot = (
            (prepared.index, prepared.plans, prepared.claims, prepared.slot)
            if prepared is not None
            else ({}, [], [], None)
        )
        skips: list[tuple[str, int, str]] = []
        ready: list[tuple[str, Plan]] = []
        claim_plans: list[tuple[Plan, int, str | None]] = []
        release: list[str] = []
        cancel: list[str] = []
        seen: set[str] = set()  # run ids claimed ahead that this batch accounted for
        overlaps = 0
        position = index.get  # (locals: this loop runs once per agent of the instant)
        any_preclaimed = claimed_ahead
        for plan, run_slot, skip_slot, skip_reason in entries:
            agent_id = plan.agent_id
            if skip_slot is not None and skip_reason is not None:
                skips.append((agent_id, skip_slot, skip_reason))
            if run_slot is None:
                continue
            run_id = None  # the run id built while idle for this very plan, if any
            if run_slot == prepared_slot:
                i = position(agent_id)
                if i is not None and prepared_plans[i] is plan:
                    run_id = prepared_claims[i][0]
            ahead = any_preclaimed and run_id is not None
            if ahead:
                seen.add(run_id)  # type: ignore[arg-type]
                if run_id not in preclaimed or run_id in ended:
                    continue  # another process has this slot, or a cancel ended it meanwhile
            if agent_id in busy and plan.policy != "allow":
                if ahead:
                    release.append(run_id)  # type: ignore[arg-type]
                    run_id, ahead = None, False
                if plan.policy != "replace":
                    skips.append((agent_id, run_slot, OVERLAP_REASON))
                    overlaps += 1
                    continue
                cancel.append(agent_id)
            if ahead:
                ready.append((run_id, plan))  # type: ignore[arg-type]
            else:
                claim_plans.append((plan, run_slot, run_id))
        # Claimed ahead for plans no longer due (edited, disabled, deleted): free those slots.
        if len(seen) < len(preclaimed):
            release.extend(preclaimed - seen - ended)
        await self.store.slots.release(sorted(release))
        if cancel:
            await asyncio.gather(*(self.runner.cancel_agent_runs(a, REPLACED_REASON) for a in cancel))
        fresh = iter(new_run_ids(sum(1 for _, _, r in claim_plans if r is None)))
        claims: list[SlotClaim] = [
            (run_id or next(fresh), plan.agent_id, at, "queued") for plan, at, run_id in claim_plans
        ]
        await self._claim_and_hand_over(
            [r for r, _ in ready], [p for _, p in ready], claims, [p for p, _, _ in claim_plans], None
        )
        recorded: set[str] = set()
        if skips:
            rows = [(rid, *skip) for rid, skip in zip(new_run_ids(len(skips)), skips, strict=True)]
            recorded = await self.store.slots.record_skipped(rows, now, self.day_of)
            await self._alarm(rows, recorded)
        self._log(slot, now, len(plans), claims, cancel, overlaps, skips, recorded, caught_up=dues)

    async def _alarm(self, rows: list[tuple[str, str, int, str]], recorded: set[str]) -> None:
        """Tell of the slots recorded as missed (not those skipped for a run still going)."""
        if self.missed is None:
            return
        missed = [(a, at, r) for rid, a, at, r in rows if rid in recorded and r.startswith(MISSED_REASONS)]
        if missed:
            try:
                await self.missed(missed)
            except Exception:
                log.exception("scheduler: could not raise the missed-slot alarm")

    async def _claim_and_hand_over(
        self,
        ready: list[str],
        ready_plans: list[Plan],
        claims: list[SlotClaim],
        claim_plans: list[Plan],
        encoded: EncodedClaims | None,
    ) -> None:
        """Hand over rows already claimed, then claim ``claims`` and hand over those that succeeded."""
        enqueue = self.runner.enqueue_claimed
        for run_id, plan in zip(ready, ready_plans, strict=True):
            await enqueue(plan.agent_id, run_id)
        if not claims:
            return
        payload = encoded if encoded is not None else self.store.slots.encode(claims)
        claimed = await self.store.slots.claim(payload, self.clock.now_ms(), self.runner.owner)
        for (run_id, _, _, _), plan in zip(claims, claim_plans, strict=True):
            if run_id in claimed:
                await enqueue(plan.agent_id, run_id)

    def _log(
        self,
        slot: int | None,
        now: int,
        due: int,
        claims: list[SlotClaim],
        cancelled: list[str],
        overlaps: int,
        skips: list[tuple[str, int, str]],
        recorded: set[str],
        caught_up: list[Due] | None = None,
    ) -> None:
        when = iso(slot) if slot is not None else "missed slots"
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "fired %s: %d due, %d claimed, %d replaced, %d skipped, %d ms after the slot",
                when,
                due,
                len(claims),
                len(cancelled),
                len(recorded),
                self.clock.now_ms() - slot if slot is not None else 0,
            )
        late = [d.plan.agent_id for d in caught_up or () if d.caught_up]
        if late:
            log.info(
                "caught up %d missed slot(s) at %s (latest missed slot of each agent): %s",
                len(late),
                iso(now),
                _sample(late),
            )
        if recorded:
            log.info(
                "recorded %d skipped slot row(s) (%d overlapping a run still going): %s",
                len(recorded),
                overlaps,
                _sample(f"{a} {iso(at)} {reason!r}" for a, at, reason in skips),
            )


def _any_busy(busy: set[str], prepared: Prepared) -> bool:
    """Whether an agent of the instant that does not allow overlaps is busy."""
    index, plans = prepared.index, prepared.plans
    return any(a in index and plans[index[a]].policy != "allow" for a in busy)


def _sample(items: Iterable[str], limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"
