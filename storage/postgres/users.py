"""Users and tokens, and server leases, on PostgreSQL (as :mod:`storage.users` and
:mod:`storage.servers`)."""

from __future__ import annotations

from storage.interface import Row
from storage.postgres.db import Part, affected


class PgTokens(Part):
    async def get_or_create_user(self, user_id: str, name: str, now_ms: int) -> Row:
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO users (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                user_id,
                name,
                now_ms,
            )
            row: Row = await conn.fetchrow("SELECT * FROM users WHERE name = $1", name)
        return row

    async def insert(self, token_id: str, user_id: str, token_hash: str, prefix: str, now_ms: int) -> None:
        await self.db.execute(
            "INSERT INTO api_tokens (id, user_id, token_hash, prefix, created_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            token_id,
            user_id,
            token_hash,
            prefix,
            now_ms,
        )

    async def active(self) -> list[Row]:
        return await self.db.fetchall(
            "SELECT t.id, t.token_hash, t.prefix, t.created_at, u.id AS user_id, u.name AS user_name"
            " FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE t.revoked_at IS NULL ORDER BY t.created_at"
        )

    async def all(self) -> list[Row]:
        return await self.db.fetchall(
            "SELECT t.id, t.prefix, t.created_at, t.revoked_at, u.name AS user_name"
            " FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.created_at"
        )

    async def revoke(self, token_id_or_prefix: str, now_ms: int) -> int:
        return affected(
            await self.db.execute(
                "UPDATE api_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND (id = $2 OR prefix = $2)",
                now_ms,
                token_id_or_prefix,
            )
        )

    async def count_active(self) -> int:
        return int(await self.db.fetchval("SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NULL"))


class PgLeases(Part):
    async def register(self, server_id: str, host: str, pid: int, now_ms: int, lease_ms: int) -> None:
        await self.db.execute(
            "INSERT INTO servers (id, host, pid, started_at, heartbeat_at, lease_expires_at)"
            " VALUES ($1, $2, $3, $4, $4, $5)",
            server_id,
            host,
            pid,
            now_ms,
            now_ms + lease_ms,
        )

    async def renew(self, server_id: str, now_ms: int, lease_ms: int) -> bool:
        status = await self.db.execute(
            "UPDATE servers SET heartbeat_at = $1, lease_expires_at = $2 WHERE id = $3",
            now_ms,
            now_ms + lease_ms,
            server_id,
        )
        return affected(status) > 0

    async def expire(self, server_ids: list[str]) -> None:
        await self.db.execute(
            "UPDATE servers SET lease_expires_at = 0 WHERE id = ANY($1::text[])", server_ids
        )

    async def remove(self, server_id: str) -> None:
        await self.db.execute("DELETE FROM servers WHERE id = $1", server_id)

    async def remove_expired(self, now_ms: int, keep_ms: int) -> None:
        await self.db.execute(
            "DELETE FROM servers WHERE lease_expires_at < $1 AND NOT EXISTS"
            " (SELECT 1 FROM runs WHERE status IN ('running', 'queued') AND owner = servers.id)",
            now_ms - keep_ms,
        )

    async def all(self) -> list[Row]:
        return await self.db.fetchall("SELECT * FROM servers ORDER BY started_at, id")

    async def live_ids(self, now_ms: int) -> set[str]:
        rows = await self.db.fetchall("SELECT id FROM servers WHERE lease_expires_at > $1", now_ms)
        return {r[0] for r in rows}
