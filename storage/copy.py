"""Copying a whole cronagents database between backends (``cronagents db copy``).

Every table that holds what users made and what happened (users, tokens,
agents, runs with their transcripts, rollups, channels, deliveries,
settings, alert state, inbound deliveries) is copied row for row, in batches,
in an order that keeps foreign keys whole; rows keep every column, so a run
keeps its status and whether its aftermath was settled (a settled run is
never settled or alerted again on the target). Not copied: the leases of the
source's servers and its change feed (both about processes using the source),
and its ``database_id`` (the target keeps its own identity).

Both databases are opened through their backends (so the target's schema is
made or brought up to date first); rows are read and written by column name
with each backend's own SQL. Counts are checked at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from storage.errors import StorageError
from storage.interface import Storage

TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("meta", ("key",)),
    ("users", ("id",)),
    ("api_tokens", ("id",)),
    ("agents", ("id",)),
    ("runs", ("id",)),
    ("run_events", ("run_id", "seq")),
    ("daily_agent_stats", ("agent_id", "day")),
    ("daily_global_stats", ("day",)),
    ("channels", ("id",)),
    ("deliveries", ("id",)),
    ("settings", ("key",)),
    ("alert_state", ("scope", "kind")),
    ("inbound_deliveries", ("agent_id", "delivery_id")),
)
"""The tables copied, parents first, each with its primary key (the order rows are read in)."""
CONTENT_TABLES = ("users", "api_tokens", "agents", "runs", "channels", "settings")
"""A target with a row in any of these is not empty."""
KEPT_META = "database_id"
BATCH_ROWS = 1000

Progress = Callable[[str, int, int], None]
"""Called as ``(table, rows copied so far, rows in the table)`` after each batch."""


class Tables(Protocol):
    """Row access to one open database, by table, for copying."""

    async def columns(self, table: str) -> list[str]: ...

    async def count(self, table: str) -> int: ...

    async def page(
        self, table: str, key: Sequence[str], cols: Sequence[str], after: Sequence[Any] | None, limit: int
    ) -> list[tuple[Any, ...]]: ...

    async def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...

    async def clear(self, tables: Sequence[str]) -> None: ...

    async def live_servers(self, now_ms: int) -> list[str]: ...


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)
    """Rows copied per table."""
    mismatches: list[str] = field(default_factory=list)
    """Tables whose counts differ at the end (``table: source N, target M``)."""


def _where_after(key: Sequence[str], placeholders: Sequence[str]) -> str:
    return f"({', '.join(key)}) > ({', '.join(placeholders)})"


class SqliteTables:
    def __init__(self, store: Any) -> None:
        self.db = store.db

    async def columns(self, table: str) -> list[str]:
        return [r[1] for r in await self.db.fetchall(f"PRAGMA table_info({table})")]

    async def count(self, table: str) -> int:
        row = await self.db.fetchone(f"SELECT COUNT(*) FROM {table}")
        return int(row[0]) if row else 0

    async def page(
        self, table: str, key: Sequence[str], cols: Sequence[str], after: Sequence[Any] | None, limit: int
    ) -> list[tuple[Any, ...]]:
        where = "" if after is None else f"WHERE {_where_after(key, ['?'] * len(key))}"
        rows = await self.db.fetchall(
            f"SELECT {', '.join(cols)} FROM {table} {where} ORDER BY {', '.join(key)} LIMIT ?",
            [*(after or ()), limit],
        )
        return [tuple(r) for r in rows]

    async def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        await self.db.transaction(lambda conn: conn.executemany(sql, rows))

    async def clear(self, tables: Sequence[str]) -> None:
        def clear(conn: Any) -> None:
            for table in reversed(tables):
                extra = f" WHERE key != '{KEPT_META}'" if table == "meta" else ""
                conn.execute(f"DELETE FROM {table}{extra}")

        await self.db.transaction(clear)

    async def live_servers(self, now_ms: int) -> list[str]:
        rows = await self.db.fetchall("SELECT id, host FROM servers WHERE lease_expires_at > ?", (now_ms,))
        return [f"{r[0]} on {r[1]}" for r in rows]


class PostgresTables:
    """As :class:`SqliteTables`; values are converted to the column's type (SQLite's typing is loose)."""

    def __init__(self, store: Any) -> None:
        self.db = store.db
        self._types: dict[str, dict[str, str]] = {}

    async def _column_types(self, table: str) -> dict[str, str]:
        if table not in self._types:
            rows = await self.db.fetchall(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                table,
            )
            self._types[table] = {r[0]: r[1] for r in rows}
        return self._types[table]

    async def columns(self, table: str) -> list[str]:
        return list(await self._column_types(table))

    async def count(self, table: str) -> int:
        return int(await self.db.fetchval(f"SELECT COUNT(*) FROM {table}"))

    async def page(
        self, table: str, key: Sequence[str], cols: Sequence[str], after: Sequence[Any] | None, limit: int
    ) -> list[tuple[Any, ...]]:
        marks = [f"${i}" for i in range(1, len(key) + 1)]
        where = "" if after is None else f"WHERE {_where_after(key, marks)}"
        rows = await self.db.fetchall(
            f"SELECT {', '.join(cols)} FROM {table} {where} ORDER BY {', '.join(key)}"
            f" LIMIT ${len(key) + 1 if after is not None else 1}",
            *(after or ()),
            limit,
        )
        return [tuple(r) for r in rows]

    async def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        types = await self._column_types(table)
        convert = [_converter(types[c]) for c in cols]
        values = [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in rows]
        marks = ", ".join(f"${i}" for i in range(1, len(cols) + 1))
        await self.db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", values)

    async def clear(self, tables: Sequence[str]) -> None:
        async with self.db.transaction() as conn:
            for table in reversed(tables):
                extra = f" WHERE key != '{KEPT_META}'" if table == "meta" else ""
                await conn.execute(f"DELETE FROM {table}{extra}")

    async def live_servers(self, now_ms: int) -> list[str]:
        rows = await self.db.fetchall("SELECT id, host FROM servers WHERE lease_expires_at > $1", now_ms)
        return [f"{r[0]} on {r[1]}" for r in rows]


def _converter(data_type: str) -> Callable[[Any], Any]:
    def convert(kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return lambda v: None if v is None else kind(v)

    if data_type in ("bigint", "integer", "smallint"):
        return convert(int)
    if data_type in ("double precision", "real", "numeric"):
        return convert(float)
    return convert(str)


def tables_of(store: Storage) -> Tables:
    if store.backend == "postgresql":
        return PostgresTables(store)
    if store.backend == "sqlite":
        return SqliteTables(store)
    raise StorageError(f"cannot copy a {store.backend} database")


async def is_empty(target: Tables) -> bool:
    for table in CONTENT_TABLES:
        if await target.count(table):
            return False
    return True


async def copy_database(
    source: Storage,
    target: Storage,
    *,
    force: bool = False,
    now_ms: int = 0,
    batch: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy every table of :data:`TABLES` from ``source`` to ``target`` (both open).

    Refused (:class:`StorageError`) when the target holds anything and ``force``
    is not given (with it, the target's rows are deleted first), or when a
    server still holds a lease on the source (it would go on changing it).
    """
    src, dst = tables_of(source), tables_of(target)
    live = await src.live_servers(now_ms)
    if live and not force:
        raise StorageError(f"the source is in use by a running server ({', '.join(live)}): stop it first")
    if not await is_empty(dst):
        if not force:
            raise StorageError("the target database is not empty: copy into an empty one, or give --force")
        await dst.clear([t for t, _ in TABLES])
    report = CopyReport()
    for table, key in TABLES:
        report.rows[table] = await _copy_table(src, dst, table, key, batch, progress)
    for table, _ in TABLES:
        # (meta too: both hold their own database_id, and the source's other rows.)
        expected, found = await src.count(table), await dst.count(table)
        if expected != found:
            report.mismatches.append(f"{table}: source {expected}, target {found}")
    return report


async def _copy_table(
    src: Tables, dst: Tables, table: str, key: Sequence[str], batch: int, progress: Progress | None
) -> int:
    cols = [c for c in await src.columns(table) if c in set(await dst.columns(table))]
    total = await src.count(table)
    positions = [cols.index(k) for k in key]
    copied, after = 0, None
    if progress is not None:
        progress(table, 0, total)
    while True:
        rows = await src.page(table, key, cols, after, batch)
        if not rows:
            break
        after = [rows[-1][i] for i in positions]
        if table == "meta":
            rows = [r for r in rows if r[cols.index("key")] != KEPT_META]
        if rows:
            await dst.insert(table, cols, rows)
        copied += len(rows)
        if progress is not None:
            progress(table, copied, total)
    return copied
