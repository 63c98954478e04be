"""The database behind one interface (:mod:`storage.interface`): SQLite on aiosqlite, the
embedded default, and PostgreSQL on asyncpg (:mod:`storage.postgres`). Schema, migrations and
queries; no business rules, no HTTP, no UI."""

from storage.db import Database, StorageError

__all__ = ["Database", "StorageError"]
