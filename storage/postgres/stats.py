"""Stats reads on PostgreSQL (as :mod:`storage.stats`): the per-day rollups, and exact
windows over the runs table. Sums of integers are cast back to ``bigint`` (PostgreSQL
sums them as ``numeric``), so rows read the same as SQLite's."""

from __future__ import annotations

from collections.abc import Sequence

from storage.interface import DayOf, Row, WindowSpend
from storage.postgres.db import Part
from storage.rollups import count_rollups

_ROLLUP_COLS = "day, total, success, skipped, cost_usd, duration_ms_sum, duration_count"


def _windows(day: str, month: str, first: str) -> str:
    """Per agent: spend in the day, the month, the period, and runs in the period; the
    arguments name the query parameters holding those days."""
    return (
        "SELECT agent_id,"
        f" SUM(CASE WHEN day = {day} THEN cost_usd ELSE 0 END) AS day_cost,"
        f" SUM(CASE WHEN day >= {month} THEN cost_usd ELSE 0 END) AS month_cost,"
        f" SUM(CASE WHEN day >= {first} THEN cost_usd ELSE 0 END) AS period_cost,"
        f" SUM(CASE WHEN day >= {first} THEN total ELSE 0 END)::bigint AS period_runs"
        f" FROM daily_agent_stats WHERE day >= LEAST({first}::text, {month}::text) GROUP BY agent_id"
    )


class PgStats(Part):
    async def global_days(self, first_day: str) -> list[Row]:
        return await self.db.fetchall(
            f"SELECT {_ROLLUP_COLS} FROM daily_global_stats WHERE day >= $1 ORDER BY day", first_day
        )

    async def agent_days(self, agent_id: str, first_day: str) -> list[Row]:
        return await self.db.fetchall(
            f"SELECT {_ROLLUP_COLS} FROM daily_agent_stats WHERE agent_id = $1 AND day >= $2 ORDER BY day",
            agent_id,
            first_day,
        )

    async def window_buckets(
        self, since_ms: int, boundaries: Sequence[int], agent_id: str | None = None
    ) -> list[Row]:
        bucket = (
            "CASE "
            + " ".join(f"WHEN started_at < {int(b)} THEN {i}" for i, b in enumerate(boundaries))
            + f" ELSE {len(boundaries)} END"
            if boundaries
            else "0"
        )
        counted = "status != 'skipped'"
        return await self.db.fetchall(
            f"""
            SELECT {bucket} AS bucket,
                   COUNT(*) FILTER (WHERE {counted}) AS total,
                   COUNT(*) FILTER (WHERE status = 'success') AS success,
                   COUNT(*) FILTER (WHERE status = 'skipped') AS skipped,
                   COALESCE(SUM(cost_usd) FILTER (WHERE {counted}), 0) AS cost_usd,
                   COALESCE(SUM(duration_ms) FILTER (WHERE {counted}), 0)::bigint AS duration_ms_sum,
                   COUNT(*) FILTER (WHERE {counted} AND duration_ms IS NOT NULL) AS duration_count
            FROM runs WHERE started_at >= $1 AND status NOT IN ('queued', 'running')
                AND ($2::text IS NULL OR agent_id = $2)
            GROUP BY 1 ORDER BY 1
            """,
            since_ms,
            agent_id,
        )

    async def rollup_zone(self) -> str | None:
        value = await self.db.fetchval("SELECT value FROM meta WHERE key = 'rollup_zone'")
        return None if value is None else str(value)

    async def rebuild_rollups(self, zone: str, day_of: DayOf) -> int:
        rows = await self.db.fetchall(
            "SELECT agent_id, started_at, status, cost_usd, duration_ms FROM runs"
            " WHERE status NOT IN ('queued', 'running')"
        )
        counted = count_rollups(rows, day_of)
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM daily_agent_stats")
            await conn.execute("DELETE FROM daily_global_stats")
            await conn.executemany(
                "INSERT INTO daily_agent_stats (agent_id, day, total, success, skipped, cost_usd,"
                " duration_ms_sum, duration_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                counted,
            )
            await conn.execute(
                "INSERT INTO daily_global_stats SELECT day, SUM(total), SUM(success), SUM(skipped),"
                " SUM(cost_usd), SUM(duration_ms_sum), SUM(duration_count)"
                " FROM daily_agent_stats GROUP BY day"
            )
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('rollup_zone', $1)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                zone,
            )
        return len(rows)

    async def window_spend(self, agent_id: str, day: str, month_first_day: str) -> WindowSpend:
        row = await self.db.fetchone(
            "SELECT"
            " (SELECT COALESCE(SUM(cost_usd), 0) FROM daily_agent_stats WHERE agent_id = $1 AND day = $2),"
            " (SELECT COALESCE(SUM(cost_usd), 0) FROM daily_agent_stats WHERE agent_id = $1 AND day >= $3),"
            " (SELECT COALESCE(SUM(cost_usd), 0) FROM daily_global_stats WHERE day = $2),"
            " (SELECT COALESCE(SUM(cost_usd), 0) FROM daily_global_stats WHERE day >= $3)",
            agent_id,
            day,
            month_first_day,
        )
        assert row is not None
        return WindowSpend(float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    async def cost_by_agent(self, first_day: str, day: str, month_first_day: str) -> list[Row]:
        return await self.db.fetchall(
            "SELECT w.agent_id, a.name, w.period_cost AS cost_usd, w.period_runs AS runs,"
            " w.day_cost AS day_cost_usd, w.month_cost AS month_cost_usd"
            f" FROM ({_windows('$1', '$2', '$3')}) AS w"
            " JOIN agents a ON a.id = w.agent_id",
            day,
            month_first_day,
            first_day,
        )

    async def cost_by_agent_since(self, since_ms: int, day: str, month_first_day: str) -> list[Row]:
        return await self.db.fetchall(
            "WITH p AS (SELECT agent_id, COALESCE(SUM(cost_usd), 0) AS cost, COUNT(*) AS runs FROM runs"
            "  WHERE started_at >= $1 AND status NOT IN ('queued', 'running', 'skipped') GROUP BY agent_id),"
            f" w AS ({_windows('$2', '$3', '$4')})"
            " SELECT a.id AS agent_id, a.name, COALESCE(p.cost, 0) AS cost_usd, COALESCE(p.runs, 0) AS runs,"
            " COALESCE(w.day_cost, 0) AS day_cost_usd, COALESCE(w.month_cost, 0) AS month_cost_usd"
            " FROM agents a LEFT JOIN p ON p.agent_id = a.id LEFT JOIN w ON w.agent_id = a.id"
            " WHERE p.agent_id IS NOT NULL OR w.agent_id IS NOT NULL",
            since_ms,
            day,
            month_first_day,
            month_first_day,
        )
