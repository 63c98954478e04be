"""Stats reads: the per-day rollups, and exact windows over the runs table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from storage.db import Database
from storage.interface import Row, WindowSpend
from storage.rollups import count_rollups

_ROLLUP_COLS = "day, total, success, skipped, cost_usd, duration_ms_sum, duration_count"


async def global_days(db: Database, first_day: str) -> list[Row]:
    return await db.fetchall(
        f"SELECT {_ROLLUP_COLS} FROM daily_global_stats WHERE day >= ? ORDER BY day", (first_day,)
    )


async def agent_days(db: Database, agent_id: str, first_day: str) -> list[Row]:
    return await db.fetchall(
        f"SELECT {_ROLLUP_COLS} FROM daily_agent_stats WHERE agent_id = ? AND day >= ? ORDER BY day",
        (agent_id, first_day),
    )


async def window_buckets(
    db: Database, since_ms: int, boundaries: Sequence[int], agent_id: str | None = None
) -> list[Row]:
    """Finished runs started at or after ``since_ms``, summed per bucket.

    ``boundaries`` are ascending day starts (ms); bucket ``i`` holds runs
    started at or after ``boundaries[i-1]`` (bucket 0: before ``boundaries[0]``).
    """
    bucket = (
        "CASE "
        + " ".join(f"WHEN started_at < {int(b)} THEN {i}" for i, b in enumerate(boundaries))
        + f" ELSE {len(boundaries)} END"
        if boundaries
        else "0"
    )
    where = "started_at >= ? AND status NOT IN ('queued', 'running')"
    params: list[object] = [since_ms]
    if agent_id is not None:
        where += " AND agent_id = ?"
        params.append(agent_id)
    return await db.fetchall(
        f"""
        SELECT {bucket} AS bucket,
               SUM(status != 'skipped') AS total,
               SUM(status = 'success') AS success,
               SUM(status = 'skipped') AS skipped,
               COALESCE(SUM(CASE WHEN status != 'skipped' THEN cost_usd END), 0) AS cost_usd,
               COALESCE(SUM(CASE WHEN status != 'skipped' THEN duration_ms END), 0)
                   AS duration_ms_sum,
               SUM(status != 'skipped' AND duration_ms IS NOT NULL) AS duration_count
        FROM runs WHERE {where} GROUP BY bucket ORDER BY bucket
        """,
        params,
    )


async def rollup_zone(db: Database) -> str | None:
    row = await db.fetchone("SELECT value FROM meta WHERE key = 'rollup_zone'")
    return str(row[0]) if row else None


async def rebuild_rollups(db: Database, zone: str, day_of: Callable[[int], str]) -> int:
    """Recount both rollups from the runs table, with days in ``zone``.

    Needed only when the stats time zone changed since the rollups were
    written; returns the number of finished runs counted.
    """
    rows = await db.fetchall(
        "SELECT agent_id, started_at, status, cost_usd, duration_ms FROM runs"
        " WHERE status NOT IN ('queued', 'running')"
    )
    counted = count_rollups(rows, day_of)

    def rebuild(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM daily_agent_stats")
        conn.execute("DELETE FROM daily_global_stats")
        conn.executemany(
            "INSERT INTO daily_agent_stats (agent_id, day, total, success, skipped, cost_usd,"
            " duration_ms_sum, duration_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            counted,
        )
        conn.execute(
            "INSERT INTO daily_global_stats SELECT day, SUM(total), SUM(success), SUM(skipped),"
            " SUM(cost_usd), SUM(duration_ms_sum), SUM(duration_count)"
            " FROM daily_agent_stats GROUP BY day"
        )
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('rollup_zone', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (zone,),
        )

    await db.transaction(rebuild)
    return len(rows)


async def window_spend(db: Database, agent_id: str, day: str, month_first_day: str) -> WindowSpend:
    """Spend of the agent and of all agents in the day and the month so far, from the rollups."""
    row = await db.fetchone(
        "SELECT"
        " (SELECT COALESCE(SUM(cost_usd), 0) FROM daily_agent_stats WHERE agent_id = ? AND day = ?),"
        " (SELECT COALESCE(SUM(cost_usd), 0) FROM daily_agent_stats WHERE agent_id = ? AND day >= ?),"
        " (SELECT COALESCE(SUM(cost_usd), 0) FROM daily_global_stats WHERE day = ?),"
        " (SELECT COALESCE(SUM(cost_usd), 0) FROM daily_global_stats WHERE day >= ?)",
        (agent_id, day, agent_id, month_first_day, day, month_first_day),
    )
    assert row is not None
    return WindowSpend(float(row[0]), float(row[1]), float(row[2]), float(row[3]))


_WINDOWS = (
    "SELECT agent_id,"
    " SUM(CASE WHEN day = :day THEN cost_usd ELSE 0 END) AS day_cost,"
    " SUM(CASE WHEN day >= :month THEN cost_usd ELSE 0 END) AS month_cost,"
    " SUM(CASE WHEN day >= :first THEN cost_usd ELSE 0 END) AS period_cost,"
    " SUM(CASE WHEN day >= :first THEN total ELSE 0 END) AS period_runs"
    " FROM daily_agent_stats WHERE day >= MIN(:first, :month) GROUP BY agent_id"
)


async def cost_by_agent(db: Database, first_day: str, day: str, month_first_day: str) -> list[Row]:
    """Per agent with a rollup row since ``first_day`` or in the month: its cost and runs in the
    period, and its spend in the day and the month (one pass over the rollups, by day)."""
    return await db.fetchall(
        f"SELECT w.agent_id, a.name, w.period_cost AS cost_usd, w.period_runs AS runs,"
        f" w.day_cost AS day_cost_usd, w.month_cost AS month_cost_usd"
        f" FROM ({_WINDOWS}) AS w JOIN agents a ON a.id = w.agent_id",
        {"first": first_day, "day": day, "month": month_first_day},
    )


async def cost_by_agent_since(db: Database, since_ms: int, day: str, month_first_day: str) -> list[Row]:
    """As :func:`cost_by_agent`, the period being the runs started at or after ``since_ms``."""
    return await db.fetchall(
        f"WITH p AS (SELECT agent_id, COALESCE(SUM(cost_usd), 0) AS cost, COUNT(*) AS runs FROM runs"
        f"  WHERE started_at >= :since AND status NOT IN ('queued', 'running', 'skipped') GROUP BY agent_id),"
        f" w AS ({_WINDOWS})"
        f" SELECT a.id AS agent_id, a.name, COALESCE(p.cost, 0) AS cost_usd, COALESCE(p.runs, 0) AS runs,"
        f" COALESCE(w.day_cost, 0) AS day_cost_usd, COALESCE(w.month_cost, 0) AS month_cost_usd"
        f" FROM agents a LEFT JOIN p ON p.agent_id = a.id LEFT JOIN w ON w.agent_id = a.id"
        f" WHERE p.agent_id IS NOT NULL OR w.agent_id IS NOT NULL",
        {"since": since_ms, "day": day, "month": month_first_day, "first": month_first_day},
    )
