"""AgentService: the one home of the business rules.

The API and the TUI (through the API) are thin; the scheduler and the runner
call in here or are called from here. Everything returned is already in the
API's JSON shape (camelCase keys, ISO timestamps).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol

from app.agent_list import AgentListBody, sort_key
from app.agent_rules import check_trigger, next_run_at
from app.agent_secrets import sealed_env
from app.auth import User, new_id
from app.channel_service import ChannelService
from app.cron import next_fire_time
from app.errors import Conflict, NotFound, ServiceError, ValidationError
from app.events import EventBus
from app.model import Agent, agent_from_row, to_columns

# The API's JSON of agents, runs and events comes from the model; re-exported for the callers of old.
from app.model import agent_json as agent_json
from app.model import event_json as event_json
from app.model import run_json as run_json
from app.model.agent import Part
from app.model.channel import delivery_json
from app.model.node import node_json
from app.secret_box import SecretBox
from app.start_checks import StartChecks
from app.stats import PERIOD_DAYS, Stats
from app.timeutil import DayCalendar, from_datetime, now_ms, to_datetime
from app.validation import parse_agent_create, parse_agent_update, parse_run_body
from storage.interface import Row, Storage

NO_BODY: Mapping[str, Any] = MappingProxyType({})
DEFAULT_PERIOD = "7d"
DEFAULT_RUN_LIMIT = 100
MAX_RUN_LIMIT = 1000


class RunControl(Protocol):
    """What the service needs from the runner."""

    async def start_manual(self, agent: Agent, run_input: str | None = None) -> str: ...

    async def cancel_agent_runs(self, agent_id: str) -> int: ...


AgentListener = Callable[[str, Agent | None, str], None]
"""Called as ``listener(kind, agent_or_None, agent_id)`` after a change;
kind is ``created``, ``updated`` or ``deleted`` (then the agent is None)."""


def parse_period(value: str | None, default: str | None = DEFAULT_PERIOD) -> str | None:
    if value is None:
        return default
    if value not in PERIOD_DAYS:
        raise ValidationError({"period": "must be one of 24h, 7d, 30d"}, "Invalid period")
    return value


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_RUN_LIMIT
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_RUN_LIMIT:
        raise ValidationError({"limit": f"must be an integer from 1 to {MAX_RUN_LIMIT}"}, "Invalid limit")
    return limit


class AgentService:
    def __init__(
        self,
        store: Storage,
        bus: EventBus | None = None,
        *,
        runner: RunControl | None = None,
        calendar: DayCalendar | None = None,
        stats_zone: str = "UTC",
        default_timezone: str = "UTC",
        clock: Callable[[], int] = now_ms,
        channels: ChannelService | None = None,
        checks: StartChecks | None = None,
        secrets: SecretBox | None = None,
    ) -> None:
        """``runner`` None: a service that manages agents but starts no run (tests, tools);
        ``calendar`` (the stats zone's days) defaults to one for ``stats_zone``; ``channels``
        checks the channels agents name; ``checks`` refuses manual runs over a spend cap;
        ``secrets`` seals the agents' secrets (none: an agent with secrets cannot be saved)."""
        self.store = store
        self.bus = bus or EventBus()
        self.calendar = calendar or DayCalendar(stats_zone)
        self.stats = Stats(store, self.calendar, clock)
        self.default_timezone = default_timezone
        self.clock = clock
        self.runner = runner
        self.channels = channels
        self.checks = checks
        self.secrets = secrets
        self.listeners: list[AgentListener] = []
        self._list_cache: tuple[int, bytes] | None = None
        self._list_body = AgentListBody(agent_json)

    # -- start-up ---------------------------------------------------------

    async def prepare(self) -> None:
        """Make the stats rollups match the stats zone (rebuilt if the zone changed)."""
        zone = await self.store.stats.rollup_zone()
        if zone != self.calendar.zone:
            await self.store.stats.rebuild_rollups(self.calendar.zone, self.calendar.day_of)

    def day_of(self, ms: int) -> str:
        return self.calendar.day_of(ms)

    # -- agents -----------------------------------------------------------

    async def _agent_row(self, agent_id: str) -> Row:
        row = await self.store.agents.get(agent_id)
        if row is None:
            raise NotFound("Agent not found")
        return row

    async def get_agent(self, agent_id: str) -> dict[str, Any]:
        return agent_json(await self._agent_row(agent_id))

    async def list_agents(self) -> list[dict[str, Any]]:
        """Every agent, alphabetically by name as people read it (case-insensitive)."""
        rows = await self.store.agents.all()
        rows.sort(key=lambda r: sort_key(r["name"], r["id"]))
        return [agent_json(r) for r in rows]

    async def list_agents_body(self) -> bytes:
        """``{"data": [...]}`` for ``GET /api/agents``, encoded once per database change."""
        await self.store.refresh_generation()
        cached = self._list_cache
        if cached is not None and cached[0] == self.store.generation:
            return cached[1]
        generation = self.store.generation
        body = self._list_body.build(await self.store.agents.all())
        self._list_cache = (generation, body)
        return body

    async def _check_references(self, parsed: Any) -> None:
        """The channels and agents a body names exist."""
        notify = getattr(parsed, "notify", None)
        if notify is not None and notify.channels and self.channels is not None:
            await self.channels.check_channels("notify", notify.channels, prefix="channels: ")
        problems = {}
        for name, key in (("on_success", "onSuccess"), ("on_failure", "onFailure")):
            missing = await self.store.agents.missing(getattr(parsed, name, None) or ())
            if missing:
                problems[key] = "no such agent: " + ", ".join(missing)
        if problems:
            raise ValidationError(problems)

    async def create_agent(self, body: Any, user: User | None) -> dict[str, Any]:
        parsed = parse_agent_create(body)
        await self._check_references(parsed)
        values = to_columns(parsed)
        values["env"] = sealed_env(parsed.env, None, self.secrets)  # type: ignore[attr-defined]
        if values["timezone"] is None:
            values["timezone"] = self.default_timezone
        now = self.clock()
        check_trigger(values, values, False, now)
        values.update(
            id=new_id("agt"),
            creator_id=user.id if user else None,
            created_at=now,
            updated_at=now,
            next_run_at=next_run_at(values, now, _next_fire),
        )
        row = await self.store.agents.insert(values)
        agent = agent_json(row)
        self._changed("created", row["id"], row, agent)
        return agent

    async def update_agent(self, agent_id: str, body: Any) -> dict[str, Any]:
        parsed = parse_agent_update(body)
        current = await self._agent_row(agent_id)
        parsed = _merge_parts(parsed, agent_from_row(current))
        await self._check_references(parsed)
        values = to_columns(parsed, only_sent=True)
        if "env" in values:
            values["env"] = sealed_env(parsed.env, current["env"], self.secrets)
        now = self.clock()
        if values:
            merged = {**dict(agent_from_row(current)), **values}
            check_trigger(merged, values, bool(current["enabled"]), now)
            values["updated_at"] = now
            if values.get("enabled") and not current["enabled"]:
                # Enabled again (by hand): a pause is over, and so is the streak that caused it.
                values.update(paused_reason=None, failure_streak=0)
            if {"schedule", "run_at", "timezone", "enabled"} & values.keys():
                values["next_run_at"] = next_run_at(merged, now, _next_fire)
        row = await self.store.agents.update(agent_id, values)
        if row is None:
            raise NotFound("Agent not found")
        agent = agent_json(row)
        if values:
            self._changed("updated", agent_id, row, agent)
        return agent

    async def end_one_shot(self, agent_id: str, run_at: int) -> None:
        """A one-shot agent whose time came (it ran, was skipped or missed): disabled, as if edited.

        Only while it is still enabled for that very time (an edit may have set another)."""
        row = await self.store.agents.end_one_shot(agent_id, run_at, self.clock())
        if row is not None:
            self._changed("updated", agent_id, row, agent_json(row))

    async def delete_agent(self, agent_id: str) -> dict[str, Any]:
        row = await self._agent_row(agent_id)
        if self.runner is not None:
            await self.runner.cancel_agent_runs(agent_id)
        removed = await self.store.agents.delete(agent_id)
        self._changed("deleted", agent_id)
        return {"id": row["id"], "name": row["name"], "deletedRuns": removed}

    async def count_runs(self, agent_id: str) -> int:
        await self._agent_row(agent_id)
        return await self.store.agents.count_runs(agent_id)

    def changed(self, row: Row) -> None:
        """An agent's row changed other than by an edit (its trigger secret): tell as an update."""
        self._changed("updated", row["id"], row, agent_json(row))

    def _changed(
        self, kind: str, agent_id: str, row: Row | None = None, agent: dict[str, Any] | None = None
    ) -> None:
        """Tell listeners (the typed agent) and the event bus (its JSON) of a change."""
        self._list_cache = None
        typed = agent_from_row(row) if row is not None else None
        for listener in list(self.listeners):
            listener(kind, typed, agent_id)
        self.bus.publish(f"agent.{kind}", agentId=agent_id, agent=agent)

    async def apply_remote_change(self, kind: str, agent_id: str) -> None:
        """Another process created, updated or deleted an agent: tell listeners and the bus."""
        row = await self.store.agents.get(agent_id)
        if row is None:
            self._changed("deleted", agent_id)
        else:
            self._changed("updated" if kind == "deleted" else kind, agent_id, row, agent_json(row))

    def subscribe(self, listener: AgentListener) -> None:
        """Call ``listener`` after every agent change (also those of other processes)."""
        self.listeners.append(listener)

    def unsubscribe(self, listener: AgentListener) -> None:
        with contextlib.suppress(ValueError):
            self.listeners.remove(listener)

    # -- runs -------------------------------------------------------------

    async def run_refusal(self, agent: Agent) -> str | None:
        """Why a run asked for now (by hand, by a webhook) must not start; None: it may."""
        return None if self.checks is None else await self.checks.refuse_manual(agent)

    async def trigger_run(self, agent_id: str, body: Mapping[str, Any] | Any = NO_BODY) -> str:
        """Start a run now; ``body``: the request's JSON (``{"input": ...}``; ``{}``: none sent)."""
        run_input = parse_run_body(body)
        agent = agent_from_row(await self._agent_row(agent_id))
        if self.runner is None:
            raise ServiceError("This server has no runner", None)
        if self.checks is not None:
            refusal = await self.checks.refuse_manual(agent)
            if refusal is not None:
                raise Conflict(refusal)
        return await self.runner.start_manual(agent, run_input)

    async def cancel_runs(self, agent_id: str) -> int:
        await self._agent_row(agent_id)
        cancelled = await self.runner.cancel_agent_runs(agent_id) if self.runner else 0
        if cancelled == 0:
            raise NotFound("No running executions found for this agent")
        return cancelled

    async def list_runs(
        self, agent_id: str, limit: int = DEFAULT_RUN_LIMIT, period: str | None = None
    ) -> list[dict[str, Any]]:
        await self._agent_row(agent_id)
        since = self.clock() - PERIOD_DAYS[period] * 86_400_000 if period else None
        return [run_json(r) for r in await self.store.runs.history(agent_id, limit, since)]

    async def get_run(self, agent_id: str, run_id: str) -> dict[str, Any]:
        row = await self.store.runs.get(run_id)
        if row is None or row["agent_id"] != agent_id:
            raise NotFound("Run not found")
        run = run_json(row)
        run["events"] = [event_json(e) for e in await self.store.runs.events(run_id)]
        run["deliveries"] = [delivery_json(d) for d in await self.store.deliveries.for_run(run_id)]
        return run

    # -- stats ------------------------------------------------------------

    async def agent_stats(self, agent_id: str, period: str) -> dict[str, Any]:
        return await self.stats.agent_stats(await self._agent_row(agent_id), period)

    async def global_stats(self, period: str) -> dict[str, Any]:
        return await self.stats.global_stats(period)

    # -- nodes ------------------------------------------------------------

    async def list_nodes(self) -> list[dict[str, Any]]:
        """The servers sharing this database (first started first), with their runs now."""
        running: dict[str, int] = {}
        queued: dict[str, int] = {}
        for run in await self.store.runs.active():
            counts = running if run["status"] == "running" else queued
            counts[run["owner"]] = counts.get(run["owner"], 0) + 1
        now = now_ms()
        return [
            node_json(row, now, running.get(row["id"], 0), queued.get(row["id"], 0))
            for row in await self.store.leases.all()
        ]


def _next_fire(schedule: str, timezone: str, now: int) -> int:
    return from_datetime(next_fire_time(schedule, timezone, to_datetime(now)))


def _merge_parts(parsed: Any, current: Agent) -> Any:
    """An update's groups of settings (``notify``, ``retry``) with the keys not sent kept as they are."""
    merged = {}
    for name in parsed.model_fields_set:
        value = getattr(parsed, name)
        if isinstance(value, Part):
            kept = getattr(current, name).model_dump()
            merged[name] = type(value).model_validate({**kept, **value.model_dump(exclude_unset=True)})
    return parsed.model_copy(update=merged) if merged else parsed
