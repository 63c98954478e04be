"""The database handle under cancellation: a write transaction is never left open."""

from __future__ import annotations

import asyncio
from pathlib import Path

from storage import Database


async def test_cancelling_writers_at_any_moment_never_leaves_a_transaction_open(tmp_path: Path) -> None:
    async with Database(tmp_path / "x.db") as db:

        async def writer(n: int) -> None:
            async with db.write() as conn:
                await conn.execute("INSERT INTO meta (key, value) VALUES (?, 'v')", (f"k{n}",))
                await asyncio.sleep(0.001 * (n % 3))

        for n in range(200):
            task = asyncio.create_task(writer(n))
            for _ in range(n % 7):  # cancel at a different step each time: BEGIN, INSERT, COMMIT...
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        async with db.write() as conn:  # would fail: "cannot start a transaction within a transaction"
            await conn.execute("INSERT INTO meta (key, value) VALUES ('last', 'v')")
        row = await db.fetchone("SELECT value FROM meta WHERE key = 'last'")
        assert row is not None and row[0] == "v"
