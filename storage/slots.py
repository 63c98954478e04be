"""Scheduled slots: exactly-once claims, skipped slots, and what the scheduler reads.

A *slot* is one scheduled instant of one agent. Claiming it inserts a run row
keyed by ``(agent_id, scheduled_for)`` if no row with that key exists ("insert
if absent on a unique key"), so a slot runs once, ever, however many processes
share the database. The scheduler builds an instant's claims while idle
(:func:`encode_claims`); the claim itself is then one statement.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence

from storage.db import Database
from storage.interface import EncodedClaims, SlotClaim
from storage.runs import SKIPPED, add_to_rollups

_CLAIM_SQL = """
    INSERT INTO runs (id, agent_id, scheduled_for, status, trigger, started_at, owner)
    SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, 'schedule', ?, ?
    FROM json_each(?) AS j
    WHERE EXISTS (SELECT 1 FROM agents a WHERE a.id = j.value ->> 1)
    ON CONFLICT (agent_id, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING
    RETURNING id
"""


def encode_claims(claims: Sequence[SlotClaim]) -> EncodedClaims:
    return EncodedClaims(json.dumps(claims))


async def claim(db: Database, claims: EncodedClaims, started_at: int, owner: str | None) -> set[str]:
    """Claim slots in one transaction; returns the run ids whose claim succeeded.

    The others were claimed before (by any process) or their agent was
    deleted meanwhile. ``owner`` is the claiming server: a claimed row is
    owned from the moment it exists.
    """
    return await db.transaction(lambda conn: _claim(conn, claims, started_at, owner))


def _claim(conn: sqlite3.Connection, claims: EncodedClaims, started_at: int, owner: str | None) -> set[str]:
    return {row[0] for row in conn.execute(_CLAIM_SQL, (started_at, owner, claims)).fetchall()}


async def release(db: Database, run_ids: Sequence[str]) -> None:
    """Delete claimed rows that were never handed to a runner (their slots are free again)."""
    if run_ids:
        ids = json.dumps(list(run_ids))
        await db.transaction(
            lambda conn: conn.execute(
                "DELETE FROM runs WHERE status = 'queued' AND id IN (SELECT value FROM json_each(?))",
                (ids,),
            )
        )


async def record_skipped(
    db: Database,
    slots: Iterable[tuple[str, str, int, str]],
    now_ms: int,
    day_of: Callable[[int], str],
) -> set[str]:
    """Record slots that were not run: ``(run_id, agent_id, scheduled_for, reason)``.

    Each is claimed like a fire (so it is recorded once even across processes)
    and counted in the rollup's ``skipped`` column, never as a run; claim and
    record are one transaction, so no other server sees the row queued.
    """
    slots = list(slots)
    if not slots:
        return set()
    payload = encode_claims([(r, a, s, "queued") for r, a, s, _ in slots])

    def record(conn: sqlite3.Connection) -> set[str]:
        claimed = _claim(conn, payload, now_ms, None)
        for run_id, agent_id, scheduled_for, reason in slots:
            if run_id not in claimed:
                continue
            conn.execute(
                "UPDATE runs SET status = 'skipped', output = ?, started_at = ?,"
                " completed_at = ?, duration_ms = 0 WHERE id = ?",
                (reason, scheduled_for, scheduled_for, run_id),
            )
            add_to_rollups(conn, agent_id, day_of(scheduled_for), SKIPPED, 0.0, None)
        return claimed

    return await db.transaction(record)


async def busy_agent_ids(db: Database, besides_slot: int | None = None) -> set[str]:
    """Agents with a queued or running run (any process), not counting slot ``besides_slot``.

    Written so SQLite uses the partial index ``runs_active`` (its ``IN`` list
    must match the index's, in order), not a scan of every run ever recorded.
    """
    # (Not "scheduled_for IS NOT ?": with None that reads IS NOT NULL and leaves out manual runs and retries.)
    rows = await db.fetchall(
        "SELECT DISTINCT agent_id FROM runs WHERE status IN ('running', 'queued')"
        " AND (? IS NULL OR scheduled_for IS NULL OR scheduled_for != ?)",
        (besides_slot, besides_slot),
    )
    return {r[0] for r in rows}


async def ended_claims(db: Database, slot: int) -> set[str]:
    """Ids of the rows of ``slot`` claimed ahead (started at the slot) that are no longer queued."""
    rows = await db.fetchall(
        "SELECT id FROM runs WHERE started_at = ? AND scheduled_for = ? AND status != 'queued'",
        (slot, slot),
    )
    return {r[0] for r in rows}


async def latest_slots(db: Database) -> dict[str, int]:
    """Each agent's latest scheduled slot with a row (any status, any process)."""
    rows = await db.fetchall(
        "SELECT agent_id, MAX(scheduled_for) FROM runs WHERE scheduled_for IS NOT NULL GROUP BY agent_id"
    )
    return {r[0]: r[1] for r in rows}


async def store_next_run_times(db: Database, rows: Sequence[tuple[int, str, str, str]]) -> None:
    """``(next_run_at, agent_id, schedule, timezone)``, in one transaction.

    Written only where the agent still has that schedule and zone and is
    enabled, so a value computed before a concurrent edit never overwrites the
    one the edit stored.
    """
    values = list(rows)
    await db.transaction(
        lambda conn: conn.executemany(
            "UPDATE agents SET next_run_at = ? WHERE id = ? AND schedule = ? AND timezone = ?"
            " AND enabled = 1",
            values,
        )
    )
