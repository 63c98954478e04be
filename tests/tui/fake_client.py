"""A canned API client for the snapshot tests: fixed agents, runs and stats, a silent stream.

Pictures must not depend on the time of day or the machine, so snapshots use
this and a frozen clock; every behaviour is tested against the real server in
``test_dashboard.py``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from app.client import ApiError

NOW = datetime(2025, 1, 7, 10, 0, tzinfo=UTC)


def frozen_clock() -> datetime:
    return NOW


def _agent(i: int, name: str, schedule: str, **extra: Any) -> dict[str, Any]:
    agent = {
        "id": f"agt_{i:012d}", "name": name, "description": extra.pop("description", None),
        "schedule": schedule, "prompt": extra.pop("prompt", "Do the thing."), "enabled": True,
        "maxTurns": 50, "maxBudgetUsd": None, "timezone": "UTC", "model": None, "cwd": None,
        "allowedTools": ["Read", "Glob", "Grep"], "permissionMode": "dontAsk",
        "timeoutSeconds": 1800, "concurrencyPolicy": "forbid", "startingDeadlineSeconds": 3600,
        "loadProjectSettings": False, "nextRunAt": None, "lastRunAt": None, "lastStatus": None,
        "creator": {"id": "usr_1", "name": "Tony"},
        "createdAt": "2025-01-01T00:00:00.000Z", "updatedAt": "2025-01-01T00:00:00.000Z",
    }  # fmt: skip
    agent.update(extra)
    return agent


AGENTS = [
    _agent(1, "Daily digest", "0 9 * * 1-5", description="Summarizes open tasks every morning",
           timezone="Europe/Berlin", maxBudgetUsd=0.5, nextRunAt="2025-01-08T08:00:00.000Z",
           lastRunAt="2025-01-07T09:55:00.000Z", lastStatus="running"),
    _agent(2, "Dependency audit", "30 6 * * 1", nextRunAt="2025-01-13T06:30:00.000Z",
           lastRunAt="2025-01-06T06:30:00.000Z", lastStatus="success"),
    _agent(3, "Flaky test hunter", "0 */4 * * *", nextRunAt="2025-01-07T12:00:00.000Z",
           lastRunAt="2025-01-07T08:00:00.000Z", lastStatus="error"),
    _agent(4, "Release notes", "0 17 * * 5", nextRunAt="2025-01-10T17:00:00.000Z",
           lastRunAt="2025-01-03T17:00:00.000Z", lastStatus="budget_exceeded"),
    _agent(5, "Docs link checker", "@daily", enabled=False),
]  # fmt: skip

TRANSCRIPT = [
    {"seq": 1, "at": "2025-01-07T09:55:00.000Z", "type": "system", "subtype": "init",
     "model": "claude-sonnet-4-5"},
    {"seq": 2, "at": "2025-01-07T09:55:01.000Z", "type": "assistant_text",
     "text": "I'll look at the open tasks first."},
    {"seq": 3, "at": "2025-01-07T09:55:02.000Z", "type": "tool_use", "id": "tu_1", "name": "Grep",
     "input": {"pattern": "TODO", "path": "app/"}},
    {"seq": 4, "at": "2025-01-07T09:55:03.000Z", "type": "tool_result", "toolUseId": "tu_1",
     "content": "app/runner.py:88: # TODO: retry budget", "isError": False},
    {"seq": 5, "at": "2025-01-07T09:55:04.000Z", "type": "tool_use", "id": "tu_2", "name": "Bash",
     "input": {"command": "git log --oneline -3"}},
    {"seq": 6, "at": "2025-01-07T09:55:05.000Z", "type": "tool_result", "toolUseId": "tu_2",
     "content": "permission denied: Bash is not in allowedTools", "isError": True},
    {"seq": 7, "at": "2025-01-07T09:55:06.000Z", "type": "assistant_text",
     "text": "Summary: one TODO remains in app/runner.py; git history was not available."},
]  # fmt: skip

STATUSES = ("success", "success", "error", "success", "budget_exceeded", "success", "skipped", "success")
RUNS = [
    {"id": "run_000000000009", "agentId": "agt_000000000001", "status": "running", "trigger": "manual",
     "scheduledFor": None, "output": None, "costUsd": None, "inputTokens": None, "outputTokens": None,
     "numTurns": None, "startedAt": "2025-01-07T09:55:00.000Z", "completedAt": None, "durationMs": None},
] + [
    {"id": f"run_00000000000{i}", "agentId": "agt_000000000001",
     "status": STATUSES[i],
     "trigger": "schedule", "scheduledFor": f"2025-01-0{7 - i if i < 7 else 1}T08:00:00.000Z",
     "output": "Done: summary written." if i != 2 else "error: API overloaded",
     "costUsd": None if i == 6 else round(0.02 + 0.01 * i, 3), "inputTokens": 1500, "outputTokens": 800,
     "numTurns": 3 + i % 3, "startedAt": f"2025-01-0{7 - i if i < 7 else 1}T08:00:00.000Z",
     "completedAt": None, "durationMs": 30_000 + 7_000 * i}
    for i in range(1, 8)
]  # fmt: skip


def _days(count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        day = 7 - count + 1 + i
        date = f"2025-01-{day:02d}" if day > 0 else f"2024-12-{31 + day:02d}"
        success, error = (3 + (i * 5) % 4, (i * 3) % 2)
        out.append({"date": date, "success": success, "error": error, "total": success + error,
                    "skipped": 0, "costUsd": round(0.05 * success + 0.03 * error, 3)})  # fmt: skip
    return out


class FakeClient:
    """Same methods as :class:`app.client.ApiClient`; answers from the tables above."""

    base_url = "http://fake"

    def __init__(self) -> None:
        self.agents = {a["id"]: copy.deepcopy(a) for a in AGENTS}

    async def aclose(self) -> None:
        pass

    async def list_agents(self) -> list[dict[str, Any]]:
        return sorted(self.agents.values(), key=lambda a: a["name"])

    async def get_agent(self, agent_id: str) -> dict[str, Any]:
        return self.agents[agent_id]

    async def create_agent(self, body: dict[str, Any]) -> dict[str, Any]:
        raise ApiError(400, "Invalid fields: prompt, schedule",
                       {"schedule": "never fires: day 31 does not exist in February",
                        "prompt": "must not be empty"})  # fmt: skip

    async def update_agent(self, agent_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.agents[agent_id].update(body)
        return self.agents[agent_id]

    async def delete_agent(self, agent_id: str) -> dict[str, Any]:
        return self.agents.pop(agent_id)

    async def run_agent(self, agent_id: str) -> str:
        return "run_000000000010"

    async def cancel_agent(self, agent_id: str) -> int:
        return 1

    async def list_runs(self, agent_id: str, limit: int = 100,
                        period: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
        return [r for r in RUNS if r["agentId"] == agent_id][:limit]

    async def get_run(self, agent_id: str, run_id: str) -> dict[str, Any]:
        run = next(r for r in RUNS if r["id"] == run_id)
        return {**run, "events": TRANSCRIPT if run["status"] == "running" else TRANSCRIPT[:2]}

    async def agent_stats(self, agent_id: str, period: str) -> dict[str, Any]:
        days = _days({"24h": 2, "7d": 7, "30d": 30}[period])
        return {"totalRuns": 30, "successRate": 90, "avgDurationMs": 45000, "skippedRuns": 1,
                "totalCostUsd": round(sum(d["costUsd"] for d in days), 2), "lastRunAt": None,
                "period": period, "dailyRuns": days}  # fmt: skip

    async def global_stats(self, period: str) -> dict[str, Any]:
        days = _days({"24h": 2, "7d": 7, "30d": 30}[period])
        return {"totalAgents": 5, "activeAgents": 4, "runsInPeriod": sum(d["total"] for d in days),
                "successRate": 88, "avgDurationMs": 52000, "skippedRuns": 1,
                "totalCostUsd": round(sum(d["costUsd"] for d in days), 2),
                "runningAgentIds": ["agt_000000000001"], "period": period, "dailyRuns": days,
                "costByAgent": {"agt_000000000001": 1.23, "agt_000000000002": 0.42,
                                "agt_000000000003": 2.05, "agt_000000000004": 0.5}}  # fmt: skip

    async def events(self, agent_id: str | None = None) -> AsyncIterator[dict[str, Any]]:
        yield {"type": "stream.open"}
        await asyncio.Event().wait()
