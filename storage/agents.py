"""Agent rows. Column names are snake_case; the API's camelCase lives in app/."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from storage import changes
from storage.db import Database
from storage.interface import Row

AGENT_COLUMNS = (
    "id",
    "name",
    "description",
    "schedule",
    "prompt",
    "enabled",
    "max_turns",
    "max_budget_usd",
    "timezone",
    "model",
    "cwd",
    "allowed_tools",
    "permission_mode",
    "timeout_seconds",
    "concurrency_policy",
    "starting_deadline_seconds",
    "next_run_at",
    "last_run_at",
    "last_status",
    "creator_id",
    "created_at",
    "updated_at",
    "load_project_settings",
    "notify",
    "retry",
    "pause_after_failures",
    "daily_budget_usd",
    "monthly_budget_usd",
    "paused_reason",
    "failure_streak",
    "run_at",
    "on_success",
    "on_failure",
    "env",
    "trigger_secret",
    "mcp_servers",
)
CHAIN_COLUMNS = ("on_success", "on_failure")
UPDATABLE = frozenset(AGENT_COLUMNS) - {"id", "creator_id", "created_at"}

_SELECT = "SELECT a.*, u.name AS creator_name FROM agents a LEFT JOIN users u ON u.id = a.creator_id"


def _writable(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """A one-shot agent has no schedule: "" in the column, which is NOT NULL since v1."""
    if "schedule" in values and values["schedule"] is None:
        return {**values, "schedule": ""}
    return values


def _row_in(conn: sqlite3.Connection, agent_id: str) -> Row | None:
    row: Row | None = conn.execute(f"{_SELECT} WHERE a.id = ?", (agent_id,)).fetchone()
    return row


async def insert_agent(db: Database, values: Mapping[str, Any]) -> Row:
    """Insert an agent; returns its row as read by the transaction that wrote it."""
    values = _writable(values)
    cols = [c for c in AGENT_COLUMNS if c in values]

    def insert(conn: sqlite3.Connection) -> Row | None:
        conn.execute(
            f"INSERT INTO agents ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [values[c] for c in cols],
        )
        changes.append(conn, db.origin, "agent.created", agent_id=values["id"])
        return _row_in(conn, values["id"])

    row = await db.transaction(insert)
    assert row is not None
    return row


async def update_agent(db: Database, agent_id: str, values: Mapping[str, Any]) -> Row | None:
    """Update an agent; returns its row as written (None: no such agent)."""
    values = _writable(values)
    cols = [c for c in values if c in UPDATABLE]
    if not cols:
        return await get_agent(db, agent_id)

    def update(conn: sqlite3.Connection) -> Row | None:
        conn.execute(
            f"UPDATE agents SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
            [*(values[c] for c in cols), agent_id],
        )
        row = _row_in(conn, agent_id)
        if row is not None:
            changes.append(conn, db.origin, "agent.updated", agent_id=agent_id)
        return row

    return await db.transaction(update)


async def set_trigger_secret(db: Database, agent_id: str, sealed: str | None) -> Row | None:
    """Set (or with None, remove) an agent's sealed trigger secret; its row (None: no such agent)."""

    def update(conn: sqlite3.Connection) -> Row | None:
        if not conn.execute("UPDATE agents SET trigger_secret = ? WHERE id = ?", (sealed, agent_id)).rowcount:
            return None
        changes.append(conn, db.origin, "agent.updated", agent_id=agent_id)
        return _row_in(conn, agent_id)

    return await db.transaction(update)


async def end_one_shot(db: Database, agent_id: str, run_at: int, now_ms: int) -> Row | None:
    """Disable a one-shot agent whose time came, if still enabled for that time; its row (or None)."""

    def end(conn: sqlite3.Connection) -> Row | None:
        if not conn.execute(
            "UPDATE agents SET enabled = 0, next_run_at = NULL, updated_at = ?"
            " WHERE id = ? AND run_at = ? AND enabled = 1",
            (now_ms, agent_id, run_at),
        ).rowcount:
            return None
        changes.append(conn, db.origin, "agent.updated", agent_id=agent_id)
        return _row_in(conn, agent_id)

    return await db.transaction(end)


async def get_agent(db: Database, agent_id: str) -> Row | None:
    return await db.fetchone(f"{_SELECT} WHERE a.id = ?", (agent_id,))


async def list_agents(db: Database) -> list[Row]:
    return await db.fetchall(f"{_SELECT} ORDER BY a.name, a.id")


async def list_enabled_agents(db: Database) -> list[Row]:
    return await db.fetchall(f"{_SELECT} WHERE a.enabled = 1 ORDER BY a.id")


async def count_agents(db: Database) -> tuple[int, int]:
    """(all agents, enabled agents)."""
    row = await db.fetchone("SELECT COUNT(*), COALESCE(SUM(enabled), 0) FROM agents")
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def delete_agent(db: Database, agent_id: str) -> int:
    """Delete an agent with its runs, events and rollup; returns the number of runs removed.

    The global daily rollup is reduced by the agent's own rollup in the same
    transaction, so global stats never count runs that no longer exist.
    """

    def delete(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT COUNT(*) FROM runs WHERE agent_id = ?", (agent_id,)).fetchone()
        conn.execute(
            """
            UPDATE daily_global_stats SET
                total = daily_global_stats.total - s.total,
                success = daily_global_stats.success - s.success,
                skipped = daily_global_stats.skipped - s.skipped,
                cost_usd = daily_global_stats.cost_usd - s.cost_usd,
                duration_ms_sum = daily_global_stats.duration_ms_sum - s.duration_ms_sum,
                duration_count = daily_global_stats.duration_count - s.duration_count
            FROM (SELECT * FROM daily_agent_stats WHERE agent_id = ?) AS s
            WHERE daily_global_stats.day = s.day
            """,
            (agent_id,),
        )
        if conn.execute("DELETE FROM agents WHERE id = ?", (agent_id,)).rowcount:
            changes.append(conn, db.origin, "agent.deleted", agent_id=agent_id)
            _unchain(conn, db.origin, agent_id)
        return int(row[0]) if row else 0

    return await db.transaction(delete)


async def missing_agents(db: Database, agent_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(agent_ids))
    if not ids:
        return []
    rows = await db.fetchall(
        "SELECT id FROM agents WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
    )
    found = {r[0] for r in rows}
    return [i for i in ids if i not in found]


def _unchain(conn: sqlite3.Connection, origin: str | None, agent_id: str) -> None:
    """Take a deleted agent out of every other agent's ``on_success`` and ``on_failure``."""
    for column in CHAIN_COLUMNS:
        rows = conn.execute(
            f"SELECT a.id, a.{column} FROM agents a, json_each(a.{column}) AS t WHERE t.value = ?",
            (agent_id,),
        ).fetchall()
        for other_id, text in rows:
            kept = [i for i in json.loads(text) if i != agent_id]
            conn.execute(f"UPDATE agents SET {column} = ? WHERE id = ?", (json.dumps(kept), other_id))
            # Origin none: every server follows it, this one too (its event stream tells of the change).
            changes.append(conn, None, "agent.updated", agent_id=other_id)


async def count_runs(db: Database, agent_id: str) -> int:
    row = await db.fetchone(
        "SELECT COUNT(*) FROM runs WHERE agent_id = ? AND status != 'skipped'", (agent_id,)
    )
    return int(row[0]) if row else 0
