"""Runs, their events (the transcript), slot claims and the daily rollups.

A run is counted in the daily rollups exactly once, in the same transaction
that gives it a final status, so stats never need to scan the runs table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from storage.db import Database, Row

ACTIVE_STATUSES = ("queued", "running")
SUCCESS = "success"
SKIPPED = "skipped"


@dataclass(frozen=True)
class RunOutcome:
    """What a finished run recorded; ``day`` is its calendar day in the stats zone."""

    status: str
    output: str | None
    completed_at: int
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    num_turns: int | None = None


async def insert_run(
    db: Database,
    run_id: str,
    agent_id: str,
    status: str,
    started_at: int,
    trigger: str = "manual",
    scheduled_for: int | None = None,
) -> None:
    async with db.write() as conn:
        await conn.execute(
            "INSERT INTO runs (id, agent_id, status, trigger, scheduled_for, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, agent_id, status, trigger, scheduled_for, started_at),
        )


async def claim_slots(
    db: Database, claims: Sequence[tuple[str, str, int, str]], started_at: int
) -> set[str]:
    """Claim scheduled slots ``(run_id, agent_id, scheduled_for, status)`` in one transaction.

    A slot (agent, scheduled time) can be claimed once, ever, by any process
    sharing the file. Returns the run ids whose claim succeeded; the others
    were already claimed (or their agent was deleted meanwhile).
    """
    if not claims:
        return set()
    return await claim_slots_json(db, json.dumps([list(c) for c in claims]), started_at)


_CLAIM_SQL = """
    INSERT INTO runs (id, agent_id, scheduled_for, status, trigger, started_at)
    SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, 'schedule', ?
    FROM json_each(?) AS j
    WHERE EXISTS (SELECT 1 FROM agents a WHERE a.id = j.value ->> 1)
    ON CONFLICT (agent_id, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING
    RETURNING id
"""


async def claim_slots_json(db: Database, payload: str, started_at: int) -> set[str]:
    """:func:`claim_slots` with the claims already encoded as a JSON array of arrays.

    The scheduler encodes a large instant's claims while idle, so the
    instant itself only pays for the one INSERT.
    """
    async with db.write() as conn:
        async with conn.execute(_CLAIM_SQL, (started_at, payload)) as cur:
            return {row[0] for row in await cur.fetchall()}


async def mark_running(db: Database, run_id: str, agent_id: str, started_at: int) -> None:
    async with db.write() as conn:
        await conn.execute(
            "UPDATE runs SET status = 'running', started_at = ? WHERE id = ?", (started_at, run_id)
        )
        await conn.execute(
            "UPDATE agents SET last_run_at = ?, last_status = 'running' WHERE id = ?",
            (started_at, agent_id),
        )


async def _add_to_rollups(
    conn: aiosqlite.Connection, agent_id: str, day: str, status: str, cost: float,
    duration_ms: int | None,
) -> None:  # fmt: skip
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
    await conn.execute(
        f"INSERT INTO daily_agent_stats (agent_id, day, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT (agent_id, day){update}",
        (agent_id, day, *values),
    )
    await conn.execute(
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
    async with db.write() as conn:
        return await _finish(conn, run_id, outcome, day_of)


async def _finish(
    conn: aiosqlite.Connection, run_id: str, outcome: RunOutcome, day_of: Callable[[int], str]
) -> Row | None:
    async with conn.execute(
        "UPDATE runs SET status = ?, output = ?, cost_usd = ?, input_tokens = ?,"
        " output_tokens = ?, num_turns = ?, completed_at = ?,"
        " duration_ms = MAX(0, ? - started_at)"
        " WHERE id = ? AND status IN ('running', 'queued') RETURNING *",
        (
            outcome.status, outcome.output, outcome.cost_usd, outcome.input_tokens,
            outcome.output_tokens, outcome.num_turns, outcome.completed_at,
            outcome.completed_at, run_id,
        ),
    ) as cur:  # fmt: skip
        row: Row | None = await cur.fetchone()
    if row is None:
        return None
    await conn.execute(
        "UPDATE agents SET last_run_at = ?, last_status = ? WHERE id = ?",
        (row["started_at"], outcome.status, row["agent_id"]),
    )
    await _add_to_rollups(
        conn, row["agent_id"], day_of(row["started_at"]), outcome.status,
        outcome.cost_usd or 0.0, row["duration_ms"],
    )  # fmt: skip
    return row


async def record_skipped(
    db: Database,
    slots: Iterable[tuple[str, str, int, str]],
    now_ms: int,
    day_of: Callable[[int], str],
) -> set[str]:
    """Record scheduled slots that were not run: ``(run_id, agent_id, scheduled_for, reason)``.

    Each is claimed like a fire (so it is recorded once even across processes)
    and counted in the rollup's ``skipped`` column, never as a run.
    """
    slots = list(slots)
    claimed = await claim_slots(db, [(r, a, s, "queued") for r, a, s, _ in slots], now_ms)
    if not claimed:
        return claimed
    async with db.write() as conn:
        for run_id, agent_id, scheduled_for, reason in slots:
            if run_id not in claimed:
                continue
            await conn.execute(
                "UPDATE runs SET status = 'skipped', output = ?, started_at = ?,"
                " completed_at = ?, duration_ms = 0 WHERE id = ?",
                (reason, scheduled_for, scheduled_for, run_id),
            )
            await _add_to_rollups(conn, agent_id, day_of(scheduled_for), SKIPPED, 0.0, None)
    return claimed


async def interrupt_active_runs(
    db: Database,
    output: str,
    now_ms: int,
    day_of: Callable[[int], str],
    owner_alive: Callable[[str | None], bool] = lambda owner: False,
) -> list[Row]:
    """Mark queued or running runs whose owning process is gone as ``error`` (start-up)."""
    async with db.write() as conn:
        async with conn.execute(
            "SELECT id, owner FROM runs WHERE status IN ('running', 'queued')"
        ) as cur:
            ids = [row[0] for row in await cur.fetchall() if not owner_alive(row[1])]
        finished = []
        for run_id in ids:
            row = await _finish(conn, run_id, RunOutcome("error", output, now_ms), day_of)
            if row is not None:
                finished.append(row)
        return finished


async def set_owner(db: Database, run_id: str, owner: str) -> None:
    async with db.write() as conn:
        await conn.execute("UPDATE runs SET owner = ? WHERE id = ?", (owner, run_id))


async def add_events(db: Database, run_id: str, events: Sequence[tuple[int, int, str, str]]) -> None:
    """Append transcript events ``(seq, at_ms, type, json_data)`` to a run."""
    if not events:
        return
    async with db.write() as conn:
        await conn.executemany(
            "INSERT INTO run_events (run_id, seq, at, type, data) VALUES (?, ?, ?, ?, ?)",
            [(run_id, *e) for e in events],
        )


async def list_runs(db: Database, agent_id: str, limit: int, since_ms: int | None) -> list[Row]:
    if since_ms is None:
        return await db.fetchall(
            "SELECT * FROM runs WHERE agent_id = ? ORDER BY started_at DESC, id DESC LIMIT ?",
            (agent_id, limit),
        )
    return await db.fetchall(
        "SELECT * FROM runs WHERE agent_id = ? AND started_at >= ?"
        " ORDER BY started_at DESC, id DESC LIMIT ?",
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
        "SELECT * FROM runs WHERE status IN ('running', 'queued') AND agent_id = ?"
        " ORDER BY started_at",
        (agent_id,),
    )


async def running_agent_ids(db: Database) -> list[str]:
    rows = await db.fetchall(
        "SELECT DISTINCT agent_id FROM runs WHERE status IN ('running', 'queued') ORDER BY agent_id"
    )
    return [r[0] for r in rows]


def row_dict(row: Row) -> dict[str, Any]:
    return {k: row[k] for k in row.keys()}
