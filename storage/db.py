"""The database handle: one writer connection, one reader connection, WAL.

Writes go through :meth:`Database.write`, which serialises writers in this
process with a lock and opens every write transaction with ``BEGIN IMMEDIATE``
so a read-then-write transaction never fails half way with "database is
locked" when another process holds the write lock: it waits (``busy_timeout``).
Reads use a second connection, so they never see another coroutine's
uncommitted writes and never wait behind the write lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from storage.migrations import apply_migrations

BUSY_TIMEOUT_MS = 10_000
DATA_VERSION_CHECK_SECONDS = 0.25


class StorageError(Exception):
    """A storage operation could not be carried out (bad file, locked too long)."""


Row = sqlite3.Row


class Database:
    """An open cronagents database file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        # Bumped after every committed write in this process; caches above
        # storage compare it to know when to rebuild.
        self.generation = 0
        self._data_version: int | None = None
        self._data_version_checked = 0.0

    async def open(self) -> Database:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer = await self._connect()
            await self._writer.execute("PRAGMA journal_mode=WAL")
            await apply_migrations(self._writer)
            self._reader = await self._connect()
        except sqlite3.DatabaseError as exc:
            await self.close()
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        except BaseException:
            await self.close()
            raise
        return self

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            await conn.close()  # its thread would otherwise keep the process alive
            raise
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StorageError("database is not open")
        return self._reader

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), rolled back on error."""
        if self._writer is None:
            raise StorageError("database is not open")
        async with self._write_lock:
            conn = self._writer
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            else:
                await conn.execute("COMMIT")
                self.generation += 1

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        async with self.reader.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None:
        async with self.reader.execute(sql, params) as cur:
            row: Row | None = await cur.fetchone()
            return row

    async def refresh_generation(self) -> int:
        """Bump :attr:`generation` when another connection committed since the last check.

        Checked at most every ``DATA_VERSION_CHECK_SECONDS``, so caches keyed on
        the generation notice a second process (``cronagents token revoke``, a
        second server on the same file) within that time.
        """
        now = time.monotonic()
        if now - self._data_version_checked >= DATA_VERSION_CHECK_SECONDS:
            self._data_version_checked = now
            row = await self.fetchone("PRAGMA data_version")
            version = int(row[0]) if row else 0
            if self._data_version is not None and version != self._data_version:
                self.generation += 1
            self._data_version = version
        return self.generation
