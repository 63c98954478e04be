"""Migrations on an empty file, on an existing file, and refusing a newer schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import Database, StorageError
from storage.migrations import MIGRATIONS

TABLES = {
    "users",
    "api_tokens",
    "agents",
    "runs",
    "run_events",
    "daily_agent_stats",
    "daily_global_stats",
    "meta",
}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


async def test_empty_file_gets_the_whole_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    async with Database(path):
        pass
    assert TABLES <= _tables(path)
    assert _pragma(path, "user_version") == len(MIGRATIONS)
    assert _pragma(path, "journal_mode") == "wal"


async def test_existing_file_keeps_its_data_and_is_not_migrated_twice(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with Database(path) as db:
        await db.transaction(lambda conn: conn.execute("INSERT INTO meta(key, value) VALUES ('keep', 'me')"))
    async with Database(path) as db:
        row = await db.fetchone("SELECT value FROM meta WHERE key='keep'")
        assert row is not None and row[0] == "me"
    assert _pragma(path, "user_version") == len(MIGRATIONS)


async def test_a_partial_version_is_brought_up_to_date(tmp_path: Path) -> None:
    """A file at version 0 with no tables (e.g. created by sqlite3 by hand) is migrated."""
    path = tmp_path / "blank.db"
    sqlite3.connect(path).close()
    async with Database(path) as db:
        row = await db.fetchone("SELECT count(*) FROM agents")
        assert row is not None and row[0] == 0


async def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 5}")
    with pytest.raises(StorageError, match="newer than this program"):
        async with Database(path):
            pass


async def test_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="cannot open database"):
        async with Database(path):
            pass


async def test_foreign_keys_and_busy_timeout_are_on(tmp_path: Path) -> None:
    async with Database(tmp_path / "x.db") as db:
        fk = await db.fetchone("PRAGMA foreign_keys")
        busy = await db.fetchone("PRAGMA busy_timeout")
        assert fk is not None and fk[0] == 1
        assert busy is not None and busy[0] >= 5000


async def test_a_version_1_file_with_agents_gains_load_project_settings(tmp_path: Path) -> None:
    """A database written by the first release keeps its agents; the new column defaults off."""
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version=1")
        conn.execute(
            "INSERT INTO agents (id, name, schedule, prompt, enabled, max_turns, timezone,"
            " allowed_tools, permission_mode, timeout_seconds, concurrency_policy,"
            " created_at, updated_at) VALUES ('agt_1', 'old', '@daily', 'p', 1, 50, 'UTC',"
            " '[]', 'dontAsk', 1800, 'forbid', 0, 0)"
        )
    async with Database(path) as db:
        row = await db.fetchone("SELECT name, load_project_settings FROM agents")
        assert row is not None and (row[0], row[1]) == ("old", 0)
    assert _pragma(path, "user_version") == len(MIGRATIONS) >= 2


async def test_active_run_queries_use_the_partial_index(tmp_path: Path) -> None:
    """SQLite uses a partial index only when the WHERE matches it term for term.

    Every fire of the scheduler and every global stats call asks which runs are
    active; with a million runs a table scan costs over a second.
    """
    async with Database(tmp_path / "x.db") as db:
        for sql in (
            "SELECT DISTINCT agent_id FROM runs WHERE status IN ('running', 'queued') ORDER BY agent_id",
            "SELECT id, owner FROM runs WHERE status IN ('running', 'queued')",
        ):
            plan = [r[3] for r in await db.fetchall(f"EXPLAIN QUERY PLAN {sql}")]
            assert any("runs_active" in step for step in plan), plan
