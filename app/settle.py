"""What follows the end of a run: a retry, the agent's failure streak, auto-pause, alerts.

A run that ends ``success``, ``error`` or ``budget_exceeded`` is recorded
*unsettled* in the transaction that ends it; :meth:`Settler.settle` then
decides, from the run and its agent, and records in one transaction:

* ``error`` with attempts left (``retry.attempts``): a retry run, queued until
  ``backoffSeconds * 2^(attempt-1)`` (at most ``maxBackoffSeconds``, ±10 %
  jitter) from now; nothing else - the failure is not counted or sent yet.
* ``error`` (no attempts left) or ``budget_exceeded``: the streak grows by one
  (a run and its retries count once); ``run.failed`` is sent (with
  ``onlyOnChange``, only for the first failure of a streak); at
  ``pauseAfterFailures`` the agent is disabled with a reason and
  ``agent.paused`` sent.
* ``success``: the streak ends; ``run.recovered`` if there was one, else
  ``run.succeeded`` when asked for.
* any cost: ``budget.threshold`` once per window where the spend reached 80 %
  of a cap.
* a success, or a failure with no attempts left: the agents of ``onSuccess``
  / ``onFailure`` get chained runs (:mod:`app.chains`).

Settling is exactly once: the transaction applies only to a run still
unsettled and an agent whose streak is the one decided on (else it decides
again from fresh rows). Runs whose server died before settling them are
settled by any live server (:meth:`Settler.settle_pending`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from app.alerts import GLOBAL_SCOPE, Alerts
from app.auth import new_id
from app.chains import chained_runs
from app.model import Agent, agent_from_row, agent_json, run_json
from app.spend import THRESHOLD, SpendGate
from app.timeutil import iso, now_ms
from storage.interface import Alert, ChainedRun, RetryRun, Row, Settlement, Storage

log = logging.getLogger("cronagents.settle")

USAGE_LIMIT_PREFIX = "usage limit reached"
"""How the output of a run stopped by the subscription's usage limit begins (see the runner)."""
JITTER = 0.1
CONFLICT_TRIES = 5


def backoff_ms(agent: Agent, attempt: int, unit: float) -> int:
    """The wait before the retry after ``attempt`` (1: the first run); ``unit`` in [0, 1) jitters it."""
    retry = agent.retry
    base = min(retry.max_backoff_seconds, retry.backoff_seconds * 2 ** (attempt - 1))
    jittered = base * (1 - JITTER + 2 * JITTER * unit)
    return int(min(retry.max_backoff_seconds, jittered) * 1000)


def runs_to_start(settlement: Settlement) -> list[tuple[str, str, int | None]]:
    """The runs a settlement queued, ``(run_id, agent_id, not_before)``: its retry, its chained runs."""
    out: list[tuple[str, str, int | None]] = []
    if (retry := settlement.retry) is not None:
        log.info(
            "run %s of agent %s: attempt %d at %s",
            settlement.run_id,
            settlement.agent_id,
            retry.attempt,
            iso(retry.not_before),
        )
        out.append((retry.run_id, settlement.agent_id, retry.not_before))
    for chained in settlement.chained:
        if chained.skipped is None:
            log.info("run %s chained to agent %s", settlement.run_id, chained.agent_id)
            out.append((chained.run_id, chained.agent_id, None))
    return out


class Settler:
    """Settles ended runs (see the module docstring)."""

    def __init__(
        self,
        store: Storage,
        alerts: Alerts,
        gate: SpendGate,
        owner: str,
        *,
        clock: Callable[[], int] = now_ms,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.alerts = alerts
        self.gate = gate
        self.owner = owner
        self.clock = clock
        self.jitter = jitter

    async def settle(self, run_id: str) -> Settlement | None:
        """Settle one run; the settlement recorded (None: nothing to do, or another server did it)."""
        for _ in range(CONFLICT_TRIES):
            run = await self.store.runs.get(run_id)
            if run is None or not run["unsettled"]:
                return None
            agent = await self.store.agents.get(run["agent_id"])
            if agent is None:
                return None
            settlement = await self.decide(run, agent)
            outcome = await self.store.runs.settle(settlement, self.gate.calendar.day_of)
            if outcome == "settled":
                if any(a.deliveries for a in settlement.alerts):
                    self.alerts.raised()
                if settlement.pause_reason:
                    log.warning("agent %s %s", settlement.agent_id, settlement.pause_reason)
                return settlement
            if outcome == "already":
                return None
        log.error("run %s: its agent's streak kept changing; settling it later", run_id)
        return None

    async def pending(self) -> list[str]:
        """Ids of ended runs not settled yet (by any server), oldest end first."""
        return [row["id"] for row in await self.store.runs.unsettled()]

    async def decide(self, run: Row, row: Row) -> Settlement:
        agent = agent_from_row(row)
        streak = int(row["failure_streak"])
        now = self.clock()
        status = run["status"]
        attempt = int(run["attempt"] or 1)
        wire_agent = agent_json(row)
        wire_run = run_json(run)
        notify = agent.notify
        alerts: list[Alert | None] = []
        retry = None
        pause = None
        chained: list[ChainedRun] = []
        new_streak = streak
        usage_limited = (run["output"] or "").startswith(USAGE_LIMIT_PREFIX)
        if status == "error" and usage_limited:
            pass  # not the agent's failure: the runner alerted of the limit, and starts are held
        elif status == "error" and attempt <= agent.retry.attempts:
            retry = RetryRun(
                run_id=new_id("run"),
                attempt=attempt + 1,
                retry_of=run["retry_of"] or run["id"],
                not_before=now + backoff_ms(agent, attempt, self.jitter()),
                owner=self.owner,
            )
        elif status in ("error", "budget_exceeded"):
            chained = await chained_runs(self.store, run, agent, self.owner)
            new_streak = streak + 1
            if pause_after := agent.pause_after_failures:
                if new_streak >= pause_after and agent.enabled:
                    pause = f"paused after {new_streak} consecutive failures"
                    wire_agent = {**wire_agent, "enabled": False, "pausedReason": pause, "nextRunAt": None}
            if not notify.only_on_change or streak == 0:
                alerts.append(await self.alerts.alert("run.failed", "failure", agent, wire_agent, wire_run))
            if pause:
                alerts.append(await self.alerts.alert("agent.paused", "paused", agent, wire_agent, wire_run))
        elif status == "success":
            chained = await chained_runs(self.store, run, agent, self.owner)
            new_streak = 0
            if streak > 0 and "recovery" in notify.on:
                alerts.append(
                    await self.alerts.alert("run.recovered", "recovery", agent, wire_agent, wire_run)
                )
            else:
                alerts.append(
                    await self.alerts.alert("run.succeeded", "success", agent, wire_agent, wire_run)
                )
        if run["cost_usd"]:
            alerts.extend(await self._thresholds(agent, wire_agent, wire_run))
        return Settlement(
            run_id=run["id"],
            agent_id=run["agent_id"],
            at=now,
            expected_streak=streak,
            streak=new_streak,
            pause_reason=pause,
            retry=retry,
            alerts=[a for a in alerts if a is not None],
            chained=chained,
        )

    async def _thresholds(
        self, agent: Agent, wire_agent: dict[str, Any], wire_run: dict[str, Any]
    ) -> list[Alert | None]:
        """``budget.threshold`` for each window at 80 % of its cap (once per window, by its state)."""
        out: list[Alert | None] = []
        for window in await self.gate.windows(agent):
            if window.spent < THRESHOLD * window.cap:
                continue
            scope = agent.id if window.scope == "agent" else GLOBAL_SCOPE
            once = (scope, f"budget.threshold.{window.window}", window.key)
            if window.scope == "agent":
                alert = await self.alerts.alert(
                    "budget.threshold", "budget", agent, wire_agent, wire_run, once=once, budget=window.json()
                )
            else:
                alert = await self.alerts.alert(
                    "budget.threshold", None, None, wire_agent, wire_run, once=once, budget=window.json()
                )
            out.append(alert)
        return out
