"""Agent rows on PostgreSQL (the same columns and rules as :mod:`storage.agents`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg

from storage.agents import AGENT_COLUMNS, CHAIN_COLUMNS, UPDATABLE
from storage.interface import Row
from storage.postgres import changes
from storage.postgres.db import Part, affected

_SELECT = "SELECT a.*, u.name AS creator_name FROM agents a LEFT JOIN users u ON u.id = a.creator_id"


def _writable(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """A one-shot agent has no schedule: "" in the column (NOT NULL, as in SQLite)."""
    if "schedule" in values and values["schedule"] is None:
        return {**values, "schedule": ""}
    return values


def _params(n: int, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + n))


async def _row_in(conn: asyncpg.Connection, agent_id: str) -> Row | None:
    row: Row | None = await conn.fetchrow(f"{_SELECT} WHERE a.id = $1", agent_id)
    return row


class PgAgents(Part):
    async def insert(self, values: Mapping[str, Any]) -> Row:
        values = _writable(values)
        cols = [c for c in AGENT_COLUMNS if c in values]
        async with self.db.transaction() as conn:
            await conn.execute(
                f"INSERT INTO agents ({', '.join(cols)}) VALUES ({_params(len(cols))})",
                *[values[c] for c in cols],
            )
            await changes.append(conn, self.db.origin, "agent.created", agent_id=values["id"])
            row = await _row_in(conn, values["id"])
        assert row is not None
        return row

    async def update(self, agent_id: str, values: Mapping[str, Any]) -> Row | None:
        values = _writable(values)
        cols = [c for c in values if c in UPDATABLE]
        if not cols:
            return await self.get(agent_id)
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=2))
        async with self.db.transaction() as conn:
            await conn.execute(
                f"UPDATE agents SET {sets} WHERE id = $1", agent_id, *(values[c] for c in cols)
            )
            row = await _row_in(conn, agent_id)
            if row is not None:
                await changes.append(conn, self.db.origin, "agent.updated", agent_id=agent_id)
            return row

    async def get(self, agent_id: str) -> Row | None:
        return await self.db.fetchone(f"{_SELECT} WHERE a.id = $1", agent_id)

    async def set_trigger_secret(self, agent_id: str, sealed: str | None) -> Row | None:
        async with self.db.transaction() as conn:
            status = await conn.execute(
                "UPDATE agents SET trigger_secret = $1 WHERE id = $2", sealed, agent_id
            )
            if not affected(status):
                return None
            await changes.append(conn, self.db.origin, "agent.updated", agent_id=agent_id)
            return await _row_in(conn, agent_id)

    async def end_one_shot(self, agent_id: str, run_at: int, now_ms: int) -> Row | None:
        async with self.db.transaction() as conn:
            status = await conn.execute(
                "UPDATE agents SET enabled = 0, next_run_at = NULL, updated_at = $1"
                " WHERE id = $2 AND run_at = $3 AND enabled = 1",
                now_ms,
                agent_id,
                run_at,
            )
            if not affected(status):
                return None
            await changes.append(conn, self.db.origin, "agent.updated", agent_id=agent_id)
            return await _row_in(conn, agent_id)

    async def all(self) -> list[Row]:
        return await self.db.fetchall(f"{_SELECT} ORDER BY a.name, a.id")

    async def list_enabled(self) -> list[Row]:
        return await self.db.fetchall(f"{_SELECT} WHERE a.enabled = 1 ORDER BY a.id")

    async def count(self) -> tuple[int, int]:
        row = await self.db.fetchone("SELECT COUNT(*), COALESCE(SUM(enabled), 0)::bigint FROM agents")
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def delete(self, agent_id: str) -> int:
        """Delete with runs, events and rollup; the global rollup loses the agent's share."""
        async with self.db.transaction() as conn:
            await changes.lock(conn)
            count = await conn.fetchval("SELECT COUNT(*) FROM runs WHERE agent_id = $1", agent_id)
            await conn.execute(
                """
                UPDATE daily_global_stats g SET
                    total = g.total - s.total,
                    success = g.success - s.success,
                    skipped = g.skipped - s.skipped,
                    cost_usd = g.cost_usd - s.cost_usd,
                    duration_ms_sum = g.duration_ms_sum - s.duration_ms_sum,
                    duration_count = g.duration_count - s.duration_count
                FROM (SELECT * FROM daily_agent_stats WHERE agent_id = $1) AS s
                WHERE g.day = s.day
                """,
                agent_id,
            )
            if affected(await conn.execute("DELETE FROM agents WHERE id = $1", agent_id)):
                await changes.append(conn, self.db.origin, "agent.deleted", agent_id=agent_id)
                await _unchain(conn, agent_id)
            return int(count or 0)

    async def count_runs(self, agent_id: str) -> int:
        return int(
            await self.db.fetchval(
                "SELECT COUNT(*) FROM runs WHERE agent_id = $1 AND status != 'skipped'", agent_id
            )
        )

    async def missing(self, agent_ids: Iterable[str]) -> list[str]:
        ids = list(dict.fromkeys(agent_ids))
        if not ids:
            return []
        rows = await self.db.fetchall("SELECT id FROM agents WHERE id = ANY($1::text[])", ids)
        found = {r[0] for r in rows}
        return [i for i in ids if i not in found]


async def _unchain(conn: asyncpg.Connection, agent_id: str) -> None:
    """Take a deleted agent out of every other agent's ``on_success`` and ``on_failure``."""
    for column in CHAIN_COLUMNS:
        rows = await conn.fetch(
            f"SELECT id, {column} FROM agents WHERE {column}::jsonb ? $1 FOR UPDATE", agent_id
        )
        for other_id, text in rows:
            kept = [i for i in json.loads(text) if i != agent_id]
            await conn.execute(f"UPDATE agents SET {column} = $1 WHERE id = $2", json.dumps(kept), other_id)
            # Origin none: every server follows it, this one too (its event stream tells of the change).
            await changes.append(conn, None, "agent.updated", agent_id=other_id)
