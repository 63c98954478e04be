"""Server leases: which servers share this database, and which of them still live.

A server registers a row with a lease it renews; a lease that was not renewed
in time means the server is gone, and any live server ends its runs.
"""

from __future__ import annotations

from storage.db import Database
from storage.interface import Row


async def register(db: Database, server_id: str, host: str, pid: int, now_ms: int, lease_ms: int) -> None:
    await db.transaction(
        lambda conn: conn.execute(
            "INSERT INTO servers (id, host, pid, started_at, heartbeat_at, lease_expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (server_id, host, pid, now_ms, now_ms, now_ms + lease_ms),
        )
    )


async def renew(db: Database, server_id: str, now_ms: int, lease_ms: int) -> bool:
    """Extend the lease; False when the row was gone (another server took us for dead)."""
    return await db.transaction(
        lambda conn: (
            conn.execute(
                "UPDATE servers SET heartbeat_at = ?, lease_expires_at = ? WHERE id = ?",
                (now_ms, now_ms + lease_ms, server_id),
            ).rowcount
            > 0
        )
    )


async def expire(db: Database, server_ids: list[str]) -> None:
    """End leases now (servers known to be dead: their process is gone from this host)."""
    await db.transaction(
        lambda conn: conn.executemany(
            "UPDATE servers SET lease_expires_at = 0 WHERE id = ?", [(s,) for s in server_ids]
        )
    )


async def remove(db: Database, server_id: str) -> None:
    await db.transaction(lambda conn: conn.execute("DELETE FROM servers WHERE id = ?", (server_id,)))


async def remove_expired(db: Database, now_ms: int, keep_ms: int) -> None:
    """Forget servers whose lease ended over ``keep_ms`` ago and that own no active run."""
    await db.transaction(
        lambda conn: conn.execute(
            "DELETE FROM servers WHERE lease_expires_at < ? AND NOT EXISTS"
            " (SELECT 1 FROM runs WHERE status IN ('running', 'queued') AND owner = servers.id)",
            (now_ms - keep_ms,),
        )
    )


async def all_servers(db: Database) -> list[Row]:
    return await db.fetchall("SELECT * FROM servers ORDER BY started_at, id")


async def live_server_ids(db: Database, now_ms: int) -> set[str]:
    rows = await db.fetchall("SELECT id FROM servers WHERE lease_expires_at > ?", (now_ms,))
    return {r[0] for r in rows}


async def database_id(db: Database) -> str:
    row = await db.fetchone("SELECT value FROM meta WHERE key = 'database_id'")
    return str(row[0]) if row else ""
