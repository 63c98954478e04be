"""Runs, their transcripts and the daily rollups on PostgreSQL (as :mod:`storage.runs`).

A run is counted in the rollups once, in the transaction that gives it its
final status (``UPDATE ... WHERE status IN ('running', 'queued')``: under
PostgreSQL's row locks a second finish waits, then finds the run final).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from storage.interface import DayOf, Row, RunOutcome
from storage.postgres import changes
from storage.postgres.db import Part, affected
from storage.runs import SETTLED_STATUSES, SKIPPED, SUCCESS

RUN_SLOTS_LOCK = 0x736C6F74  # "slot": starts under the cluster-wide run limit take turns

_ROLLUP_UPDATE = (
    " DO UPDATE SET total = t.total + excluded.total, success = t.success + excluded.success,"
    " skipped = t.skipped + excluded.skipped, cost_usd = t.cost_usd + excluded.cost_usd,"
    " duration_ms_sum = t.duration_ms_sum + excluded.duration_ms_sum,"
    " duration_count = t.duration_count + excluded.duration_count"
)
_ROLLUP_COLS = "total, success, skipped, cost_usd, duration_ms_sum, duration_count"


async def add_to_rollups(
    conn: asyncpg.Connection, agent_id: str, day: str, status: str, cost: float, duration_ms: int | None
) -> None:
    """Count a finished run (or a skipped slot) in the agent's and the global day."""
    skipped = int(status == SKIPPED)
    counted = 1 - skipped
    values = (
        counted,
        int(status == SUCCESS),
        skipped,
        float(cost) if counted else 0.0,
        (duration_ms or 0) if counted else 0,
        int(duration_ms is not None and bool(counted)),
    )
    await conn.execute(
        f"INSERT INTO daily_agent_stats AS t (agent_id, day, {_ROLLUP_COLS})"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (agent_id, day){_ROLLUP_UPDATE}",
        agent_id,
        day,
        *values,
    )
    await conn.execute(
        f"INSERT INTO daily_global_stats AS t (day, {_ROLLUP_COLS})"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (day){_ROLLUP_UPDATE}",
        day,
        *values,
    )


async def finish_in(conn: asyncpg.Connection, run_id: str, outcome: RunOutcome, day_of: DayOf) -> Row | None:
    row: Row | None = await conn.fetchrow(
        "UPDATE runs SET status = $1, output = $2, cost_usd = $3, input_tokens = $4,"
        " output_tokens = $5, num_turns = $6, completed_at = $7,"
        " duration_ms = GREATEST(0, $7 - started_at), unsettled = $8"
        " WHERE id = $9 AND status IN ('running', 'queued') RETURNING *",
        outcome.status,
        outcome.output,
        outcome.cost_usd,
        outcome.input_tokens,
        outcome.output_tokens,
        outcome.num_turns,
        outcome.completed_at,
        int(outcome.status in SETTLED_STATUSES),
        run_id,
    )
    if row is None:
        return None
    await conn.execute(
        "UPDATE agents SET last_run_at = $1, last_status = $2 WHERE id = $3",
        row["started_at"],
        outcome.status,
        row["agent_id"],
    )
    await add_to_rollups(
        conn,
        row["agent_id"],
        day_of(row["started_at"]),
        outcome.status,
        outcome.cost_usd or 0.0,
        row["duration_ms"],
    )
    return row


async def _start(conn: asyncpg.Connection, run_id: str, agent_id: str, started_at: int) -> bool:
    if not affected(
        await conn.execute(
            "UPDATE runs SET status = 'running', started_at = $1 WHERE id = $2 AND status = 'queued'",
            started_at,
            run_id,
        )
    ):
        return False
    await conn.execute(
        "UPDATE agents SET last_run_at = $1, last_status = 'running' WHERE id = $2", started_at, agent_id
    )
    # A scheduled run started: a streak of missed slots is over.
    await conn.execute(
        "DELETE FROM alert_state WHERE scope = $1 AND kind = 'missed'"
        " AND EXISTS (SELECT 1 FROM runs WHERE id = $2 AND trigger = 'schedule')",
        agent_id,
        run_id,
    )
    return True


class PgRuns(Part):
    async def insert(
        self,
        run_id: str,
        agent_id: str,
        status: str,
        started_at: int,
        *,
        trigger: str = "manual",
        scheduled_for: int | None = None,
        owner: str | None = None,
        input: str | None = None,
    ) -> None:
        await self.db.execute(
            "INSERT INTO runs (id, agent_id, status, trigger, scheduled_for, started_at, owner, input)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            run_id,
            agent_id,
            status,
            trigger,
            scheduled_for,
            started_at,
            owner,
            input,
        )

    async def insert_delivered(
        self,
        run_id: str,
        agent_id: str,
        started_at: int,
        owner: str,
        input: str | None,
        delivery_ids: Sequence[str],
        forget_before: int,
    ) -> tuple[str, bool]:
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM inbound_deliveries WHERE received_at < $1", forget_before)
            # One delivery at a time per agent: two nodes receiving the same delivery id never both insert.
            await conn.execute("SELECT 1 FROM agents WHERE id = $1 FOR UPDATE", agent_id)
            seen = await conn.fetchval(
                "SELECT run_id FROM inbound_deliveries WHERE agent_id = $1 AND delivery_id = ANY($2::text[])"
                " LIMIT 1",
                agent_id,
                list(delivery_ids),
            )
            if seen is not None:
                return str(seen), False
            await conn.execute(
                "INSERT INTO runs (id, agent_id, status, trigger, started_at, owner, input)"
                " VALUES ($1, $2, 'queued', 'webhook', $3, $4, $5)",
                run_id,
                agent_id,
                started_at,
                owner,
                input,
            )
            await conn.executemany(
                "INSERT INTO inbound_deliveries (agent_id, delivery_id, run_id, received_at)"
                " VALUES ($1, $2, $3, $4)",
                [(agent_id, delivery, run_id, started_at) for delivery in dict.fromkeys(delivery_ids)],
            )
            return run_id, True

    async def chain(self, run_id: str) -> list[str]:
        rows = await self.db.fetchall(
            "WITH RECURSIVE up(agent_id, parent, depth) AS ("
            " SELECT agent_id, parent_run_id, 0 FROM runs WHERE id = $1"
            " UNION ALL SELECT r.agent_id, r.parent_run_id, up.depth + 1"
            " FROM runs r JOIN up ON r.id = up.parent"
            " WHERE up.depth < 100)"
            " SELECT agent_id FROM up ORDER BY depth",
            run_id,
        )
        return [r[0] for r in rows]

    async def last_output(self, agent_id: str, besides_run_id: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT output FROM runs WHERE agent_id = $1 AND status = 'success' AND id != $2"
            " ORDER BY started_at DESC, id DESC LIMIT 1",
            agent_id,
            besides_run_id,
        )
        return None if row is None else row[0]

    async def skip(self, run_id: str, reason: str, at: int, day_of: DayOf) -> Row | None:
        async with self.db.transaction() as conn:
            row: Row | None = await conn.fetchrow(
                "UPDATE runs SET status = 'skipped', output = $1, completed_at = $2, duration_ms = 0"
                " WHERE id = $3 AND status = 'queued' RETURNING *",
                reason,
                at,
                run_id,
            )
            if row is not None:
                await add_to_rollups(conn, row["agent_id"], day_of(row["started_at"]), SKIPPED, 0.0, None)
            return row

    async def mark_running(self, run_id: str, agent_id: str, started_at: int) -> bool:
        async with self.db.transaction() as conn:
            return await _start(conn, run_id, agent_id, started_at)

    async def start_within(self, run_id: str, agent_id: str, started_at: int, limit: int) -> str:
        """Starts take turns (an advisory lock), so the count and the start are one step across nodes;
        the queued row is taken ``FOR UPDATE SKIP LOCKED``: one being ended (a cancel) is not waited on."""
        async with self.db.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", RUN_SLOTS_LOCK)
            running = await conn.fetchval("SELECT COUNT(*) FROM runs WHERE status = 'running'")
            queued = await conn.fetchval(
                "SELECT 1 FROM runs WHERE id = $1 AND status = 'queued' FOR UPDATE SKIP LOCKED", run_id
            )
            if queued is None:
                still = await conn.fetchval("SELECT 1 FROM runs WHERE id = $1 AND status = 'queued'", run_id)
                return "full" if still else "gone"
            if running >= limit:
                return "full"
            return "started" if await _start(conn, run_id, agent_id, started_at) else "gone"

    async def finish(self, run_id: str, outcome: RunOutcome, day_of: DayOf) -> Row | None:
        async with self.db.transaction() as conn:
            return await finish_in(conn, run_id, outcome, day_of)

    async def finish_many(self, run_ids: Iterable[str], outcome: RunOutcome, day_of: DayOf) -> list[Row]:
        ended = []
        async with self.db.transaction() as conn:
            for run_id in sorted(run_ids):  # one order everywhere: no two finishes wait on each other
                row = await finish_in(conn, run_id, outcome, day_of)
                if row is not None:
                    ended.append(row)
        return ended

    async def orphaned(self, live_owners: Iterable[str]) -> list[Row]:
        return await self.db.fetchall(
            "SELECT id, agent_id, owner FROM runs WHERE status IN ('running', 'queued')"
            " AND (owner IS NULL OR owner != ALL($1::text[]))",
            sorted(live_owners),
        )

    async def request_cancel(self, run_ids: Sequence[str], reason: str) -> list[str]:
        requested = []
        async with self.db.transaction() as conn:
            await changes.lock(conn)
            for run_id in run_ids:
                if affected(
                    await conn.execute(
                        "UPDATE runs SET cancel_requested = $1"
                        " WHERE id = $2 AND status IN ('running', 'queued')",
                        reason,
                        run_id,
                    )
                ):
                    requested.append(run_id)
                    await changes.append(conn, self.db.origin, "run.cancel", run_id=run_id, reason=reason)
        return requested

    async def cancel_requests(self, owner: str) -> list[Row]:
        return await self.db.fetchall(
            "SELECT id, cancel_requested FROM runs WHERE status IN ('running', 'queued')"
            " AND owner = $1 AND cancel_requested IS NOT NULL",
            owner,
        )

    async def statuses(self, run_ids: Sequence[str]) -> dict[str, str]:
        rows = await self.db.fetchall("SELECT id, status FROM runs WHERE id = ANY($1::text[])", list(run_ids))
        return {r[0]: r[1] for r in rows}

    async def add_events(self, run_id: str, events: Sequence[tuple[int, int, str, str]]) -> None:
        await self.db.executemany(
            "INSERT INTO run_events (run_id, seq, at, type, data) VALUES ($1, $2, $3, $4, $5)",
            [(run_id, *e) for e in events],
        )

    async def history(self, agent_id: str, limit: int, since_ms: int | None) -> list[Row]:
        return await self.db.fetchall(
            "SELECT * FROM runs WHERE agent_id = $1 AND ($2::bigint IS NULL OR started_at >= $2)"
            " ORDER BY started_at DESC, id DESC LIMIT $3",
            agent_id,
            since_ms,
            limit,
        )

    async def get(self, run_id: str) -> Row | None:
        return await self.db.fetchone("SELECT * FROM runs WHERE id = $1", run_id)

    async def events(self, run_id: str) -> list[Row]:
        return await self.db.fetchall(
            "SELECT seq, at, type, data FROM run_events WHERE run_id = $1 ORDER BY seq", run_id
        )

    async def active(self, agent_id: str | None = None) -> list[Row]:
        return await self.db.fetchall(
            "SELECT * FROM runs WHERE status IN ('running', 'queued') AND ($1::text IS NULL OR agent_id = $1)"
            " ORDER BY started_at",
            agent_id,
        )

    async def running_agent_ids(self) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT agent_id FROM runs WHERE status IN ('running', 'queued') ORDER BY agent_id"
        )
        return [r[0] for r in rows]
