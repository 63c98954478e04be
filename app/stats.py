"""Stats: per-day runs and cost from the rollups, an agent's and all agents', and cost per agent.

Days are calendar days in the stats time zone; ``7d`` and ``30d`` read the
per-day rollups, ``24h`` the exact window over the runs (its index on the start
time). Skipped slots are counted apart, never as runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from app.agent_list import sort_key
from app.settings import load_settings
from app.timeutil import DayCalendar, iso
from storage.interface import Row, Storage

PERIOD_DAYS = {"24h": 1, "7d": 7, "30d": 30}


def _money(value: float) -> float:
    return round(value, 6)


class Stats:
    def __init__(self, store: Storage, calendar: DayCalendar, clock: Callable[[], int]) -> None:
        self.store = store
        self.calendar = calendar
        self.clock = clock
        self._global: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
        """period -> ((database generation, clock second), the answer): global stats are the
        dashboard's poll, and a database that did not change in the same second answers the same."""

    async def _daily(self, period: str, agent_id: str | None) -> list[dict[str, Any]]:
        now = self.clock()
        cal = self.calendar
        if period == "24h":
            since = now - 86_400_000
            days = _days_between(cal.today(since), cal.today(now))
            boundaries = [cal.start_of(d) for d in days[1:]]
            rows = await self.store.stats.window_buckets(since, boundaries, agent_id)
            by_day = {days[r["bucket"]].isoformat(): r for r in rows}
        else:
            days = cal.last_days(now, PERIOD_DAYS[period])
            first = days[0].isoformat()
            if agent_id is None:
                rows = await self.store.stats.global_days(first)
            else:
                rows = await self.store.stats.agent_days(agent_id, first)
            by_day = {r["day"]: r for r in rows}
        daily = []
        for d in days:
            key = d.isoformat()
            r = by_day.get(key)
            total = int(r["total"] or 0) if r else 0
            success = int(r["success"] or 0) if r else 0
            daily.append(
                {
                    "date": key,
                    "success": success,
                    "error": total - success,
                    "total": total,
                    "skipped": int(r["skipped"] or 0) if r else 0,
                    "costUsd": _money(float(r["cost_usd"] or 0.0)) if r else 0.0,
                    "_durationSum": int(r["duration_ms_sum"] or 0) if r else 0,
                    "_durationCount": int(r["duration_count"] or 0) if r else 0,
                }
            )
        return daily

    @staticmethod
    def _totals(daily: list[dict[str, Any]]) -> dict[str, Any]:
        total = sum(d["total"] for d in daily)
        success = sum(d["success"] for d in daily)
        duration_sum = sum(d.pop("_durationSum") for d in daily)
        duration_count = sum(d.pop("_durationCount") for d in daily)
        return {
            "total": total,
            "successRate": round(100 * success / total) if total else 0,
            "avgDurationMs": round(duration_sum / duration_count) if duration_count else 0,
            "totalCostUsd": _money(sum(d["costUsd"] for d in daily)),
            "skipped": sum(d["skipped"] for d in daily),
        }

    async def agent_stats(self, row: Row, period: str) -> dict[str, Any]:
        """An agent's stats (``row``: the agent)."""
        agent_id = row["id"]
        daily = await self._daily(period, agent_id)
        t = self._totals(daily)
        return {
            "totalRuns": t["total"],
            "successRate": t["successRate"],
            "avgDurationMs": t["avgDurationMs"],
            "totalCostUsd": t["totalCostUsd"],
            "skippedRuns": t["skipped"],
            "lastRunAt": iso(row["last_run_at"]),
            "period": period,
            "dailyRuns": daily,
        }

    async def cost_by_agent(self, period: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(each agent's cost and runs in the period with its spend today and this month,
        the spend of all agents today and this month against the global caps)."""
        now = self.clock()
        today = self.calendar.today(now)
        day, month = today.isoformat(), today.isoformat()[:7] + "-01"
        if period == "24h":
            rows = await self.store.stats.cost_by_agent_since(now - 86_400_000, day, month)
        else:
            first = self.calendar.last_days(now, PERIOD_DAYS[period])[0].isoformat()
            rows = await self.store.stats.cost_by_agent(first, day, month)
        by_agent = [
            {
                "agentId": r["agent_id"],
                "name": r["name"],
                "costUsd": _money(float(r["cost_usd"] or 0.0)),
                "runs": int(r["runs"] or 0),
                "todayUsd": _money(float(r["day_cost_usd"] or 0.0)),
                "monthUsd": _money(float(r["month_cost_usd"] or 0.0)),
            }
            for r in rows
        ]
        by_agent.sort(key=lambda a: (-a["costUsd"], sort_key(a["name"], a["agentId"])))
        spend = await self.store.stats.window_spend("", day, month)
        settings = await load_settings(self.store)
        return by_agent, {
            "todayUsd": _money(spend.global_day),
            "monthUsd": _money(spend.global_month),
            "dailyBudgetUsd": settings.daily_budget_usd,
            "monthlyBudgetUsd": settings.monthly_budget_usd,
        }

    async def global_stats(self, period: str) -> dict[str, Any]:
        """The stats of every agent; the answer is reused while the database (this process's
        writes, and other processes' within :meth:`Storage.refresh_generation`) and the clock's
        second are unchanged."""
        key = (await self.store.refresh_generation(), self.clock() // 1000)
        cached = self._global.get(period)
        if cached is not None and cached[0] == key:
            return cached[1]
        answer = await self._global_stats(period)
        self._global[period] = (key, answer)
        return answer

    async def _global_stats(self, period: str) -> dict[str, Any]:
        daily = await self._daily(period, None)
        t = self._totals(daily)
        total_agents, active_agents = await self.store.agents.count()
        by_agent, spend = await self.cost_by_agent(period)
        return {
            "totalAgents": total_agents,
            "activeAgents": active_agents,
            "runsInPeriod": t["total"],
            "successRate": t["successRate"],
            "avgDurationMs": t["avgDurationMs"],
            "totalCostUsd": t["totalCostUsd"],
            "skippedRuns": t["skipped"],
            "runningAgentIds": await self.store.runs.running_agent_ids(),
            "period": period,
            "dailyRuns": daily,
            "costByAgent": by_agent,
            "spend": spend,
        }


def _days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
