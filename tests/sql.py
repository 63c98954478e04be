"""Plain SQL in tests, on either backend: written with ``?`` placeholders (SQLite's), numbered
``$1, $2, ...`` for PostgreSQL. For setting up states the API cannot reach and reading rows
the interface does not return; everything else goes through :class:`storage.interface.Storage`."""

from __future__ import annotations

import re
from typing import Any

from storage.interface import Row, Storage
from storage.postgres import PostgresStorage
from storage.sqlite import SqliteStorage


def _numbered(sql: str) -> str:
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", number, sql)


async def execute(store: Storage, sql: str, *params: Any) -> None:
    """One statement in a write transaction of its own."""
    if isinstance(store, PostgresStorage):
        await store.db.execute(_numbered(sql), *params)
    else:
        assert isinstance(store, SqliteStorage)
        await store.db.transaction(lambda conn: conn.execute(sql, params))


async def fetchall(store: Storage, sql: str, *params: Any) -> list[Row]:
    if isinstance(store, PostgresStorage):
        return await store.db.fetchall(_numbered(sql), *params)
    assert isinstance(store, SqliteStorage)
    return await store.db.fetchall(sql, params)


async def fetchone(store: Storage, sql: str, *params: Any) -> Row | None:
    rows = await fetchall(store, sql, *params)
    return rows[0] if rows else None


async def keep_insertion_order(store: Storage, table: str) -> None:
    """Give a PostgreSQL table a ``rowid`` as SQLite's (this test's schema only), so a test can
    read rows in the order they were inserted with the same SQL on both backends."""
    if isinstance(store, PostgresStorage):
        await store.db.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS rowid BIGSERIAL")
