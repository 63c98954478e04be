"""The PostgreSQL backend: the same schema as SQLite's, selected by URL, and what only it does
(a schema of its own per URL, other nodes' commits noticed). The shared behaviour is checked by
the suites marked ``both_backends``."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from storage.backend import is_postgres, open_storage, sqlite_path
from storage.migrations import MIGRATIONS
from storage.postgres import PostgresStorage
from storage.postgres.db import split_url
from storage.sqlite import SqliteStorage

pytestmark = pytest.mark.both_backends


def test_a_url_selects_postgresql_and_a_path_keeps_sqlite(tmp_path: Path) -> None:
    assert isinstance(open_storage("postgresql://u@h/db"), PostgresStorage)
    assert isinstance(open_storage("postgres://u@h/db"), PostgresStorage)
    assert isinstance(open_storage(str(tmp_path / "a.db")), SqliteStorage)
    assert isinstance(open_storage(f"sqlite:{tmp_path}/a.db"), SqliteStorage)
    assert sqlite_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert not is_postgres(tmp_path / "postgresql:" / "x")
    assert split_url("postgresql://u@h/db?schema=s1&sslmode=disable") == (
        "postgresql://u@h/db?sslmode=disable",
        "s1",
    )


def _sqlite_columns(path: Path) -> dict[str, set[str]]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")}
            for t in tables
            if not t.startswith("sqlite_")
        }


async def test_both_backends_have_the_same_tables_and_columns(
    backend: str, db_target: Path | str, tmp_path: Path
) -> None:
    if backend == "sqlite":
        pytest.skip("compares PostgreSQL with SQLite")
    async with SqliteStorage(tmp_path / "ref.db") as lite:
        assert await lite.schema_version() == len(MIGRATIONS)
    expected = _sqlite_columns(tmp_path / "ref.db")
    async with PostgresStorage(str(db_target)) as pg:
        assert await pg.schema_version() == len(MIGRATIONS)
        rows = await pg.db.fetchall(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1",
            pg.db.schema,
        )
    found: dict[str, set[str]] = {}
    for r in rows:
        found.setdefault(r["table_name"], set()).add(r["column_name"])
    found.pop("cronagents_schema")
    assert found == expected


async def test_reopening_keeps_data_and_migrates_once(db_target: Path | str) -> None:
    async with open_storage(db_target) as store:
        first_id = await store.database_id()
        await store.settings.put({"k": '"v"'})
    async with open_storage(db_target) as store:
        assert await store.database_id() == first_id != ""
        assert await store.settings.all() == {"k": '"v"'}


async def test_two_nodes_opening_together_migrate_once(backend: str, db_target: Path | str) -> None:
    if backend == "sqlite":
        pytest.skip("nodes on one PostgreSQL database")
    stores = [open_storage(db_target) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        ids = {await s.database_id() for s in stores}
        assert len(ids) == 1
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_another_nodes_commit_bumps_the_generation(backend: str, db_target: Path | str) -> None:
    """Caches above storage (tokens, stats) notice another node's write within a second."""
    async with open_storage(db_target) as a, open_storage(db_target) as b:
        before = await a.refresh_generation()
        await b.tokens.get_or_create_user("usr_1", "Ann", 1)
        for _ in range(60):
            if await a.refresh_generation() != before:
                break
            await asyncio.sleep(0.05)
        assert await a.refresh_generation() != before


async def test_a_slot_is_claimed_once_by_racing_nodes(backend: str, db_target: Path | str) -> None:
    async with open_storage(db_target) as a, open_storage(db_target) as b:
        await a.agents.insert(
            {
                "id": "agt_1",
                "name": "n",
                "schedule": "* * * * *",
                "prompt": "p",
                "timezone": "UTC",
                "created_at": 1,
                "updated_at": 1,
            }
        )
        claims = [
            s.slots.encode([(f"run_{i}_{k}", "agt_1", 60_000 * k, "queued") for k in range(50)])
            for i, s in enumerate((a, b))
        ]
        won = await asyncio.gather(a.slots.claim(claims[0], 5, "srv_a"), b.slots.claim(claims[1], 5, "srv_b"))
        assert len(won[0]) + len(won[1]) == 50
        assert await a.slots.latest_slots() == {"agt_1": 60_000 * 49}


async def test_own_schema_per_url_is_created_and_isolated(backend: str, db_target: Path | str) -> None:
    if backend == "sqlite":
        pytest.skip("PostgreSQL schemas")
    async with open_storage(db_target) as store:
        await store.settings.put({"only": "here"})
        assert isinstance(store, PostgresStorage)
        conn = await asyncpg.connect(split_url(str(db_target))[0])
        try:
            tables = await conn.fetchval(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", store.db.schema
            )
        finally:
            await conn.close()
        assert tables > 10


async def test_notifications_resume_after_the_listening_connection_drops(
    backend: str, db_target: Path | str
) -> None:
    """A server restart or failover drops the listening connection: it listens again, so other
    nodes' commits are still noticed (and the drop itself counts as a change)."""
    if backend == "sqlite":
        pytest.skip("PostgreSQL notifications")
    async with open_storage(db_target) as a, open_storage(db_target) as b:
        assert isinstance(a, PostgresStorage) and a.db._listener is not None
        pid = a.db._listener.get_server_pid()
        await b.db.fetchval("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):
            if a.db._listener is not None and a.db._listener.get_server_pid() != pid:
                break
            await asyncio.sleep(0.05)
        before = await a.refresh_generation()
        await b.tokens.get_or_create_user("usr_2", "Bo", 1)
        for _ in range(60):
            if await a.refresh_generation() != before:
                break
            await asyncio.sleep(0.05)
        assert await a.refresh_generation() != before
