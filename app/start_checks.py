"""What is checked before a run starts, and after one meets the subscription's usage limit.

Before any run starts (scheduled, manual, retry), :meth:`StartChecks.before_start`
refuses it (:class:`Skipped`, recorded ``skipped`` with the reason) when

* it is a scheduled run that waited for a free run slot past its catch-up
  window (``startingDeadlineSeconds``, at least :data:`QUEUE_GRACE_MS`):
  ``agent.missed`` is sent, once per streak of missed slots;
* new starts are held after a usage limit, or a spend cap of the agent or of
  the server is reached: ``budget.exceeded`` is sent, once per window;

and otherwise says what the run may spend. After a run that ended in error
with the usage-limit message, :meth:`StartChecks.usage_limit` holds new
starts until the limit resets and sends ``usage.limited`` once.
"""

from __future__ import annotations

import logging

from app.alerts import GLOBAL_SCOPE, Alerts
from app.model import Agent, agent_json, run_json
from app.settle import USAGE_LIMIT_PREFIX
from app.spend import SpendGate, Verdict, usage_limit_reset
from app.timeutil import iso
from storage.interface import Row, Storage

log = logging.getLogger("cronagents.runner")

QUEUE_GRACE_MS = 60_000
"""A scheduled run may wait this long for a free run slot even with no catch-up window."""


class Skipped(Exception):
    """A queued run will not start (a spend cap, the usage hold, a slot too late): why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StartChecks:
    """The checks of :mod:`app.start_checks`, for one server's runner."""

    def __init__(self, store: Storage, gate: SpendGate, alerts: Alerts) -> None:
        self.store = store
        self.gate = gate
        self.alerts = alerts

    async def before_start(self, agent: Agent, queued: Row) -> Verdict:
        """What the run may spend; raises :class:`Skipped` when it must not start."""
        await self._too_late(agent, queued)
        verdict = await self.gate.verdict(agent)
        if verdict.refusal is not None:
            await self._alert_refusal(agent, verdict, queued)
            raise Skipped(verdict.refusal)
        return verdict

    async def refuse_manual(self, agent: Agent) -> str | None:
        """Why a run asked for now must not start (a cap reached, the usage hold); None: it may."""
        verdict = await self.gate.verdict(agent)
        if verdict.refusal is not None:
            await self._alert_refusal(agent, verdict, None)
        return verdict.refusal

    async def _too_late(self, agent: Agent, queued: Row) -> None:
        """A scheduled run that waited for a free run slot past its catch-up window does not start."""
        slot = queued["scheduled_for"]
        if queued["trigger"] != "schedule" or slot is None:
            return
        allowance = max((agent.starting_deadline_seconds or 0) * 1000, QUEUE_GRACE_MS)
        waited = self.gate.clock() - slot
        if waited > allowance:
            reason = (
                f"missed: waited {waited // 1000} s for a free run slot "
                f"(more than the catch-up window of {allowance // 1000} s)"
            )
            await self.alerts.record([await self.alerts.missed(agent, [(slot, reason)])])
            raise Skipped(reason)

    async def _alert_refusal(self, agent: Agent, verdict: Verdict, queued: Row | None) -> None:
        """``budget.exceeded``, once per window, when a cap refused a run."""
        window = verdict.window
        if window is None:
            return  # the usage hold: alerted when the limit was met
        row = await self.store.agents.get(agent.id)
        wire_agent = agent_json(row) if row is not None else None
        scope = agent.id if window.scope == "agent" else GLOBAL_SCOPE
        run = run_json(queued) if queued is not None else None
        once = (scope, f"budget.exceeded.{window.window}", window.key)
        extra = {"budget": window.json()}
        if window.scope == "agent":
            alert = await self.alerts.alert(
                "budget.exceeded", "budget", agent, wire_agent, run, once=once, **extra
            )
        else:
            alert = await self.alerts.alert(
                "budget.exceeded", None, None, wire_agent, run, once=once, **extra
            )
        await self.alerts.record([alert])

    async def usage_limit(self, agent: Agent, output: str) -> str:
        """When the run met the subscription's usage limit: hold new starts until it resets, alert once."""
        until = usage_limit_reset(output, self.gate.clock(), self.gate.calendar.zone)
        if until is None:
            return output
        await self.gate.hold(until)
        text = f"{USAGE_LIMIT_PREFIX}: new runs are held until {self.gate.clock_text(until)} ({output})"
        log.warning("usage limit reached: new runs are held until %s", iso(until))
        row = await self.store.agents.get(agent.id)
        alert = await self.alerts.alert(
            "usage.limited",
            None,
            agent,
            agent_json(row) if row is not None else None,
            None,
            once=(GLOBAL_SCOPE, "usage.limited", str(until)),
            usageLimit={"until": iso(until), "message": output},
        )
        await self.alerts.record([alert])
        return text
