"""The database handle: one writer connection, a small pool of reader connections, WAL.

Writes go through :meth:`Database.transaction`: the whole transaction (a
plain function of a ``sqlite3`` connection) runs in one hop on the writer's
own thread, which serialises writers in this process. Every transaction opens
with ``BEGIN IMMEDIATE`` so a read-then-write transaction never fails half way
with "database is locked" when another process holds the write lock: it waits
(``busy_timeout``).

Reads use other connections, so they never see another coroutine's
uncommitted writes and never wait behind the write lock. Each read takes a
reader connection for itself and runs its statement to the end in one call
(execute and fetch together), so no statement is left open between reads:
every read starts a fresh WAL snapshot and sees every write committed before
it began. (Sharing one reader between overlapping coroutines kept a statement
open most of the time under load, and with it an old snapshot: creates were
answered 404 "Agent not found".)

The database file, its ``-wal`` and ``-shm`` files and a directory created
for it are private to the user (0600 / 0700).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.files import private_file, tighten
from storage.interface import Row
from storage.migrations import apply_migrations

BUSY_TIMEOUT_MS = 10_000
DATA_VERSION_CHECK_SECONDS = 0.2
DATA_VERSION_WAIT_SECONDS = 0.05
"""How long a read waits for the check of other processes' commits before going on without it."""
READERS = 4
_PRAGMAS = (f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL")


class StorageError(Exception):
    """A storage operation could not be carried out (bad file, locked too long)."""


T = TypeVar("T")


class Database:
    """An open cronagents database file."""

    def __init__(self, path: str | Path, readers: int = READERS) -> None:
        self.path = str(path)
        self._writer: sqlite3.Connection | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._idle: asyncio.Queue[aiosqlite.Connection] | None = None
        self._reader_count = max(1, readers)
        self.origin: str | None = None
        """The id of the server using this handle, written with its change-feed entries."""
        # Bumped after every committed write in this process; caches above
        # storage compare it to know when to rebuild.
        self.generation = 0
        self._data_version: int | None = None
        self._data_version_checked = 0.0
        self._check: asyncio.Future[None] | None = None

    async def open(self) -> Database:
        if self.path == ":memory:":
            raise StorageError("a database file is needed (readers and the writer share it)")
        try:
            await asyncio.to_thread(private_file, Path(self.path))
            self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="cronagents-writer")
            await self._on_writer(self._open_writer)
            await self.other_process_committed()  # the baseline: changes from now on count
            self._idle = asyncio.Queue()
            for _ in range(self._reader_count):
                reader = await self._connect()
                self._readers.append(reader)
                self._idle.put_nowait(reader)
            await asyncio.to_thread(_tighten_sidecars, Path(self.path))
        except (sqlite3.DatabaseError, OSError) as exc:
            await self.close()
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        except BaseException:
            await self.close()
            raise
        return self

    def _open_writer(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            for pragma in _PRAGMAS:
                conn.execute(pragma)
            conn.execute("PRAGMA journal_mode=WAL")
            apply_migrations(conn)
        except BaseException:
            conn.close()
            raise
        self._writer = conn

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            for pragma in _PRAGMAS:
                await conn.execute(pragma)
        except BaseException:
            await conn.close()  # its thread would otherwise keep the process alive
            raise
        return conn

    async def close(self) -> None:
        check = self._check
        if check is not None:
            check.cancel()
            await asyncio.gather(check, return_exceptions=True)
        for reader in self._readers:
            await reader.close()
        self._readers = []
        self._idle = None
        thread, self._write_thread = self._write_thread, None
        if thread is not None:
            writer, self._writer = self._writer, None
            if writer is not None:
                await asyncio.get_running_loop().run_in_executor(thread, writer.close)
            thread.shutdown(wait=False)

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _on_writer(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the writer's own thread (one at a time, in order)."""
        if self._write_thread is None:
            raise StorageError("database is not open")
        return await asyncio.get_running_loop().run_in_executor(self._write_thread, fn)

    async def transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work(conn)`` as one write transaction on the writer's thread; its result.

        ``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` if ``work`` raises) all
        happen in one hop to the writer's thread, so a transaction holds the
        write lock only as long as its statements take, never while the event
        loop is busy elsewhere, and a transaction always ends, even when the
        awaiting task is cancelled (the thread finishes it; it is never left
        open). ``work`` runs off the event loop: it must only use ``conn``.
        """
        return await self._on_writer(lambda: self._run(work))

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._writer
        if conn is None:
            raise StorageError("database is not open")
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.generation += 1
        return result

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._idle is None or self._writer is None:
            raise StorageError("database is not open")
        conn = await self._idle.get()
        try:
            yield conn
        finally:
            self._idle.put_nowait(conn)

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        """Every row of one query, read from a fresh snapshot."""
        async with self._reader() as conn:
            rows: list[Row] = list(await conn.execute_fetchall(sql, params))
            return rows

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None:
        """The first row of one query (write it so it returns one row), from a fresh snapshot."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def refresh_generation(self) -> int:
        """Bump :attr:`generation` when another process committed since the last check.

        Checked at most every ``DATA_VERSION_CHECK_SECONDS``, so caches keyed on
        the generation notice a second process (``cronagents token revoke``, a
        second server on the same file) within that time. ``data_version`` is
        read on the writer connection, whose own commits do not change it.
        """
        now = time.monotonic()
        if self._check is None and now - self._data_version_checked >= DATA_VERSION_CHECK_SECONDS:
            self._data_version_checked = now
            self._check = asyncio.ensure_future(self._check_other_processes())
        if self._check is not None:
            # The check waits its turn on the writer's thread: behind a burst of writes that can take
            # seconds, and a read must not. Past a short wait the read goes on with what is known
            # (the check completes, and bumps the generation, in the background).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DATA_VERSION_WAIT_SECONDS):
                    await asyncio.shield(self._check)
        return self.generation

    async def _check_other_processes(self) -> None:
        try:
            if await self.other_process_committed():
                self.generation += 1
        except (StorageError, RuntimeError):
            pass  # closed meanwhile (the writer's thread is gone)
        finally:
            self._check = None

    async def other_process_committed(self) -> bool:
        """Whether another connection committed since the previous call (first call: False)."""
        version = await self._on_writer(self._writer_data_version)
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        return changed

    def _writer_data_version(self) -> int:
        if self._writer is None:
            raise StorageError("database is not open")
        row = self._writer.execute("PRAGMA data_version").fetchone()
        return int(row[0]) if row else 0


def _tighten_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + suffix))
