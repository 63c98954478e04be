"""Channels, deliveries, settings and alert state.

A delivery is a row from the moment its alert is raised (in the transaction
that raised it), so a message survives a crash; the deliverer of any live
server claims due rows for a while (``locked_by``/``locked_until``), so two
servers never send one at once and a server that died mid-try leaves it to
the next. Alert state ``(scope, kind) -> value`` makes an alert once per
window or streak: an alert whose state already holds its value is not raised.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from storage import changes
from storage.db import Database
from storage.interface import Alert, DeliveryResult, Row

CHANNEL_COLUMNS = ("id", "name", "type", "enabled", "config", "secret", "created_at", "updated_at")
_CHANNEL_UPDATABLE = frozenset(CHANNEL_COLUMNS) - {"id", "type", "created_at"}


# -- channels --------------------------------------------------------------------------


async def insert_channel(db: Database, values: Mapping[str, Any]) -> Row:
    cols = [c for c in CHANNEL_COLUMNS if c in values]

    def insert(conn: sqlite3.Connection) -> Row:
        conn.execute(
            f"INSERT INTO channels ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [values[c] for c in cols],
        )
        row: Row = conn.execute("SELECT * FROM channels WHERE id = ?", (values["id"],)).fetchone()
        return row

    return await db.transaction(insert)


async def update_channel(db: Database, channel_id: str, values: Mapping[str, Any]) -> Row | None:
    cols = [c for c in values if c in _CHANNEL_UPDATABLE]

    def update(conn: sqlite3.Connection) -> Row | None:
        if cols:
            conn.execute(
                f"UPDATE channels SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?",
                [*(values[c] for c in cols), channel_id],
            )
        row: Row | None = conn.execute("SELECT * FROM channels WHERE id = ?", (channel_id,)).fetchone()
        return row

    return await db.transaction(update)


async def get_channel(db: Database, channel_id: str) -> Row | None:
    return await db.fetchone("SELECT * FROM channels WHERE id = ?", (channel_id,))


async def all_channels(db: Database) -> list[Row]:
    return await db.fetchall("SELECT * FROM channels ORDER BY name, id")


async def delete_channel(db: Database, channel_id: str) -> bool:
    """Delete a channel and name it no more in agents' ``notify`` or the default channels."""

    def delete(conn: sqlite3.Connection) -> bool:
        if not conn.execute("DELETE FROM channels WHERE id = ?", (channel_id,)).rowcount:
            return False
        rows = conn.execute(
            "SELECT a.id, a.notify FROM agents a, json_each(a.notify, '$.channels') AS c WHERE c.value = ?",
            (channel_id,),
        ).fetchall()
        for agent_id, text in rows:
            notify = json.loads(text)
            notify["channels"] = [c for c in notify["channels"] if c != channel_id]
            conn.execute(
                "UPDATE agents SET notify = ? WHERE id = ?",
                (json.dumps(notify, separators=(",", ":")), agent_id),
            )
            changes.append(conn, db.origin, "agent.updated", agent_id=agent_id)
        setting = conn.execute("SELECT value FROM settings WHERE key = 'notifyChannels'").fetchone()
        if setting is not None:
            kept = [c for c in json.loads(setting[0]) if c != channel_id]
            conn.execute("UPDATE settings SET value = ? WHERE key = 'notifyChannels'", (json.dumps(kept),))
        return True

    return await db.transaction(delete)


async def missing_channels(db: Database, channel_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(channel_ids))
    if not ids:
        return []
    rows = await db.fetchall(
        "SELECT id FROM channels WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
    )
    found = {r[0] for r in rows}
    return [i for i in ids if i not in found]


# -- deliveries ------------------------------------------------------------------------


def raise_in(
    conn: sqlite3.Connection, alerts: Sequence[Alert], now_ms: int, due_at: int | None = None
) -> int:
    """Record alerts inside the caller's transaction; the number of deliveries recorded.

    Their first try is due at ``due_at`` (default: at once).
    """
    due = now_ms if due_at is None else due_at
    recorded = 0
    for alert in alerts:
        if alert.once is not None:
            scope, kind, value = alert.once
            if not conn.execute(
                "INSERT INTO alert_state (scope, kind, value, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (scope, kind) DO UPDATE SET value = excluded.value, at = excluded.at"
                " WHERE alert_state.value != excluded.value",
                (scope, kind, value, now_ms),
            ).rowcount:
                continue  # already alerted for this window or streak
        conn.executemany(
            "INSERT INTO deliveries (id, channel_id, agent_id, run_id, event, payload, next_attempt_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (d.id, d.channel_id, d.agent_id, d.run_id, d.event, d.payload, due, now_ms)
                for d in alert.deliveries
            ],
        )
        recorded += len(alert.deliveries)
    return recorded


async def raise_alerts(db: Database, alerts: Sequence[Alert], now_ms: int, due_at: int | None = None) -> int:
    if not alerts:
        return 0
    return await db.transaction(lambda conn: raise_in(conn, alerts, now_ms, due_at))


async def claim_due(db: Database, now_ms: int, owner: str, lock_ms: int, limit: int) -> list[Row]:
    """Lock up to ``limit`` due deliveries for ``owner``, earliest first; the rows locked."""

    def claim(conn: sqlite3.Connection) -> list[Row]:
        rows: list[Row] = conn.execute(
            "UPDATE deliveries SET locked_by = ?, locked_until = ? WHERE id IN ("
            " SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?"
            " AND (locked_until IS NULL OR locked_until < ?) ORDER BY next_attempt_at LIMIT ?)"
            " RETURNING *",
            (owner, now_ms + lock_ms, now_ms, now_ms, limit),
        ).fetchall()
        return rows

    return await db.transaction(claim)


async def record_results(db: Database, results: Sequence[DeliveryResult]) -> None:
    if not results:
        return
    rows = [
        (
            r.status,
            r.attempts,
            r.error,
            r.at if r.status == "sent" else None,
            r.next_attempt_at if r.next_attempt_at is not None else r.at,
            r.id,
        )
        for r in results
    ]
    await db.transaction(
        lambda conn: conn.executemany(
            "UPDATE deliveries SET status = ?, attempts = ?, last_error = ?, sent_at = ?,"
            " next_attempt_at = ?, locked_by = NULL, locked_until = NULL WHERE id = ?",
            rows,
        )
    )


async def next_due(db: Database) -> int | None:
    """When :func:`claim_due` can next find a delivery: the earliest of the pending ones' due
    times, a locked one's being when its lock lapses (those under way wake the deliverer anyway)."""
    row = await db.fetchone(
        "SELECT MIN(MAX(next_attempt_at, COALESCE(locked_until + 1, 0))) FROM deliveries"
        " WHERE status = 'pending'"
    )
    return None if row is None or row[0] is None else int(row[0])


async def deliveries_for_run(db: Database, run_id: str) -> list[Row]:
    return await db.fetchall("SELECT * FROM deliveries WHERE run_id = ? ORDER BY created_at, id", (run_id,))


async def get_delivery(db: Database, delivery_id: str) -> Row | None:
    return await db.fetchone("SELECT * FROM deliveries WHERE id = ?", (delivery_id,))


# -- settings and alert state ------------------------------------------------------------


async def all_settings(db: Database) -> dict[str, str]:
    rows = await db.fetchall("SELECT key, value FROM settings")
    return {r[0]: r[1] for r in rows}


async def put_settings(db: Database, values: Mapping[str, str]) -> None:
    items = list(values.items())
    await db.transaction(
        lambda conn: conn.executemany(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            items,
        )
    )


async def alert_state(db: Database, scope: str, kind: str) -> str | None:
    row = await db.fetchone("SELECT value FROM alert_state WHERE scope = ? AND kind = ?", (scope, kind))
    return None if row is None else str(row[0])


async def set_alert_state(db: Database, scope: str, kind: str, value: str | None, now_ms: int) -> None:
    if value is None:
        await db.transaction(
            lambda conn: conn.execute("DELETE FROM alert_state WHERE scope = ? AND kind = ?", (scope, kind))
        )
        return
    await db.transaction(
        lambda conn: conn.execute(
            "INSERT INTO alert_state (scope, kind, value, at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (scope, kind) DO UPDATE SET value = excluded.value, at = excluded.at",
            (scope, kind, value, now_ms),
        )
    )
