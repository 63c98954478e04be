"""Stats reads: the per-day rollups, and exact windows over the runs table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from storage.db import Database
from storage.interface import Row

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
    per_agent: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        key = (r["agent_id"], day_of(r["started_at"]))
        acc = per_agent.setdefault(key, [0, 0, 0, 0.0, 0, 0])
        if r["status"] == "skipped":
            acc[2] += 1
            continue
        acc[0] += 1
        acc[1] += r["status"] == "success"
        acc[3] += r["cost_usd"] or 0.0
        if r["duration_ms"] is not None:
            acc[4] += r["duration_ms"]
            acc[5] += 1

    def rebuild(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM daily_agent_stats")
        conn.execute("DELETE FROM daily_global_stats")
        conn.executemany(
            "INSERT INTO daily_agent_stats (agent_id, day, total, success, skipped, cost_usd,"
            " duration_ms_sum, duration_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(a, d, *acc) for (a, d), acc in per_agent.items()],
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
