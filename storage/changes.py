"""The change feed: what other processes sharing the database must act on.

Agent edits (``agent.created``/``agent.updated``/``agent.deleted``) and cancel
requests (``run.cancel``) are appended in the same transaction as the change
itself, with the id of the server that made it (``origin``). Every server
follows the feed from the sequence number it started at, and acts on the
entries of other origins. Old entries are pruned.
"""

from __future__ import annotations

import sqlite3
import time

from storage.db import Database
from storage.interface import Row


def append(
    conn: sqlite3.Connection,
    origin: str | None,
    kind: str,
    *,
    agent_id: str | None = None,
    run_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Append an entry inside the caller's write transaction."""
    conn.execute(
        "INSERT INTO changes (at, origin, kind, agent_id, run_id, reason) VALUES (?, ?, ?, ?, ?, ?)",
        (time.time_ns() // 1_000_000, origin, kind, agent_id, run_id, reason),
    )


async def last_seq(db: Database) -> int:
    row = await db.fetchone("SELECT COALESCE(MAX(seq), 0) FROM changes")
    return int(row[0]) if row else 0


async def after(db: Database, seq: int, limit: int = 1000) -> list[Row]:
    return await db.fetchall("SELECT * FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))


async def prune(db: Database, before_ms: int) -> None:
    await db.transaction(lambda conn: conn.execute("DELETE FROM changes WHERE at < ?", (before_ms,)))
