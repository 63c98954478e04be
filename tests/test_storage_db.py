"""The database handle: write transactions under cancellation, reads that see every commit."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from storage import Database


async def test_cancelling_writers_at_any_moment_never_leaves_a_transaction_open(tmp_path: Path) -> None:
    async with Database(tmp_path / "x.db") as db:

        def insert(n: int) -> Callable[[sqlite3.Connection], object]:
            return lambda conn: conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (f"k{n}",))

        for n in range(200):
            task = asyncio.create_task(db.transaction(insert(n)))
            for _ in range(n % 7):  # cancel at a different moment each time
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        # Would fail with "cannot start a transaction within a transaction" if one were left open.
        await db.transaction(lambda conn: conn.execute("INSERT INTO meta (key, value) VALUES ('last', 'v')"))
        row = await db.fetchone("SELECT value FROM meta WHERE key = 'last'")
        assert row is not None and row[0] == "v"


async def test_a_failing_transaction_is_rolled_back_whole(tmp_path: Path) -> None:
    async with Database(tmp_path / "x.db") as db:

        def half(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('half', 'v')")
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await db.transaction(half)
        assert await db.fetchone("SELECT value FROM meta WHERE key = 'half'") is None
        generation = db.generation
        await db.transaction(lambda conn: conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'v')"))
        assert db.generation == generation + 1


async def test_reads_see_a_commit_at_once_while_other_reads_overlap(tmp_path: Path) -> None:
    async with Database(tmp_path / "x.db") as db:

        async def write_then_read(n: int) -> bool:
            key = f"k{n}"
            await db.transaction(
                lambda conn: conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (key,))
            )
            return await db.fetchone("SELECT 1 FROM meta WHERE key = ?", (key,)) is not None

        async def reader() -> None:
            for _ in range(50):
                await db.fetchall("SELECT * FROM meta")

        results = await asyncio.gather(
            *(write_then_read(n) for n in range(100)), *(reader() for _ in range(8))
        )
        assert all(results[:100])


async def test_a_read_does_not_wait_behind_a_long_write_to_notice_other_processes(tmp_path: Path) -> None:
    """The check of other processes' commits runs on the writer's thread; a read that would wait
    for it behind a long write goes on (the generation catches up when the check completes)."""
    path = tmp_path / "db.sqlite"
    async with Database(path) as db, Database(path) as other:
        await other.transaction(lambda conn: conn.execute("CREATE TABLE t (x)"))  # another process
        await asyncio.sleep(0.25)  # past the check interval
        slow = asyncio.ensure_future(db.transaction(lambda conn: time.sleep(2.0)))
        await asyncio.sleep(0.1)  # the writer's thread is now busy for 2 s
        loop = asyncio.get_running_loop()
        started = loop.time()
        before = await db.refresh_generation()
        waited = loop.time() - started
        assert waited < 1.0, f"the read waited {waited:.2f} s behind the write"
        await slow
        await asyncio.sleep(0.05)
        assert db.generation > before, "the other process's commit was noticed once the write ended"
