"""Users and their API tokens (only a SHA-256 hash of each token is stored)."""

from __future__ import annotations

import sqlite3

from storage.db import Database
from storage.interface import Row


async def get_or_create_user(db: Database, user_id: str, name: str, now_ms: int) -> Row:

    def get_or_create(conn: sqlite3.Connection) -> Row | None:
        conn.execute(
            "INSERT INTO users (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
            (user_id, name, now_ms),
        )
        row: Row | None = conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return row

    row = await db.transaction(get_or_create)
    assert row is not None
    return row


async def insert_token(
    db: Database, token_id: str, user_id: str, token_hash: str, prefix: str, now_ms: int
) -> None:
    await db.transaction(
        lambda conn: conn.execute(
            "INSERT INTO api_tokens (id, user_id, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
            (token_id, user_id, token_hash, prefix, now_ms),
        )
    )


async def active_tokens(db: Database) -> list[Row]:
    """Every token not revoked, with its user's id and name."""
    return await db.fetchall(
        "SELECT t.id, t.token_hash, t.prefix, t.created_at, u.id AS user_id, u.name AS user_name"
        " FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE t.revoked_at IS NULL ORDER BY t.created_at"
    )


async def all_tokens(db: Database) -> list[Row]:
    return await db.fetchall(
        "SELECT t.id, t.prefix, t.created_at, t.revoked_at, u.name AS user_name"
        " FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.created_at"
    )


async def revoke_token(db: Database, token_id_or_prefix: str, now_ms: int) -> int:
    """Revoke by id or by the printed prefix; returns how many tokens were revoked."""
    return await db.transaction(
        lambda conn: int(
            conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND (id = ? OR prefix = ?)",
                (now_ms, token_id_or_prefix, token_id_or_prefix),
            ).rowcount
        )
    )


async def count_active_tokens(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NULL")
    return int(row[0]) if row else 0
