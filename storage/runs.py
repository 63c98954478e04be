"""Runs, their events (the transcript), slot claims and the daily rollups.

A run is counted in the daily rollups exactly once, in the same transaction
that gives it a final status, so stats never need to scan the runs table.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence

from storage import changes
from storage.db import Database
from storage.interface import Row
from storage.interface import RunOutcome as RunOutcome

ACTIVE_STATUSES = ("queued", "running")
SUCCESS = "success"
SKIPPED = "skipped"
SETTLED_STATUSES = ("success", "error", "budget_exceeded")
"""Ends with an aftermath (retry, streak, alerts): recorded ``unsettled`` until it is settled."""


async def insert_run(
    db: Database,
    run_id: str,
    agent_id: str,
    status: str,
    started_at: int,
    trigger: str = "manual",
    scheduled_for: int | None = None,
    owner: str | None = None,
    input: str | None = None,
) -> None:
    """Insert a run; an active run needs its ``owner`` (a server id) from the start."""
    await db.transaction(
        lambda conn: conn.execute(
            "INSERT INTO runs (id, agent_id, status, trigger, scheduled_for, started_at, owner, input)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, agent_id, status, trigger, scheduled_for, started_at, owner, input),
        )
    )


async def chain(db: Database, run_id: str) -> list[str]:
    """The agent of a run, then of the run that chained to it, and so on (at most 100)."""
    rows = await db.fetchall(
        "WITH RECURSIVE up(agent_id, parent, depth) AS ("
        " SELECT agent_id, parent_run_id, 0 FROM runs WHERE id = ?"
        " UNION ALL SELECT r.agent_id, r.parent_run_id, up.depth + 1 FROM runs r JOIN up ON r.id = up.parent"
        " WHERE up.depth < 100)"
        " SELECT agent_id FROM up ORDER BY depth",
        (run_id,),
    )
    return [r[0] for r in rows]


async def last_output(db: Database, agent_id: str, besides_run_id: str) -> str | None:
    """The output of the agent's latest successful run (by start) other than ``besides_run_id``."""
    row = await db.fetchone(
        "SELECT output FROM runs WHERE agent_id = ? AND status = 'success' AND id != ?"
        " ORDER BY started_at DESC, id DESC LIMIT 1",
        (agent_id, besides_run_id),
    )
    return None if row is None else row[0]


async def mark_running(db: Database, run_id: str, agent_id: str, started_at: int) -> bool:
    """Start a queued run; False when it is no longer queued (cancelled meanwhile)."""
    return await db.transaction(lambda conn: _start(conn, run_id, agent_id, started_at))


async def start_within(db: Database, run_id: str, agent_id: str, started_at: int, limit: int) -> str:
    """Start a queued run while fewer than ``limit`` runs are running (any process on the file):
    ``started``, ``full`` or ``gone``. One write transaction: processes start one at a time."""

    def start(conn: sqlite3.Connection) -> str:
        # (The IN list as the partial index runs_active's, so the count uses it.)
        running = conn.execute(
            "SELECT COUNT(*) FROM runs WHERE status IN ('running', 'queued') AND status = 'running'"
        ).fetchone()[0]
        if int(running) >= limit:
            queued = conn.execute(
                "SELECT 1 FROM runs WHERE id = ? AND status = 'queued'", (run_id,)
            ).fetchone()
            return "full" if queued else "gone"
        return "started" if _start(conn, run_id, agent_id, started_at) else "gone"

    return await db.transaction(start)


def _start(conn: sqlite3.Connection, run_id: str, agent_id: str, started_at: int) -> bool:
    if not conn.execute(
        "UPDATE runs SET status = 'running', started_at = ? WHERE id = ? AND status = 'queued'",
        (started_at, run_id),
    ).rowcount:
        return False
    conn.execute(
        "UPDATE agents SET last_run_at = ?, last_status = 'running' WHERE id = ?",
        (started_at, agent_id),
    )
    # A scheduled run started: a streak of missed slots is over.
    conn.execute(
        "DELETE FROM alert_state WHERE scope = ? AND kind = 'missed'"
        " AND EXISTS (SELECT 1 FROM runs WHERE id = ? AND trigger = 'schedule')",
        (agent_id, run_id),
    )
    return True


def add_to_rollups(
    conn: sqlite3.Connection,
    agent_id: str,
    day: str,
    status: str,
    cost: float,
    duration_ms: int | None,
) -> None:
    """Count a finished run (or a skipped slot) in the agent's and the global day (in a transaction)."""
    skipped = int(status == SKIPPED)
    counted = 1 - skipped
    values = (
        counted,
        int(status == SUCCESS),
        skipped,
        cost if counted else 0.0,
        (duration_ms or 0) if counted else 0,
        int(duration_ms is not None and bool(counted)),
    )
    update = (
        " DO UPDATE SET total = total + excluded.total, success = success + excluded.success,"
        " skipped = skipped + excluded.skipped, cost_usd = cost_usd + excluded.cost_usd,"
        " duration_ms_sum = duration_ms_sum + excluded.duration_ms_sum,"
        " duration_count = duration_count + excluded.duration_count"
    )
    cols = "total, success, skipped, cost_usd, duration_ms_sum, duration_count"
    conn.execute(
        f"INSERT INTO daily_agent_stats (agent_id, day, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT (agent_id, day){update}",
        (agent_id, day, *values),
    )
    conn.execute(
        f"INSERT INTO daily_global_stats (day, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT (day){update}",
        (day, *values),
    )


async def finish_run(
    db: Database, run_id: str, outcome: RunOutcome, day_of: Callable[[int], str]
) -> Row | None:
    """Give a queued or running run its final status; returns the updated row.

    Does nothing (returns None) when the run is already final, so a late
    second finish (cancel racing completion) can never count a run twice.
    """
    return await db.transaction(lambda conn: _finish(conn, run_id, outcome, day_of))


def _finish(
    conn: sqlite3.Connection, run_id: str, outcome: RunOutcome, day_of: Callable[[int], str]
) -> Row | None:
    rows: list[Row] = conn.execute(
        "UPDATE runs SET status = ?, output = ?, cost_usd = ?, input_tokens = ?,"
        " output_tokens = ?, num_turns = ?, completed_at = ?,"
        " duration_ms = MAX(0, ? - started_at), unsettled = ?"
        " WHERE id = ? AND status IN ('running', 'queued') RETURNING *",
        (
            outcome.status,
            outcome.output,
            outcome.cost_usd,
            outcome.input_tokens,
            outcome.output_tokens,
            outcome.num_turns,
            outcome.completed_at,
            outcome.completed_at,
            int(outcome.status in SETTLED_STATUSES),
            run_id,
        ),
    ).fetchall()
    if not rows:
        return None
    row = rows[0]
    conn.execute(
        "UPDATE agents SET last_run_at = ?, last_status = ? WHERE id = ?",
        (row["started_at"], outcome.status, row["agent_id"]),
    )
    add_to_rollups(
        conn,
        row["agent_id"],
        day_of(row["started_at"]),
        outcome.status,
        outcome.cost_usd or 0.0,
        row["duration_ms"],
    )
    return row


async def orphaned_runs(db: Database, live_owners: Iterable[str]) -> list[Row]:
    """Queued or running runs whose owner is not one of ``live_owners`` (or has none)."""
    live = json.dumps(sorted(live_owners))
    return await db.fetchall(
        "SELECT id, agent_id, owner FROM runs WHERE status IN ('running', 'queued')"
        " AND (owner IS NULL OR owner NOT IN (SELECT value FROM json_each(?)))",
        (live,),
    )


async def finish_runs(
    db: Database, run_ids: Iterable[str], outcome: RunOutcome, day_of: Callable[[int], str]
) -> list[Row]:
    """:func:`finish_run` for several runs in one transaction; returns the rows it ended."""
    ids = list(run_ids)

    def finish(conn: sqlite3.Connection) -> list[Row]:
        rows = (_finish(conn, run_id, outcome, day_of) for run_id in ids)
        return [row for row in rows if row is not None]

    return await db.transaction(finish)


async def request_cancel(db: Database, run_ids: Sequence[str], reason: str) -> list[str]:
    """Ask the owners of active runs to cancel them; returns the runs still active.

    The request is recorded on the run and in the change feed in one
    transaction; the owning server acts on it and records the end.
    """

    def request(conn: sqlite3.Connection) -> list[str]:
        requested = []
        for run_id in run_ids:
            if conn.execute(
                "UPDATE runs SET cancel_requested = ? WHERE id = ? AND status IN ('running', 'queued')",
                (reason, run_id),
            ).rowcount:
                requested.append(run_id)
                changes.append(conn, db.origin, "run.cancel", run_id=run_id, reason=reason)
        return requested

    return await db.transaction(request)


async def cancel_requests(db: Database, owner: str) -> list[Row]:
    """This owner's active runs with a cancel request on them (``id``, ``cancel_requested``)."""
    return await db.fetchall(
        "SELECT id, cancel_requested FROM runs WHERE status IN ('running', 'queued')"
        " AND owner = ? AND cancel_requested IS NOT NULL",
        (owner,),
    )


async def statuses(db: Database, run_ids: Sequence[str]) -> dict[str, str]:
    rows = await db.fetchall(
        "SELECT id, status FROM runs WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(run_ids)),),
    )
    return {r[0]: r[1] for r in rows}


async def add_events(db: Database, run_id: str, events: Sequence[tuple[int, int, str, str]]) -> None:
    """Append transcript events ``(seq, at_ms, type, json_data)`` to a run."""
    if not events:
        return
    rows = [(run_id, *e) for e in events]
    await db.transaction(
        lambda conn: conn.executemany(
            "INSERT INTO run_events (run_id, seq, at, type, data) VALUES (?, ?, ?, ?, ?)", rows
        )
    )


async def list_runs(db: Database, agent_id: str, limit: int, since_ms: int | None) -> list[Row]:
    if since_ms is None:
        return await db.fetchall(
            "SELECT * FROM runs WHERE agent_id = ? ORDER BY started_at DESC, id DESC LIMIT ?",
            (agent_id, limit),
        )
    return await db.fetchall(
        "SELECT * FROM runs WHERE agent_id = ? AND started_at >= ? ORDER BY started_at DESC, id DESC LIMIT ?",
        (agent_id, since_ms, limit),
    )


async def get_run(db: Database, run_id: str) -> Row | None:
    return await db.fetchone("SELECT * FROM runs WHERE id = ?", (run_id,))


async def get_events(db: Database, run_id: str) -> list[Row]:
    return await db.fetchall(
        "SELECT seq, at, type, data FROM run_events WHERE run_id = ? ORDER BY seq", (run_id,)
    )


async def active_runs(db: Database, agent_id: str | None = None) -> list[Row]:
    if agent_id is None:
        return await db.fetchall(
            "SELECT * FROM runs WHERE status IN ('running', 'queued') ORDER BY started_at"
        )
    return await db.fetchall(
        "SELECT * FROM runs WHERE status IN ('running', 'queued') AND agent_id = ? ORDER BY started_at",
        (agent_id,),
    )


async def running_agent_ids(db: Database) -> list[str]:
    rows = await db.fetchall(
        "SELECT DISTINCT agent_id FROM runs WHERE status IN ('running', 'queued') ORDER BY agent_id"
    )
    return [r[0] for r in rows]


async def skip_run(
    db: Database, run_id: str, reason: str, at: int, day_of: Callable[[int], str]
) -> Row | None:
    """End a queued run as ``skipped`` (it never started); None when it is no longer queued."""

    def skip(conn: sqlite3.Connection) -> Row | None:
        rows: list[Row] = conn.execute(
            "UPDATE runs SET status = 'skipped', output = ?, completed_at = ?, duration_ms = 0"
            " WHERE id = ? AND status = 'queued' RETURNING *",
            (reason, at, run_id),
        ).fetchall()
        if not rows:
            return None
        row = rows[0]
        add_to_rollups(conn, row["agent_id"], day_of(row["started_at"]), SKIPPED, 0.0, None)
        return row

    return await db.transaction(skip)
