"""What follows the end of a run, in storage: unsettled runs, settlements (streak, pause,
retry, chained runs, alerts) in one transaction, and waiting runs adopted from dead servers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable

from storage import changes
from storage.alerts import raise_in
from storage.db import Database
from storage.interface import ChainedRun, Row, Settlement
from storage.runs import SKIPPED, add_to_rollups


async def unsettled_runs(db: Database, limit: int = 100) -> list[Row]:
    return await db.fetchall(
        "SELECT * FROM runs WHERE unsettled = 1 ORDER BY completed_at, id LIMIT ?", (limit,)
    )


class _StreakMoved(Exception):
    """The agent's failure streak is not the one the settlement was decided on."""


def _insert_chained(
    conn: sqlite3.Connection, c: ChainedRun, now_ms: int, day_of: Callable[[int], str]
) -> None:
    """A chained run, queued (or recorded skipped), unless its agent was deleted meanwhile."""
    status, output, completed = ("queued", None, None) if c.skipped is None else (SKIPPED, c.skipped, now_ms)
    if (
        conn.execute(
            "INSERT INTO runs (id, agent_id, status, trigger, started_at, owner, parent_run_id, input,"
            " output, completed_at, duration_ms) SELECT ?, ?, ?, 'chain', ?, ?, ?, ?, ?, ?, ?"
            " WHERE EXISTS (SELECT 1 FROM agents WHERE id = ?)",
            (
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
                c.agent_id,
            ),
        ).rowcount
        and c.skipped is not None
    ):
        add_to_rollups(conn, c.agent_id, day_of(now_ms), SKIPPED, 0.0, None)


async def settle_run(db: Database, s: Settlement, day_of: Callable[[int], str]) -> str:
    """Apply a :class:`Settlement` in one transaction: ``settled``, ``already`` or ``conflict``."""

    now_ms = s.at

    def settle(conn: sqlite3.Connection) -> str:
        if not conn.execute(
            "UPDATE runs SET unsettled = 0 WHERE id = ? AND unsettled = 1", (s.run_id,)
        ).rowcount:
            return "already"
        agent = conn.execute("SELECT failure_streak FROM agents WHERE id = ?", (s.agent_id,)).fetchone()
        if agent is None:
            return "settled"  # deleted meanwhile: nothing follows
        if agent[0] != s.expected_streak:
            raise _StreakMoved
        if s.pause_reason is not None:
            conn.execute(
                "UPDATE agents SET failure_streak = ?, enabled = 0, paused_reason = ?, next_run_at = NULL,"
                " updated_at = ? WHERE id = ?",
                (s.streak, s.pause_reason, now_ms, s.agent_id),
            )
            # Origin none: every server follows it, this one too (its service learns of the pause
            # as of an edit by another process: the scheduler unplans the agent, the bus tells).
            changes.append(conn, None, "agent.updated", agent_id=s.agent_id)
        elif s.streak != s.expected_streak:
            conn.execute("UPDATE agents SET failure_streak = ? WHERE id = ?", (s.streak, s.agent_id))
        if s.retry is not None:
            r = s.retry
            # A retry is given what its run was given, and belongs to the same chain.
            conn.execute(
                "INSERT INTO runs (id, agent_id, status, trigger, started_at, owner, attempt, retry_of,"
                " not_before, input, parent_run_id) SELECT ?, ?, 'queued', 'retry', ?, ?, ?, ?, ?, input,"
                " parent_run_id FROM runs WHERE id = ?",
                (r.run_id, s.agent_id, now_ms, r.owner, r.attempt, r.retry_of, r.not_before, s.run_id),
            )
        for c in s.chained:
            _insert_chained(conn, c, now_ms, day_of)
        raise_in(conn, s.alerts, now_ms)
        return "settled"

    try:
        return await db.transaction(settle)
    except _StreakMoved:
        return "conflict"


async def adopt_retries(db: Database, live_owners: Iterable[str], owner: str) -> list[Row]:
    """Queued retries and chained runs of servers that hold no live lease become ``owner``'s;
    the rows taken."""
    live = json.dumps(sorted(live_owners))
    return await db.transaction(
        lambda conn: conn.execute(
            "UPDATE runs SET owner = ? WHERE status = 'queued' AND trigger IN ('retry', 'chain')"
            " AND (owner IS NULL OR owner NOT IN (SELECT value FROM json_each(?))) RETURNING *",
            (owner, live),
        ).fetchall()
    )
