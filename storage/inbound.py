"""Inbound webhook deliveries: each starts one run, once per delivery id, remembered a while."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from storage.db import Database


async def insert_delivered(
    db: Database,
    run_id: str,
    agent_id: str,
    started_at: int,
    owner: str,
    input: str | None,
    delivery_ids: Sequence[str],
    forget_before: int,
) -> tuple[str, bool]:
    """A queued ``webhook`` run for an inbound delivery, once per delivery id.

    In one transaction: deliveries received before ``forget_before`` are
    forgotten; if one of ``delivery_ids`` was received already, nothing is
    inserted and its run's id is returned with False; else the run and the ids
    are recorded, and ``(run_id, True)`` returned.
    """

    def insert(conn: sqlite3.Connection) -> tuple[str, bool]:
        conn.execute("DELETE FROM inbound_deliveries WHERE received_at < ?", (forget_before,))
        seen = conn.execute(
            "SELECT run_id FROM inbound_deliveries WHERE agent_id = ?"
            " AND delivery_id IN (SELECT value FROM json_each(?)) LIMIT 1",
            (agent_id, json.dumps(list(delivery_ids))),
        ).fetchone()
        if seen is not None:
            return str(seen[0]), False
        conn.execute(
            "INSERT INTO runs (id, agent_id, status, trigger, started_at, owner, input)"
            " VALUES (?, ?, 'queued', 'webhook', ?, ?, ?)",
            (run_id, agent_id, started_at, owner, input),
        )
        conn.executemany(
            "INSERT INTO inbound_deliveries (agent_id, delivery_id, run_id, received_at) VALUES (?, ?, ?, ?)",
            [(agent_id, delivery, run_id, started_at) for delivery in dict.fromkeys(delivery_ids)],
        )
        return run_id, True

    return await db.transaction(insert)
