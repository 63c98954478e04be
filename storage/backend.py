"""Which backend a ``--db`` value names, and opening it.

``postgresql://`` (or ``postgres://``) URLs name a PostgreSQL database; a path,
or ``sqlite:PATH`` / ``sqlite:///ABSOLUTE/PATH``, a SQLite file. The PostgreSQL driver
is imported only when one is chosen.
"""

from __future__ import annotations

from pathlib import Path

from storage.interface import Storage

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def sqlite_path(target: str | Path) -> Path:
    """The file a SQLite ``--db`` value names."""
    if isinstance(target, Path):
        return target
    rest = target.removeprefix("sqlite:")
    if rest.startswith("//"):  # sqlite:///abs/path (or SQLAlchemy's sqlite:////abs/path)
        rest = "/" + rest.lstrip("/")
    return Path(rest).expanduser()


def open_storage(target: str | Path) -> Storage:
    """A storage handle (not yet opened) for a ``--db`` value."""
    if is_postgres(target):
        from storage.postgres import PostgresStorage

        return PostgresStorage(str(target))
    from storage.sqlite import SqliteStorage

    return SqliteStorage(sqlite_path(target))


def describe(target: str | Path) -> str:
    """The database for logs and messages (a URL without its password)."""
    if is_postgres(target):
        from storage.postgres.db import redacted

        return redacted(str(target))
    return str(sqlite_path(target))
