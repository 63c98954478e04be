"""What follows the end of a run, on PostgreSQL (as :mod:`storage.aftermath`): unsettled runs,
settlements in one transaction, and waiting runs adopted from dead servers."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from storage.interface import ChainedRun, DayOf, Row, Settlement
from storage.postgres import changes
from storage.postgres.alerts import raise_in
from storage.postgres.db import Part, affected
from storage.postgres.runs import add_to_rollups
from storage.runs import SKIPPED


class _StreakMoved(Exception):
    """The agent's failure streak is not the one the settlement was decided on."""


async def _insert_chained(conn: asyncpg.Connection, c: ChainedRun, now_ms: int, day_of: DayOf) -> None:
    """A chained run, queued (or recorded skipped), unless its agent was deleted meanwhile."""
    status, output, completed = ("queued", None, None) if c.skipped is None else (SKIPPED, c.skipped, now_ms)
    inserted = affected(
        await conn.execute(
            "INSERT INTO runs (id, agent_id, status, trigger, started_at, owner, parent_run_id, input,"
            " output, completed_at, duration_ms) SELECT $1::text, $2::text, $3::text, 'chain', $4::bigint,"
            " $5::text, $6::text, $7::text, $8::text,"
            " $9::bigint, $10::bigint"
            " WHERE EXISTS (SELECT 1 FROM agents WHERE id = $2)",
            c.run_id,
            c.agent_id,
            status,
            now_ms,
            c.owner,
            c.parent_run_id,
            c.input,
            output,
            completed,
            None if completed is None else 0,
        )
    )
    if inserted and c.skipped is not None:
        await add_to_rollups(conn, c.agent_id, day_of(now_ms), SKIPPED, 0.0, None)


async def _settle(conn: asyncpg.Connection, s: Settlement, day_of: DayOf) -> str:
    now_ms = s.at
    if not affected(
        await conn.execute("UPDATE runs SET unsettled = 0 WHERE id = $1 AND unsettled = 1", s.run_id)
    ):
        return "already"
    streak = await conn.fetchrow("SELECT failure_streak FROM agents WHERE id = $1 FOR UPDATE", s.agent_id)
    if streak is None:
        return "settled"  # deleted meanwhile: nothing follows
    if streak[0] != s.expected_streak:
        raise _StreakMoved
    if s.pause_reason is not None:
        await conn.execute(
            "UPDATE agents SET failure_streak = $1, enabled = 0, paused_reason = $2, next_run_at = NULL,"
            " updated_at = $3 WHERE id = $4",
            s.streak,
            s.pause_reason,
            now_ms,
            s.agent_id,
        )
        # Origin none: every server follows it, this one too (see storage/aftermath.py).
        await changes.append(conn, None, "agent.updated", agent_id=s.agent_id)
    elif s.streak != s.expected_streak:
        await conn.execute("UPDATE agents SET failure_streak = $1 WHERE id = $2", s.streak, s.agent_id)
    if s.retry is not None:
        r = s.retry
        # A retry is given what its run was given, and belongs to the same chain.
        await conn.execute(
            "INSERT INTO runs (id, agent_id, status, trigger, started_at, owner, attempt, retry_of,"
            " not_before, input, parent_run_id)"
            " SELECT $1::text, $2::text, 'queued', 'retry', $3::bigint, $4::text, $5::bigint,"
            " $6::text, $7::bigint, input,"
            " parent_run_id FROM runs WHERE id = $8",
            r.run_id,
            s.agent_id,
            now_ms,
            r.owner,
            r.attempt,
            r.retry_of,
            r.not_before,
            s.run_id,
        )
    for c in s.chained:
        await _insert_chained(conn, c, now_ms, day_of)
    await raise_in(conn, s.alerts, now_ms)
    return "settled"


class Aftermath(Part):
    """The :class:`~storage.interface.RunStore` methods of what follows a run's end."""

    async def unsettled(self, limit: int = 100) -> list[Row]:
        return await self.db.fetchall(
            "SELECT * FROM runs WHERE unsettled = 1 ORDER BY completed_at, id LIMIT $1", limit
        )

    async def settle(self, settlement: Settlement, day_of: DayOf) -> str:
        try:
            async with self.db.transaction() as conn:
                if settlement.pause_reason is not None:
                    await changes.lock(conn)
                return await _settle(conn, settlement, day_of)
        except _StreakMoved:
            return "conflict"

    async def adopt_retries(self, live_owners: Iterable[str], owner: str) -> list[Row]:
        async with self.db.transaction() as conn:
            rows: list[Row] = await conn.fetch(
                "UPDATE runs SET owner = $1 WHERE status = 'queued' AND trigger IN ('retry', 'chain')"
                " AND (owner IS NULL OR owner != ALL($2::text[])) RETURNING *",
                owner,
                sorted(live_owners),
            )
            return rows
