"""SQLite storage on aiosqlite: schema, migrations and queries. No business rules, no HTTP, no UI."""

from storage.db import Database, StorageError

__all__ = ["Database", "StorageError"]
