"""Who hears of what: an event's channels, and the deliveries that tell them.

An agent's alerts go to its ``notify.channels``, or, when it names none, to
the default channels of the settings; an event is sent only when its topic
is in the agent's ``notify.on`` (``failure``, ``recovery``, ``success``,
``budget``, ``missed``, ``paused``). Alerts of the whole server (a global
spend cap, the usage limit) go to the default channels. Disabled channels
are left out. Every alert is recorded with its deliveries in one
transaction (see :mod:`storage.alerts`), then the deliverer is woken.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from app.auth import new_id
from app.model import Agent, agent_from_row, agent_json
from app.notify.payloads import body, encode
from app.settings import load_settings
from app.timeutil import iso, now_ms
from storage.interface import Alert, NewDelivery, Storage

log = logging.getLogger("cronagents.alerts")

GLOBAL_SCOPE = "*"
"""The alert-state scope of alerts about the whole server."""


class Alerts:
    """Builds and records alerts; ``wake`` is told when new deliveries wait."""

    def __init__(
        self,
        store: Storage,
        *,
        base_url: str | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/") if base_url else None
        self.clock = clock
        self._wakers: list[Callable[[], None]] = []

    def on_raised(self, wake: Callable[[], None]) -> None:
        """Call ``wake()`` whenever deliveries were recorded (the deliverer's doorbell)."""
        self._wakers.append(wake)

    async def channels_for(self, agent: Agent | None, topic: str | None) -> list[str]:
        """The enabled channels an alert goes to (``topic`` None: not gated by ``notify.on``)."""
        if agent is not None and topic is not None and topic not in agent.notify.on:
            return []
        ids = list(agent.notify.channels) if agent is not None and agent.notify.channels else []
        if not ids:
            ids = list((await load_settings(self.store)).notify_channels)
        if not ids:
            return []
        enabled = {row["id"] for row in await self.store.channels.all() if row["enabled"]}
        return [i for i in ids if i in enabled]

    def links(self, agent_id: str | None, run_id: str | None) -> dict[str, str] | None:
        if self.base_url is None or agent_id is None:
            return None
        out = {"agent": f"{self.base_url}/api/agents/{agent_id}"}
        if run_id is not None:
            out["run"] = f"{self.base_url}/api/agents/{agent_id}/runs/{run_id}"
        return out

    def deliveries(
        self,
        event: str,
        channel_ids: Sequence[str],
        agent: dict[str, Any] | None,
        run: dict[str, Any] | None,
        **extra: Any,
    ) -> list[NewDelivery]:
        """One delivery per channel, all with the same body."""
        if not channel_ids:
            return []
        agent_id = agent["id"] if agent else None
        run_id = run["id"] if run else None
        payload = encode(
            body(event, iso(self.clock()) or "", agent, run, links=self.links(agent_id, run_id), **extra)
        )
        return [
            NewDelivery(new_id("msg"), channel_id, event, payload, agent_id=agent_id, run_id=run_id)
            for channel_id in channel_ids
        ]

    async def alert(
        self,
        event: str,
        topic: str | None,
        agent: Agent | None,
        agent_json: dict[str, Any] | None,
        run: dict[str, Any] | None = None,
        *,
        once: tuple[str, str, str] | None = None,
        **extra: Any,
    ) -> Alert | None:
        """The alert of an event about ``agent`` (None when nobody is to hear of it)."""
        channels = await self.channels_for(agent, topic)
        deliveries = self.deliveries(event, channels, agent_json, run, **extra)
        return Alert(deliveries, once) if deliveries else None

    async def missed(self, agent: Agent, slots: Sequence[tuple[int, str]]) -> Alert | None:
        """``agent.missed`` for slots ``(instant, reason)`` that did not start: once per streak
        (the streak ends when a scheduled run of the agent starts)."""
        row = await self.store.agents.get(agent.id)
        if row is None or not slots:
            return None
        return await self.alert(
            "agent.missed",
            "missed",
            agent,
            agent_json(row),
            None,
            once=(agent.id, "missed", "open"),
            missed={"slots": [iso(at) for at, _ in slots], "reason": slots[-1][1]},
        )

    async def missed_slots(self, slots: Sequence[tuple[str, int, str]]) -> None:
        """``agent.missed`` for scheduled slots ``(agent_id, instant, reason)`` that did not start."""
        by_agent: dict[str, list[tuple[int, str]]] = {}
        for agent_id, at, reason in slots:
            by_agent.setdefault(agent_id, []).append((at, reason))
        alerts = []
        for agent_id, missed in by_agent.items():
            row = await self.store.agents.get(agent_id)
            if row is not None:
                alerts.append(await self.missed(agent_from_row(row), sorted(missed)))
        await self.record(alerts)

    async def record(self, alerts: Sequence[Alert | None]) -> int:
        """Record alerts (each once per its ``once``); wakes the deliverer when any was new."""
        kept = [a for a in alerts if a is not None]
        if not kept:
            return 0
        count = await self.store.deliveries.raise_alerts(kept, self.clock())
        if count:
            self.raised()
        return count

    def raised(self) -> None:
        for wake in self._wakers:
            wake()
