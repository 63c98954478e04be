"""The cron scheduler: one heap of fire instants, one timer, exactly-once claims.

How it works
------------

* Every enabled agent has a *plan*: its schedule, zone, policy and the next
  instant it fires (``next_ms``). Plans due at the same instant share a
  *bucket* (``{fire_ms: {agent_id: plan}}``); the heap holds the bucket
  instants. One timer task sleeps until the earliest instant, never polls.
  Re-planning an agent (create, update, enable, disable, delete through
  :class:`~app.service.AgentService`, which calls our listener synchronously,
  also for edits made by other processes) moves it between buckets in O(1)
  and wakes the timer when the earliest instant changed; emptied buckets are
  dropped lazily when they reach the top of the heap.
* Agents sharing ``(schedule, timezone)`` share the croniter work: after a
  fire the next instant is computed once per group, not once per agent.
* While idle, the claims of the next instant are built (run ids and the
  encoded claim statement). Large instants (at least ``claim_ahead_min``
  agents, default 500) are even claimed :data:`CLAIM_AHEAD_MS` (PostgreSQL: 2.5 s) before the
  slot: inserting 10,000 claim rows takes SQLite 40-80 ms, too long for the
  instant itself. ``stop()`` releases claims not yet handed over.
* At an instant, one fire batch (:mod:`app.scheduler.firing`) applies each
  agent's ``concurrencyPolicy`` — ``forbid`` (default) records the slot as
  ``skipped`` when the agent still has a queued or running run (any
  process); ``allow`` runs it; ``replace`` cancels the agent's runs, then
  runs it — claims the slots (unique agent + scheduled time, so a slot runs
  once even with several processes on one database) and hands the runs whose
  claim succeeded to the runner. Then the new ``next_run_at`` of every fired
  agent is written in one transaction and an ``agent.scheduled`` event is
  published per agent.
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
  :data:`~app.scheduler.plans.ON_TIME_MS` of its time is simply on time;
  older ones are caught up within ``max(startingDeadlineSeconds, ON_TIME_MS)``.
  Counting stops at :data:`~app.scheduler.plans.MISSED_COUNT_LIMIT` (a week
  of a minutely schedule); beyond that the reason says "at least N slots".

The clock is injected (:class:`~app.clock.SystemClock`, or a fake
clock in tests), so tests never wait for real time.

Modules: ``engine`` (the Scheduler: plans, the heap of instants, the timer),
``firing`` (one fire batch: policies, exactly-once claims, hand-over),
``plans`` (plans, dues and missed-slot maths; pure), ``clock`` (the
injected wall clock).
"""

from app.clock import Clock, SystemClock
from app.scheduler.engine import Scheduler
from app.scheduler.firing import RunStarter

__all__ = ["Clock", "RunStarter", "Scheduler", "SystemClock"]
