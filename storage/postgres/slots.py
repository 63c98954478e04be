"""Scheduled slots on PostgreSQL (as :mod:`storage.slots`): a claim is one
``INSERT ... ON CONFLICT (agent_id, scheduled_for) DO NOTHING``, so a slot runs
once however many nodes claim it, whichever node's clock is ahead."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import asyncpg

from storage.interface import DayOf, EncodedClaims, SlotClaim
from storage.postgres.db import Part
from storage.postgres.runs import add_to_rollups
from storage.runs import SKIPPED

_CLAIM_SQL = """
    INSERT INTO runs (id, agent_id, scheduled_for, status, trigger, started_at, owner)
    SELECT j ->> 0, j ->> 1, (j ->> 2)::bigint, j ->> 3, 'schedule', $1::bigint, $2::text
    FROM json_array_elements($3::json) AS j
    WHERE EXISTS (SELECT 1 FROM agents a WHERE a.id = j ->> 1)
    ON CONFLICT (agent_id, scheduled_for) WHERE scheduled_for IS NOT NULL DO NOTHING
    RETURNING id
"""


async def _claim(conn: asyncpg.Connection, claims: str, started_at: int, owner: str | None) -> set[str]:
    return {row[0] for row in await conn.fetch(_CLAIM_SQL, started_at, owner, claims)}


class PgSlots(Part):
    def encode(self, claims: Sequence[SlotClaim]) -> EncodedClaims:
        return EncodedClaims(json.dumps(claims))

    async def claim(self, claims: EncodedClaims, started_at: int, owner: str | None) -> set[str]:
        async with self.db.transaction() as conn:
            return await _claim(conn, claims, started_at, owner)

    async def release(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            await self.db.execute(
                "DELETE FROM runs WHERE status = 'queued' AND id = ANY($1::text[])", list(run_ids)
            )

    async def record_skipped(
        self, skipped: Iterable[tuple[str, str, int, str]], now_ms: int, day_of: DayOf
    ) -> set[str]:
        slots = list(skipped)
        if not slots:
            return set()
        payload = self.encode([(r, a, s, "queued") for r, a, s, _ in slots])
        async with self.db.transaction() as conn:
            claimed = await _claim(conn, payload, now_ms, None)
            for run_id, agent_id, scheduled_for, reason in slots:
                if run_id not in claimed:
                    continue
                await conn.execute(
                    "UPDATE runs SET status = 'skipped', output = $1, started_at = $2,"
                    " completed_at = $2, duration_ms = 0 WHERE id = $3",
                    reason,
                    scheduled_for,
                    run_id,
                )
                await add_to_rollups(conn, agent_id, day_of(scheduled_for), SKIPPED, 0.0, None)
            return claimed

    async def busy_agent_ids(self, besides_slot: int | None = None) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT DISTINCT agent_id FROM runs WHERE status IN ('running', 'queued')"
            " AND ($1::bigint IS NULL OR scheduled_for IS NULL OR scheduled_for != $1)",
            besides_slot,
        )
        return {r[0] for r in rows}

    async def ended_claims(self, slot: int) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT id FROM runs WHERE started_at = $1 AND scheduled_for = $1 AND status != 'queued'", slot
        )
        return {r[0] for r in rows}

    async def latest_slots(self) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT agent_id, MAX(scheduled_for) FROM runs WHERE scheduled_for IS NOT NULL GROUP BY agent_id"
        )
        return {r[0]: r[1] for r in rows}

    async def store_next_run_times(self, rows: Sequence[tuple[int, str, str, str]]) -> None:
        await self.db.executemany(
            "UPDATE agents SET next_run_at = $1"
            " WHERE id = $2 AND schedule = $3 AND timezone = $4 AND enabled = 1",
            list(rows),
        )
