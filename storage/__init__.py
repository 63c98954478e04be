"""The database behind one interface (:mod:`storage.interface`): SQLite on aiosqlite, the
embedded default, and PostgreSQL on asyncpg (:mod:`storage.postgres`). Schema, migrations and
queries; no business rules, no HTTP, no UI.

``Database`` (SQLite) is loaded when first asked for, so that naming a backend
(:mod:`storage.backend`, used by the command line) loads no driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage.errors import StorageError

if TYPE_CHECKING:
    from storage.db import Database

__all__ = ["Database", "StorageError"]


def __getattr__(name: str) -> Any:
    if name == "Database":
        from storage.db import Database

        return Database
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
