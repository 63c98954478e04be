"""The change feed on PostgreSQL (see :mod:`storage.changes` for what it carries).

Followers read entries after the last sequence number they saw, so an entry
must never become visible after one with a higher number: appends take a
transaction-level advisory lock, which orders their commits as their numbers.
"""

from __future__ import annotations

import time

import asyncpg

from storage.interface import Row
from storage.postgres.db import Part

CHANGES_LOCK = 0x63686E67  # "chng"


async def lock(conn: asyncpg.Connection) -> None:
    """Take the feed's lock until the transaction ends. A transaction that appends more than
    once, or locks rows after appending, takes it first: two such transactions never wait on
    each other's rows while holding it."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", CHANGES_LOCK)


async def append(
    conn: asyncpg.Connection,
    origin: str | None,
    kind: str,
    *,
    agent_id: str | None = None,
    run_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Append an entry inside the caller's write transaction."""
    await lock(conn)
    await conn.execute(
        "INSERT INTO changes (at, origin, kind, agent_id, run_id, reason) VALUES ($1, $2, $3, $4, $5, $6)",
        time.time_ns() // 1_000_000,
        origin,
        kind,
        agent_id,
        run_id,
        reason,
    )


class PgChanges(Part):
    async def last_seq(self) -> int:
        return int(await self.db.fetchval("SELECT COALESCE(MAX(seq), 0) FROM changes"))

    async def after(self, seq: int, limit: int = 1000) -> list[Row]:
        return await self.db.fetchall(
            "SELECT * FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2", seq, limit
        )

    async def prune(self, before_ms: int) -> None:
        await self.db.execute("DELETE FROM changes WHERE at < $1", before_ms)
