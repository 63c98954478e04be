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
from datetime import UTC, datetime, timedelta
from typing import Any

from app.client import ApiError

NOW = datetime(2025, 1, 7, 10, 0, tzinfo=UTC)


def frozen_clock() -> datetime:
    return NOW


def _iso(moment: datetime) -> str:
    """The API's timestamps: UTC, milliseconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _plus(timestamp: str, ms: int) -> str:
    return _iso(datetime.fromisoformat(timestamp.replace("Z", "+00:00")) + timedelta(milliseconds=ms))


def _agent(i: int, name: str, schedule: str, **extra: Any) -> dict[str, Any]:
    agent = {
        "id": f"agt_{i:012d}",
        "name": name,
        "description": extra.pop("description", None),
        "schedule": schedule,
        "prompt": extra.pop("prompt", "Do the thing."),
        "enabled": True,
        "maxTurns": 50,
        "maxBudgetUsd": None,
        "timezone": "UTC",
        "model": None,
        "cwd": None,
        "allowedTools": ["Read", "Glob", "Grep"],
        "permissionMode": "dontAsk",
        "timeoutSeconds": 1800,
        "concurrencyPolicy": "forbid",
        "startingDeadlineSeconds": 3600,
        "loadProjectSettings": False,
        "notify": {
            "channels": [],
            "on": ["failure", "recovery", "budget", "missed", "paused"],
            "onlyOnChange": True,
        },
        "retry": {"attempts": 0, "backoffSeconds": 60, "maxBackoffSeconds": 3600},
        "pauseAfterFailures": None,
        "dailyBudgetUsd": None,
        "monthlyBudgetUsd": None,
        "pausedReason": None,
        "nextRunAt": None,
        "lastRunAt": None,
        "lastStatus": None,
        "creator": {"id": "usr_1", "name": "Tony"},
        "createdAt": "2025-01-01T00:00:00.000Z",
        "updatedAt": "2025-01-01T00:00:00.000Z",
    }
    agent.update(extra)
    return agent


AGENTS = [
    _agent(
        1,
        "Daily digest",
        "0 9 * * 1-5",
        description="Summarizes open tasks every morning",
        timezone="Europe/Berlin",
        maxBudgetUsd=0.5,
        nextRunAt="2025-01-08T08:00:00.000Z",
        lastRunAt="2025-01-07T09:55:00.000Z",
        lastStatus="running",
    ),
    _agent(
        2,
        "Dependency audit",
        "30 6 * * 1",
        nextRunAt="2025-01-13T06:30:00.000Z",
        lastRunAt="2025-01-06T06:30:00.000Z",
        lastStatus="success",
    ),
    _agent(
        3,
        "Flaky test hunter",
        "0 */4 * * *",
        nextRunAt="2025-01-07T12:00:00.000Z",
        lastRunAt="2025-01-07T08:00:00.000Z",
        lastStatus="error",
    ),
    _agent(
        4,
        "Release notes",
        "0 17 * * 5",
        nextRunAt="2025-01-10T17:00:00.000Z",
        lastRunAt="2025-01-03T17:00:00.000Z",
        lastStatus="budget_exceeded",
    ),
    _agent(5, "Docs link checker", "@daily", enabled=False),
]

TRANSCRIPT = [
    {
        "seq": 1,
        "at": "2025-01-07T09:55:00.000Z",
        "type": "system",
        "subtype": "init",
        "model": "claude-sonnet-4-5",
    },
    {
        "seq": 2,
        "at": "2025-01-07T09:55:01.000Z",
        "type": "assistant_text",
        "text": "I'll look at the open tasks first.",
    },
    {
        "seq": 3,
        "at": "2025-01-07T09:55:02.000Z",
        "type": "tool_use",
        "id": "tu_1",
        "name": "Grep",
        "input": {"pattern": "TODO", "path": "app/"},
    },
    {
        "seq": 4,
        "at": "2025-01-07T09:55:03.000Z",
        "type": "tool_result",
        "toolUseId": "tu_1",
        "content": "app/runner.py:88: # TODO: retry budget",
        "isError": False,
    },
    {
        "seq": 5,
        "at": "2025-01-07T09:55:04.000Z",
        "type": "tool_use",
        "id": "tu_2",
        "name": "Bash",
        "input": {"command": "git log --oneline -3"},
    },
    {
        "seq": 6,
        "at": "2025-01-07T09:55:05.000Z",
        "type": "tool_result",
        "toolUseId": "tu_2",
        "content": "permission denied: Bash is not in allowedTools",
        "isError": True,
    },
    {
        "seq": 7,
        "at": "2025-01-07T09:55:06.000Z",
        "type": "assistant_text",
        "text": "Summary: one TODO remains in app/runner.py; git history was not available.",
    },
]

STATUSES = ("success", "success", "error", "success", "budget_exceeded", "success", "skipped", "success")
RUNS = [
    {
        "id": "run_000000000009",
        "agentId": "agt_000000000001",
        "status": "running",
        "trigger": "manual",
        "scheduledFor": None,
        "output": None,
        "costUsd": None,
        "inputTokens": None,
        "outputTokens": None,
        "numTurns": None,
        "startedAt": "2025-01-07T09:55:00.000Z",
        "completedAt": None,
        "durationMs": None,
        "attempt": 1,
        "retryOf": None,
    },
] + [
    {
        "id": f"run_00000000000{i}",
        "agentId": "agt_000000000001",
        "status": STATUSES[i],
        "trigger": "schedule",
        "scheduledFor": f"2025-01-0{7 - i if i < 7 else 1}T08:00:00.000Z",
        "output": "Done: summary written." if i != 2 else "error: API overloaded",
        "costUsd": None if i == 6 else round(0.02 + 0.01 * i, 3),
        "inputTokens": 1500,
        "outputTokens": 800,
        "numTurns": 3 + i % 3,
        "startedAt": f"2025-01-0{7 - i if i < 7 else 1}T08:00:00.000Z",
        "completedAt": _plus(f"2025-01-0{7 - i if i < 7 else 1}T08:00:00.000Z", 30_000 + 7_000 * i),
        "durationMs": 30_000 + 7_000 * i,
        "attempt": 1,
        "retryOf": None,
    }
    for i in range(1, 8)
]


# Each agent's share of the runs and cost per day (the Cost column, its Stats tab); the never-run,
# disabled Docs link checker has none.
AGENT_SHARE = {
    "agt_000000000001": 1.0,
    "agt_000000000002": 0.3,
    "agt_000000000003": 1.6,
    "agt_000000000004": 0.4,
}
PERIOD_DAYS = {"24h": 2, "7d": 7, "30d": 30}


def _days(count: int, share: float = 1.0) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        day = 7 - count + 1 + i
        date = f"2025-01-{day:02d}" if day > 0 else f"2024-12-{31 + day:02d}"
        success, error = round((3 + (i * 5) % 4) * share), round((i * 3) % 2 * share)
        out.append(
            {
                "date": date,
                "success": success,
                "error": error,
                "total": success + error,
                "skipped": 0,
                "costUsd": round(0.05 * success + 0.03 * error, 3),
            }
        )
    return out


def _totals(days: list[dict[str, Any]]) -> dict[str, Any]:
    runs = sum(d["total"] for d in days)
    success = sum(d["success"] for d in days)
    return {
        "runs": runs,
        "successRate": round(100 * success / runs) if runs else 0,
        "totalCostUsd": round(sum(d["costUsd"] for d in days), 6),
    }


def _invalid_fields(body: dict[str, Any], creating: bool) -> dict[str, str]:
    """The few rules the pictures need, worded as the server words them."""
    fields: dict[str, str] = {}
    for name in ("name", "schedule", "prompt"):
        if name not in body:
            if creating:
                fields[name] = "is required"
        elif not str(body[name]).strip():
            fields[name] = "must not be empty"
    schedule = str(body.get("schedule", "")).split()
    if len(schedule) == 5 and schedule[3] == "2" and schedule[2] in ("30", "31"):
        fields["schedule"] = f"never fires: day {schedule[2]} does not exist in February"
    return fields


class FakeClient:
    """Same methods as :class:`app.client.ApiClient`; answers from the tables above."""

    base_url = "http://fake"

    def __init__(self) -> None:
        self.agents = {a["id"]: copy.deepcopy(a) for a in AGENTS}
        self.runs = copy.deepcopy(RUNS)
        self._next_id = 100

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
        return self._agent(agent_id)

    async def create_agent(self, body: dict[str, Any]) -> dict[str, Any]:
        fields = _invalid_fields(body, creating=True)
        if fields:
            raise ApiError(400, f"Invalid fields: {', '.join(sorted(fields))}", fields)
        agent = _agent(
            0,
            str(body["name"]),
            str(body["schedule"]),
            **{k: v for k, v in body.items() if k not in ("name", "schedule")},
        )
        agent.update(id=self._new_id("agt"), createdAt=_iso(NOW), updatedAt=_iso(NOW))
        self.agents[agent["id"]] = agent
        return agent

    async def update_agent(self, agent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        agent = self._agent(agent_id)
        fields = _invalid_fields(body, creating=False)
        if fields:
            raise ApiError(400, f"Invalid fields: {', '.join(sorted(fields))}", fields)
        agent.update(body, updatedAt=_iso(NOW))
        return agent

    async def delete_agent(self, agent_id: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        removed = [r for r in self.runs if r["agentId"] == agent_id]
        self.runs = [r for r in self.runs if r["agentId"] != agent_id]
        del self.agents[agent_id]
        return {"id": agent["id"], "name": agent["name"], "deletedRuns": len(removed)}

    async def run_agent(self, agent_id: str) -> str:
        self._agent(agent_id)
        return self._new_id("run")

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
            "deliveries": [],
        }

    async def agent_stats(self, agent_id: str, period: str) -> dict[str, Any]:
        agent = self._agent(agent_id)
        days = _days(PERIOD_DAYS[period], AGENT_SHARE.get(agent_id, 0.0))
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
            for day, share in zip(
                days, _days(PERIOD_DAYS[period], AGENT_SHARE.get(agent_id, 0.0)), strict=True
            ):
                for key in ("success", "error", "total", "skipped"):
                    day[key] += share[key]
                day["costUsd"] = round(day["costUsd"] + share["costUsd"], 6)
        totals = _totals(days)
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
            "costByAgent": self._cost_by_agent(period),
            "spend": {
                "todayUsd": round(sum(a["todayUsd"] for a in self._cost_by_agent(period)), 6),
                "monthUsd": round(sum(a["monthUsd"] for a in self._cost_by_agent(period)), 6),
                "dailyBudgetUsd": None,
                "monthlyBudgetUsd": None,
            },
        }

    def _cost_by_agent(self, period: str) -> list[dict[str, Any]]:
        """Each agent's share of the period, as the real API lists it (most expensive first)."""
        out = []
        for agent_id, agent in self.agents.items():
            days = _days(PERIOD_DAYS[period], AGENT_SHARE.get(agent_id, 0.0))
            totals = _totals(days)
            if totals["runs"] == 0:
                continue
            month = _days(7, AGENT_SHARE.get(agent_id, 0.0))  # 2025-01-01 .. 07
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

    async def events(self, agent_id: str | None = None) -> AsyncIterator[dict[str, Any]]:
        yield {"type": "stream.open"}
        await asyncio.Event().wait()
