"""A canned API client for the snapshot tests: fixed agents, runs and stats, a silent stream.

Pictures must not depend on the time of day or the machine, so snapshots use
this and a frozen clock; every behaviour is tested against the real server in
``test_dashboard.py``. It answers what the real API answers, in the same shapes
(keys, types, nesting, errors as :class:`ApiError` with the same statuses), and
nothing more: ``test_fake_client_contract.py`` drives the same calls against it
and a real server and compares the two.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from app.client import ApiError
from tests.tui.fake_data import (
    AGENT_SHARE,
    AGENTS,
    CHANNELS,
    DELIVERIES,
    NODES,
    NOW,
    PERIOD_DAYS,
    RUNS,
    SETTINGS,
    TRANSCRIPT,
    TRIGGER_AGENTS,
    TRIGGER_RUNS,
    WEBHOOK_SECRET,
    _agent,
    _days,
    _iso,
    _totals,
    frozen_clock,
)

__all__ = ["AGENTS", "CHANNELS", "NOW", "RUNS", "FakeClient", "frozen_clock"]
CHANNEL_TYPES = ("webhook", "slack", "email")
CHANNEL_FIELDS = {"webhook": "url", "slack": "url", "email": "to"}
CAP = "must be greater than 0, or null for no cap"
SECRET_MASK = "********"
TRIGGER_SECRET = "whsec_Wq3bC9lE0sT7rJxM2vKpYd5nHf8gUa1i"
NEITHER = "is required (or runAt, for an agent that runs once)"
BOTH = "give either schedule or runAt, not both (send schedule: null to make the agent run once)"
MCP_SHAPE = 'must be an object of named servers, e.g. {"tracker": {"command": "npx", "args": [...]}}'


def _mcp_problem(servers: Any) -> str | None:
    """The MCP servers' shape, as the server words the usual mistakes."""
    if not isinstance(servers, dict):
        return MCP_SHAPE
    for name, server in servers.items():
        if not isinstance(server, dict):
            return f"{name}: must be an object"
        kind = server.get("type", "stdio")
        if kind == "stdio" and not server.get("command"):
            return f"{name}: command: is required for a stdio server (or type http / sse with url)"
        if kind in ("http", "sse") and not server.get("url"):
            return f"{name}: url: is required for type {kind}"
    return None


def _invalid_fields(
    body: dict[str, Any], creating: bool, agents: dict[str, dict[str, Any]] | None = None
) -> dict[str, str]:
    """The few rules the pictures need, worded as the server words them."""
    fields: dict[str, str] = {}
    for name in ("name", "prompt"):
        if name not in body:
            if creating:
                fields[name] = "is required"
        elif not str(body[name]).strip():
            fields[name] = "must not be empty"
    if "schedule" in body and body["schedule"] is not None and not str(body["schedule"]).strip():
        fields["schedule"] = "must not be empty"
    if creating and body.get("schedule") is None and body.get("runAt") is None:
        fields["schedule"] = NEITHER
    if body.get("schedule") is not None and body.get("runAt") is not None:
        fields["runAt"] = BOTH
    if "mcpServers" in body and (problem := _mcp_problem(body["mcpServers"])):
        fields["mcpServers"] = problem
    for key in ("onSuccess", "onFailure"):
        missing = [a for a in body.get(key) or [] if agents is not None and a not in agents]
        if missing:
            fields[key] = "no such agent: " + ", ".join(missing)
    schedule = str(body.get("schedule", "")).split()
    if len(schedule) == 5 and schedule[3] == "2" and schedule[2] in ("30", "31"):
        fields["schedule"] = f"never fires: day {schedule[2]} does not exist in February"
    return fields


def _invalid_channel(body: dict[str, Any], kind: str, creating: bool) -> dict[str, str]:
    """A channel's rules the tests need, worded as the server words them."""
    fields: dict[str, str] = {}
    if creating and "name" not in body:
        fields["name"] = "is required"
    elif "name" in body and not str(body["name"]).strip():
        fields["name"] = "must not be empty"
    if kind not in CHANNEL_TYPES:
        return {**fields, "type": "is required" if not kind else "must be one of webhook, slack, email"}
    article = "an" if kind == "email" else "a"
    for name in ("url", "to"):
        if CHANNEL_FIELDS[kind] == name:
            if (creating or name in body) and body.get(name) is None:
                fields[name] = f"is required for {article} {kind} channel"
        elif body.get(name) is not None:
            fields[name] = f"is not used by {article} {kind} channel"
    url = body.get("url")
    if isinstance(url, str) and not url.startswith(("http://", "https://")):
        fields["url"] = "must be an http:// or https:// URL with a host"
    return fields


class FakeClient:
    """Same methods as :class:`app.client.ApiClient`; answers from the tables above."""

    base_url = "http://fake"

    def __init__(self) -> None:
        self.agents = {a["id"]: copy.deepcopy(a) for a in AGENTS}
        self.runs = copy.deepcopy(RUNS)
        self.channels = {c["id"]: copy.deepcopy(c) for c in CHANNELS}
        self.settings = copy.deepcopy(SETTINGS)
        self.shares = dict(AGENT_SHARE)
        """Each agent's share of the canned daily runs and costs (none: it never ran)."""
        self._next_id = 100
        self.started: list[tuple[str, Any]] = []
        """(agent id, input) of each run started, for the tests."""
        self.refusal: str | None = None
        """Set it: runs are refused with this 409 (a spend cap)."""

    def add_triggers(self) -> FakeClient:
        """The chain, webhook and one-shot agents and runs of the triggers' pictures."""
        for agent in TRIGGER_AGENTS:
            self.agents[agent["id"]] = copy.deepcopy(agent)
        self.runs = copy.deepcopy(TRIGGER_RUNS) + self.runs
        return self

    def add_fleet(self, count: int) -> None:
        """``count`` more agents (``fleet 00000`` ...), for the tests at scale. One in ten has runs and
        costs (shares 0.1-0.7 of the canned days); the others never ran; one in seven is disabled."""
        schedules = ("*/15 * * * *", "0 9 * * 1-5", "30 6 * * 1", "0 */4 * * *")
        for i in range(count):
            agent = _agent(
                1000 + i,
                f"fleet {i:05d}",
                schedules[i % len(schedules)],
                enabled=i % 7 != 0,
                nextRunAt=_iso(NOW + timedelta(seconds=50 + 37 * i)),
                lastRunAt=_iso(NOW - timedelta(seconds=9 + 53 * i)) if i % 10 == 0 else None,
                lastStatus="success" if i % 10 == 0 else None,
            )
            self.agents[agent["id"]] = agent
            if i % 10 == 0:
                self.shares[agent["id"]] = (i % 7 + 1) / 10

    def _new_id(self, prefix: str) -> str:
        self._next_id += 1
        return f"{prefix}_{self._next_id:012d}"

    def _agent(self, agent_id: str) -> dict[str, Any]:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise ApiError(404, "Agent not found") from None

    async def aclose(self) -> None:
        pass

    async def list_agents(self) -> list[dict[str, Any]]:
        return sorted(self.agents.values(), key=lambda a: str(a["name"]).casefold())

    async def get_agent(self, agent_id: str) -> dict[str, Any]:
        return copy.deepcopy(self._agent(agent_id))

    async def create_agent(self, body: dict[str, Any]) -> dict[str, Any]:
        fields = _invalid_fields(body, creating=True, agents=self.agents)
        if fields:
            raise ApiError(400, f"Invalid fields: {', '.join(sorted(fields))}", fields)
        agent = _agent(
            0,
            str(body["name"]),
            body.get("schedule"),
            **{k: v for k, v in body.items() if k not in ("name", "schedule", "env")},
        )
        agent["env"] = {k: SECRET_MASK for k, v in (body.get("env") or {}).items() if v is not None}
        agent.update(id=self._new_id("agt"), createdAt=_iso(NOW), updatedAt=_iso(NOW))
        self.agents[agent["id"]] = agent
        return agent

    async def update_agent(self, agent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent(agent_id)
        merged = {**agent, **body}
        fields = _invalid_fields(body, creating=False, agents=self.agents)
        if not fields and merged.get("schedule") is None and merged.get("runAt") is None:
            fields["schedule"] = NEITHER
        if not fields and merged.get("schedule") is not None and merged.get("runAt") is not None:
            fields["runAt"] = BOTH
        if fields:
            raise ApiError(400, f"Invalid fields: {', '.join(sorted(fields))}", fields)
        env = dict(agent["env"])
        for name, value in (body.get("env") or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = SECRET_MASK
        agent.update(body, env=env, updatedAt=_iso(NOW))
        return copy.deepcopy(agent)

    async def delete_agent(self, agent_id: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        removed = [r for r in self.runs if r["agentId"] == agent_id]
        self.runs = [r for r in self.runs if r["agentId"] != agent_id]
        del self.agents[agent_id]
        return {"id": agent["id"], "name": agent["name"], "deletedRuns": len(removed)}

    async def run_agent(self, agent_id: str, input: Any = None) -> str:
        agent = self._agent(agent_id)
        cap = agent.get("dailyBudgetUsd")
        today = next((a["todayUsd"] for a in self._cost_by_agent("7d") if a["agentId"] == agent_id), 0.0)
        if self.refusal is None and cap is not None and today >= cap:
            self.refusal = f"budget: daily cap ${cap:.2f} reached, ${today:.2f} spent today"
        if self.refusal:
            raise ApiError(409, self.refusal)
        self.started.append((agent_id, input))
        return self._new_id("run")

    async def set_trigger_secret(self, agent_id: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        agent["triggerUrl"] = f"/hooks/agents/{agent_id}"
        return {"secret": TRIGGER_SECRET, "url": agent["triggerUrl"]}

    async def remove_trigger_secret(self, agent_id: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        agent["triggerUrl"] = None
        return copy.deepcopy(agent)

    async def cancel_agent(self, agent_id: str) -> int:
        self._agent(agent_id)
        running = [r for r in self.runs if r["agentId"] == agent_id and r["status"] in ("queued", "running")]
        if not running:
            raise ApiError(404, "No running executions found for this agent")
        return len(running)

    async def list_runs(
        self, agent_id: str, limit: int = 100, period: str | None = None
    ) -> list[dict[str, Any]]:
        self._agent(agent_id)
        return [r for r in self.runs if r["agentId"] == agent_id][:limit]

    async def get_run(self, agent_id: str, run_id: str) -> dict[str, Any]:
        run = next((r for r in self.runs if r["id"] == run_id and r["agentId"] == agent_id), None)
        if run is None:
            raise ApiError(404, "Run not found")
        return {
            **run,
            "events": TRANSCRIPT if run["status"] == "running" else TRANSCRIPT[:2],
            "deliveries": copy.deepcopy(DELIVERIES.get(run_id, [])),
        }

    async def agent_stats(self, agent_id: str, period: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        days = _days(PERIOD_DAYS[period], self.shares.get(agent_id, 0.0))
        totals = _totals(days)
        return {
            "totalRuns": totals["runs"],
            "successRate": totals["successRate"],
            "avgDurationMs": 45000 if totals["runs"] else 0,
            "totalCostUsd": totals["totalCostUsd"],
            "skippedRuns": 0,
            "lastRunAt": agent["lastRunAt"],
            "period": period,
            "dailyRuns": days,
        }

    async def global_stats(self, period: str) -> dict[str, Any]:
        days = _days(PERIOD_DAYS[period], 0.0)  # the sum of every agent's days
        for agent_id in self.agents:
            if not self.shares.get(agent_id):
                continue  # no runs, nothing to add
            for day, share in zip(days, _days(PERIOD_DAYS[period], self.shares[agent_id]), strict=True):
                for key in ("success", "error", "total", "skipped"):
                    day[key] += share[key]
                day["costUsd"] = round(day["costUsd"] + share["costUsd"], 6)
        totals = _totals(days)
        cost_by_agent = self._cost_by_agent(period)
        return {
            "totalAgents": len(self.agents),
            "activeAgents": sum(1 for a in self.agents.values() if a["enabled"]),
            "runsInPeriod": totals["runs"],
            "successRate": totals["successRate"],
            "avgDurationMs": 52000,
            "skippedRuns": 0,
            "totalCostUsd": totals["totalCostUsd"],
            "runningAgentIds": sorted(
                {r["agentId"] for r in self.runs if r["status"] in ("queued", "running")}
            ),
            "period": period,
            "dailyRuns": days,
            "costByAgent": cost_by_agent,
            "spend": {
                "todayUsd": round(sum(a["todayUsd"] for a in cost_by_agent), 6),
                "monthUsd": round(sum(a["monthUsd"] for a in cost_by_agent), 6),
                "dailyBudgetUsd": self.settings["dailyBudgetUsd"],
                "monthlyBudgetUsd": self.settings["monthlyBudgetUsd"],
            },
        }

    def _cost_by_agent(self, period: str) -> list[dict[str, Any]]:
        """Each agent's share of the period, as the real API lists it (most expensive first)."""
        out = []
        for agent_id, agent in self.agents.items():
            if not self.shares.get(agent_id):
                continue  # never ran
            days = _days(PERIOD_DAYS[period], self.shares[agent_id])
            totals = _totals(days)
            if totals["runs"] == 0:
                continue
            month = _days(7, self.shares[agent_id])  # 2025-01-01 .. 07
            out.append(
                {
                    "agentId": agent_id,
                    "name": agent["name"],
                    "costUsd": totals["totalCostUsd"],
                    "runs": totals["runs"],
                    "todayUsd": days[-1]["costUsd"],
                    "monthUsd": round(sum(d["costUsd"] for d in month), 6),
                }
            )
        out.sort(key=lambda a: (-a["costUsd"], a["name"].casefold()))
        return out

    # -- channels and settings ---------------------------------------------------------

    def _channel(self, channel_id: str) -> dict[str, Any]:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise ApiError(404, "Channel not found") from None

    async def list_channels(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(c) for c in sorted(self.channels.values(), key=lambda c: (c["name"], c["id"]))]

    async def create_channel(self, body: dict[str, Any]) -> dict[str, Any]:
        kind = str(body.get("type") or "")
        fields = _invalid_channel(body, kind, creating=True)
        if fields:
            raise ApiError(400, f"Invalid fields: {', '.join(sorted(fields))}", fields)
        url = body.get("url")
        channel = {
            "id": self._new_id("chn"),
            "name": str(body["name"]),
            "type": kind,
            "enabled": bool(body.get("enabled", True)),
            "url": "https://hooks.slack.com/services/…" if kind == "slack" else url,
            "to": body.get("to"),
            "createdAt": _iso(NOW),
            "updatedAt": _iso(NOW),
        }
        self.channels[channel["id"]] = channel
        secret = (body.get("secret") or WEBHOOK_SECRET) if kind == "webhook" else None
        return {**copy.deepcopy(channel), "secret": secret}

    async def update_channel(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(channel_id)
        fields = _invalid_channel(body, channel["type"], creating=False)
        if fields:
            raise ApiError(400, f"Invalid fields: {', '.join(sorted(fields))}", fields)
        channel.update({k: v for k, v in body.items() if k in ("name", "enabled", "url", "to")})
        channel["updatedAt"] = _iso(NOW)
        return copy.deepcopy(channel)

    async def delete_channel(self, channel_id: str) -> dict[str, Any]:
        channel = self._channel(channel_id)
        del self.channels[channel_id]
        for agent in self.agents.values():
            agent["notify"]["channels"] = [c for c in agent["notify"]["channels"] if c != channel_id]
        self.settings["notifyChannels"] = [c for c in self.settings["notifyChannels"] if c != channel_id]
        return {"id": channel["id"], "name": channel["name"]}

    async def test_channel(self, channel_id: str) -> dict[str, Any]:
        channel = self._channel(channel_id)
        error = None
        if not channel["enabled"]:
            error = "the channel is disabled"
        elif channel["type"] == "email":  # the pictures' server has no SMTP server
            error = "no SMTP server: set CRONAGENTS_SMTP_URL (smtp://user:pass@host:port)"
        failed = error is not None
        return {
            "id": self._new_id("msg"),
            "channelId": channel_id,
            "type": "channel.test",
            "status": "failed" if failed else "sent",
            "attempts": 1,
            "lastError": error,
            "sentAt": None if failed else _iso(NOW),
            "nextAttemptAt": None,
            "createdAt": _iso(NOW),
        }

    async def get_settings(self) -> dict[str, Any]:
        return copy.deepcopy(self.settings)

    async def update_settings(self, body: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, str] = {}
        for key in ("dailyBudgetUsd", "monthlyBudgetUsd"):
            value = body.get(key)
            if value is not None and (not isinstance(value, int | float) or value <= 0):
                fields[key] = CAP
        missing = [c for c in body.get("notifyChannels") or [] if c not in self.channels]
        if missing:
            fields["notifyChannels"] = f"no such channel: {', '.join(missing)}"
        if fields:
            raise ApiError(400, f"Invalid fields: {', '.join(sorted(fields))}", fields)
        for key, value in body.items():
            if key in self.settings:
                budget = key.endswith("BudgetUsd") and isinstance(value, int)
                self.settings[key] = float(value) if budget else value
        return copy.deepcopy(self.settings)

    async def list_nodes(self) -> list[dict[str, Any]]:
        nodes = copy.deepcopy(NODES)
        nodes[0]["runningRuns"] = sum(1 for r in self.runs if r["status"] == "running")
        nodes[0]["queuedRuns"] = sum(1 for r in self.runs if r["status"] == "queued")
        return nodes

    async def events(self, agent_id: str | None = None) -> AsyncIterator[dict[str, Any]]:
        yield {"type": "stream.open"}
        await asyncio.Event().wait()
