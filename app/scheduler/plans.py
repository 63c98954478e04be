"""What the scheduler plans: one plan per enabled agent, the dues of a fire, missed-slot maths.

Pure code (no I/O): plans and their next instants, the dues of an instant,
and the rule for slots missed while the server was down or asleep (see
:mod:`app.scheduler`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from app.cron import get_schedule, next_fire_time, slots_between
from app.model import Agent
from app.timeutil import from_datetime, to_datetime
from storage.interface import EncodedClaims, SlotClaim

OVERLAP_REASON = "skipped: the previous run was still running"
REPLACED_REASON = "cancelled: replaced by the next scheduled run"
DOWN_REASON = "missed while the server was down"
PAUSED_REASON = "missed while the scheduler was paused"
ON_TIME_MS = 60_000
"""A running scheduler that fires a slot at most this late fires it as on time."""
NEVER = 1 << 62
"""Later than any instant (a one-shot has no next one)."""
MISSED_COUNT_LIMIT = 10_080
"""Missed slots are counted exactly up to this many (7 days of ``* * * * *``)."""


@dataclass(slots=True, eq=False)
class Plan:
    """One enabled agent as the scheduler sees it (replaced, never edited, on re-plan)."""

    agent_id: str
    expr: str
    tz: str
    policy: str
    deadline_ms: int | None  # None: never catch up
    next_ms: int | None = None
    once: int | None = None  # a one-shot agent's one instant (expr is then "")

    @property
    def key(self) -> tuple[str, str, int | None]:
        """What decides the plan's instants: a re-plan with the same key keeps its next one."""
        return (self.expr, self.tz, self.once)

    def next_after(self, ms: int) -> int | None:
        """The plan's first instant after ``ms`` (None: a one-shot whose time has come)."""
        if self.once is not None:
            return self.once if self.once > ms else None
        return next_ms(self.expr, self.tz, ms)


@dataclass(slots=True)
class Due:
    """What to do for one agent at one fire batch."""

    plan: Plan
    run_slot: int | None  # the slot to run, if any
    skip_slot: int | None = None  # one skipped row for the missed slots, if any
    skip_reason: str | None = None
    caught_up: bool = False  # run_slot is a missed slot run late


@dataclass(slots=True)
class Prepared:
    """The claims of the next instant, built while idle (most instants use them as they are).

    ``claims[i]`` is the claim of ``plans[i]``; ``index`` maps an agent id to
    ``i``. Once ``preclaimed`` is set, those rows exist in the database
    (claimed ahead of a large instant) and are handed over at the instant.
    """

    slot: int
    epoch: int  # Scheduler._epoch when built: any re-plan since makes it stale
    plans: list[Plan]
    claims: list[SlotClaim]
    encoded: EncodedClaims  # ``claims`` ready for the claim statement
    index: dict[str, int]
    first_next: int  # the earliest next instant of these agents after ``slot``
    preclaimed: set[str] | None = None  # run ids claimed ahead of the instant, if done
    ahead: bool = True  # False once claiming ahead failed: claim at the instant instead


def plan_of(agent: Agent) -> Plan | None:
    """The plan of an enabled agent (None: disabled)."""
    if not agent.enabled:
        return None
    deadline = agent.starting_deadline_seconds
    return Plan(
        agent_id=agent.id,
        expr=agent.schedule or "",
        tz=agent.timezone,
        policy=agent.concurrency_policy,
        deadline_ms=None if deadline is None else deadline * 1000,
        once=agent.run_at,
    )


def next_ms(expr: str, tz: str, after_ms: int) -> int:
    return from_datetime(next_fire_time(expr, tz, to_datetime(after_ms)))


def new_run_ids(count: int) -> list[str]:
    """``count`` ids shaped like ``app.auth.new_id("run")``, from one urandom call."""
    raw = secrets.token_bytes(8 * count).hex()
    return [f"run_{raw[i : i + 16]}" for i in range(0, 16 * count, 16)]


def _slots_text(count: int, capped: bool) -> str:
    if capped:
        return f"at least {count} slots"
    return f"{count} slot" if count == 1 else f"{count} slots"


def missed_counts(
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


def missed_dues(
    plans: list[tuple[Plan, int]], now: int, reason: str, allowance: Mapping[int, int | None]
) -> list[Due]:
    """Dues for agents whose slots in ``(start, now]`` were missed; ``plans``: (plan, start).

    ``allowance`` maps a plan's ``id()`` to how old (ms) its latest slot may be
    and still run; None: it never runs late.
    """
    groups: dict[tuple[str, str], list[tuple[Plan, int]]] = {}
    dues: list[Due] = []
    for plan, start in plans:
        if plan.once is not None:
            due = _missed_once(plan, start, now, reason, allowance[id(plan)])
            if due is not None:
                dues.append(due)
        else:
            groups.setdefault((plan.expr, plan.tz), []).append((plan, start))
    for (expr, tz), members in groups.items():
        starts = [start for _, start in members]
        counts = missed_counts(expr, tz, starts, now)
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
                due = Due(plan, latest, caught_up=True)
                if count > 1:
                    due.skip_slot = before
                    due.skip_reason = f"{reason}: {_slots_text(count - 1, capped)}"
            else:
                due = Due(plan, None, latest, f"{reason}: {_slots_text(count, capped)}")
            dues.append(due)
    return dues


def _missed_once(plan: Plan, start: int, now: int, reason: str, limit: int | None) -> Due | None:
    """The due of a one-shot whose instant lies in ``(start, now]``: run late, or missed."""
    once = plan.once
    if once is None or not start < once <= now:
        return None
    if limit is not None and now - once <= limit:
        return Due(plan, once, caught_up=True)
    return Due(plan, None, once, f"{reason}: {_slots_text(1, False)}")


def catch_up_plan(loaded: list[tuple[Plan, int, int | None]], now: int) -> tuple[list[Due], list[int | None]]:
    """At start: (the dues of missed slots, the next fire instant of each agent; None: a spent one-shot).

    ``loaded``: (plan, last known point, stored next_run_at). Pure and possibly
    long (thousands of agents): run it in a thread.
    """
    allowance = {id(plan): plan.deadline_ms for plan, _, _ in loaded}
    dues = missed_dues([(plan, last) for plan, last, _ in loaded], now, DOWN_REASON, allowance)
    nexts: dict[tuple[str, str, int | None], int | None] = {}
    result = []
    for plan, _, _ in loaded:
        key = plan.key
        if key not in nexts:
            nexts[key] = plan.next_after(now)
        result.append(nexts[key])
    return dues, result


def dues_of(popped: list[tuple[int, dict[str, Plan]]], now: int) -> tuple[list[Due], list[Plan]]:
    """The dues of instants popped from the heap, and every plan they fired."""
    dues: list[Due] = []
    late: list[tuple[Plan, int]] = []
    nexts: dict[tuple[str, str, int | None, int], int] = {}
    for slot, bucket in popped:
        on_time = now - slot <= ON_TIME_MS
        for plan in bucket.values():
            key = (*plan.key, slot)
            nxt = nexts.get(key)
            if nxt is None:
                nxt = nexts[key] = plan.next_after(slot) or NEVER
            if on_time and nxt > now:
                dues.append(Due(plan, slot))  # the usual case
            else:
                late.append((plan, slot - 1))
    if late:  # woke up late (suspend, blocked loop): slots since the planned one were missed
        allowance = {id(plan): max(plan.deadline_ms or 0, ON_TIME_MS) for plan, _ in late}
        dues.extend(missed_dues(late, now, PAUSED_REASON, allowance))
    fired = [due.plan for due in dues]
    fired.extend(plan for plan, _ in late)
    return dues, fired


def prepare(
    slot: int, plans: list[Plan], epoch: int, encode: Callable[[list[SlotClaim]], EncodedClaims]
) -> Prepared:
    """The claims of instant ``slot`` for ``plans``, built ahead of time."""
    ids = new_run_ids(len(plans))
    claims: list[SlotClaim] = [
        (run_id, plan.agent_id, slot, "queued") for run_id, plan in zip(ids, plans, strict=True)
    ]
    keys = {plan.key: plan for plan in plans}
    return Prepared(
        slot=slot,
        epoch=epoch,
        plans=plans,
        claims=claims,
        encoded=encode(claims),
        index={plan.agent_id: i for i, plan in enumerate(plans)},
        first_next=min((plan.next_after(slot) or NEVER) for plan in keys.values()),
    )
