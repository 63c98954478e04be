"""Channels, deliveries, settings and alert state on PostgreSQL (as :mod:`storage.alerts`).

Due deliveries are claimed with ``FOR UPDATE SKIP LOCKED``: two nodes claiming
at once take different rows, never the same one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg

from storage.alerts import CHANNEL_COLUMNS
from storage.interface import Alert, DeliveryResult, Row
from storage.postgres import changes
from storage.postgres.db import Part, affected

_CHANNEL_UPDATABLE = frozenset(CHANNEL_COLUMNS) - {"id", "type", "created_at"}


class PgChannels(Part):
    async def insert(self, values: Mapping[str, Any]) -> Row:
        cols = [c for c in CHANNEL_COLUMNS if c in values]
        params = ", ".join(f"${i}" for i in range(1, len(cols) + 1))
        async with self.db.transaction() as conn:
            row: Row = await conn.fetchrow(
                f"INSERT INTO channels ({', '.join(cols)}) VALUES ({params}) RETURNING *",
                *[values[c] for c in cols],
            )
            return row

    async def update(self, channel_id: str, values: Mapping[str, Any]) -> Row | None:
        cols = [c for c in values if c in _CHANNEL_UPDATABLE]
        if not cols:
            return await self.get(channel_id)
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=2))
        async with self.db.transaction() as conn:
            row: Row | None = await conn.fetchrow(
                f"UPDATE channels SET {sets} WHERE id = $1 RETURNING *",
                channel_id,
                *(values[c] for c in cols),
            )
            return row

    async def get(self, channel_id: str) -> Row | None:
        return await self.db.fetchone("SELECT * FROM channels WHERE id = $1", channel_id)

    async def all(self) -> list[Row]:
        return await self.db.fetchall("SELECT * FROM channels ORDER BY name, id")

    async def delete(self, channel_id: str) -> bool:
        async with self.db.transaction() as conn:
            await changes.lock(conn)
            if not affected(await conn.execute("DELETE FROM channels WHERE id = $1", channel_id)):
                return False
            rows = await conn.fetch(
                "SELECT id, notify FROM agents WHERE (notify::jsonb -> 'channels') ? $1 FOR UPDATE",
                channel_id,
            )
            for agent_id, text in rows:
                notify = json.loads(text)
                notify["channels"] = [c for c in notify["channels"] if c != channel_id]
                await conn.execute(
                    "UPDATE agents SET notify = $1 WHERE id = $2",
                    json.dumps(notify, separators=(",", ":")),
                    agent_id,
                )
                await changes.append(conn, self.db.origin, "agent.updated", agent_id=agent_id)
            setting = await conn.fetchval(
                "SELECT value FROM settings WHERE key = 'notifyChannels' FOR UPDATE"
            )
            if setting is not None:
                kept = [c for c in json.loads(setting) if c != channel_id]
                await conn.execute(
                    "UPDATE settings SET value = $1 WHERE key = 'notifyChannels'", json.dumps(kept)
                )
            return True

    async def missing(self, channel_ids: Iterable[str]) -> list[str]:
        ids = list(dict.fromkeys(channel_ids))
        if not ids:
            return []
        rows = await self.db.fetchall("SELECT id FROM channels WHERE id = ANY($1::text[])", ids)
        found = {r[0] for r in rows}
        return [i for i in ids if i not in found]


async def raise_in(
    conn: asyncpg.Connection, alerts: Sequence[Alert], now_ms: int, due_at: int | None = None
) -> int:
    """Record alerts inside the caller's transaction; the number of deliveries recorded."""
    due = now_ms if due_at is None else due_at
    recorded = 0
    for alert in alerts:
        if alert.once is not None:
            scope, kind, value = alert.once
            if not affected(
                await conn.execute(
                    "INSERT INTO alert_state AS s (scope, kind, value, at) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (scope, kind) DO UPDATE SET value = excluded.value, at = excluded.at"
                    " WHERE s.value != excluded.value",
                    scope,
                    kind,
                    value,
                    now_ms,
                )
            ):
                continue  # already alerted for this window or streak
        await conn.executemany(
            "INSERT INTO deliveries (id, channel_id, agent_id, run_id, event, payload, next_attempt_at,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                (d.id, d.channel_id, d.agent_id, d.run_id, d.event, d.payload, due, now_ms)
                for d in alert.deliveries
            ],
        )
        recorded += len(alert.deliveries)
    return recorded


class PgDeliveries(Part):
    async def raise_alerts(self, items: Sequence[Alert], now_ms: int, due_at: int | None = None) -> int:
        if not items:
            return 0
        async with self.db.transaction() as conn:
            return await raise_in(conn, items, now_ms, due_at)

    async def claim_due(self, now_ms: int, owner: str, lock_ms: int, limit: int) -> list[Row]:
        async with self.db.transaction() as conn:
            rows: list[Row] = await conn.fetch(
                "UPDATE deliveries SET locked_by = $1, locked_until = $2 WHERE id IN ("
                " SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $3"
                " AND (locked_until IS NULL OR locked_until < $3) ORDER BY next_attempt_at LIMIT $4"
                " FOR UPDATE SKIP LOCKED) RETURNING *",
                owner,
                now_ms + lock_ms,
                now_ms,
                limit,
            )
            return rows

    async def record(self, results: Sequence[DeliveryResult]) -> None:
        await self.db.executemany(
            "UPDATE deliveries SET status = $1, attempts = $2, last_error = $3, sent_at = $4,"
            " next_attempt_at = $5, locked_by = NULL, locked_until = NULL WHERE id = $6",
            [
                (
                    r.status,
                    r.attempts,
                    r.error,
                    r.at if r.status == "sent" else None,
                    r.next_attempt_at if r.next_attempt_at is not None else r.at,
                    r.id,
                )
                for r in results
            ],
        )

    async def next_due(self) -> int | None:
        value = await self.db.fetchval(
            "SELECT MIN(GREATEST(next_attempt_at, COALESCE(locked_until + 1, 0))) FROM deliveries"
            " WHERE status = 'pending'"
        )
        return None if value is None else int(value)

    async def for_run(self, run_id: str) -> list[Row]:
        return await self.db.fetchall(
            "SELECT * FROM deliveries WHERE run_id = $1 ORDER BY created_at, id", run_id
        )

    async def get(self, delivery_id: str) -> Row | None:
        return await self.db.fetchone("SELECT * FROM deliveries WHERE id = $1", delivery_id)


class PgSettings(Part):
    async def all(self) -> dict[str, str]:
        rows = await self.db.fetchall("SELECT key, value FROM settings")
        return {r[0]: r[1] for r in rows}

    async def put(self, values: Mapping[str, str]) -> None:
        await self.db.executemany(
            "INSERT INTO settings (key, value) VALUES ($1, $2)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    async def alert_state(self, scope: str, kind: str) -> str | None:
        value = await self.db.fetchval(
            "SELECT value FROM alert_state WHERE scope = $1 AND kind = $2", scope, kind
        )
        return None if value is None else str(value)

    async def set_alert_state(self, scope: str, kind: str, value: str | None, now_ms: int) -> None:
        if value is None:
            await self.db.execute("DELETE FROM alert_state WHERE scope = $1 AND kind = $2", scope, kind)
            return
        await self.db.execute(
            "INSERT INTO alert_state (scope, kind, value, at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (scope, kind) DO UPDATE SET value = excluded.value, at = excluded.at",
            scope,
            kind,
            value,
            now_ms,
        )
