"""The PostgreSQL handle: an asyncpg pool, write transactions, and other nodes' commits.

A URL is ``postgresql://user[:password]@host[:port]/database``; an optional
``?schema=NAME`` puts every table in that schema (created if missing), which
is how the tests give each test a database of its own.

Writes run in :meth:`PgDatabase.transaction` (an ``async with`` block on one
pooled connection). Each write transaction ends with a ``NOTIFY`` on the
schema's channel carrying this handle's id; a listening connection bumps
:attr:`generation` when another handle (another process or node) committed,
so caches above storage notice within a round trip, as SQLite's
``data_version`` check does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from storage.errors import StorageError
from storage.interface import Row
from storage.postgres.migrations import MIGRATION_LOCK, apply_migrations, schema_version

log = logging.getLogger("cronagents.storage")

POOL_SIZE = 10
CONNECT_TIMEOUT_SECONDS = 10.0
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def split_url(url: str) -> tuple[str, str | None]:
    """The DSN for asyncpg and the schema named by ``?schema=`` (None: the server's default)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise StorageError(f"bad schema name {schema!r} in the database URL (letters, digits, _)")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


def redacted(url: str) -> str:
    """The URL without its password, fit for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def where(url: str) -> str:
    """``host:port/database`` of a URL, for one-line messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}/{parts.path.lstrip('/') or parts.username or ''}"


class PgDatabase:
    """An open cronagents database on a PostgreSQL server."""

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.dsn, self.schema = split_url(url)
        self.pool_size = pool_size
        self.pool: asyncpg.Pool | None = None
        self.origin: str | None = None
        self.generation = 0
        self._handle = uuid.uuid4().hex
        self.channel = f"cronagents_{self.schema or 'public'}"[:63]
        self.events_channel = f"cronagents_events_{self.schema or 'public'}"[:63]
        self.broadcast_callbacks: list[Callable[[str], None]] = []
        self._listener: asyncpg.Connection | None = None
        self._relisten: asyncio.Future[None] | None = None
        self._closing = False

    def _settings(self) -> dict[str, str]:
        settings = {"application_name": "cronagents"}
        if self.schema is not None:
            settings["search_path"] = self.schema
        return settings

    async def open(self) -> PgDatabase:
        try:
            await self._open()
        except BaseException:
            await self.close()
            raise
        return self

    async def _open(self) -> None:
        try:
            conn = await self._connect()
            try:
                if self.schema is not None:
                    async with conn.transaction():  # nodes starting together: one creates it
                        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                await apply_migrations(conn)
            finally:
                await conn.close()
            self.pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self.pool_size,
                server_settings=self._settings(),
                timeout=CONNECT_TIMEOUT_SECONDS,
            )
            await self._listen()
        except StorageError:
            raise
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageError(connect_problem(self.url, exc)) from None

    async def _listen(self) -> None:
        listener = await self._connect()
        await listener.add_listener(self.channel, self._on_notify)
        await listener.add_listener(self.events_channel, self._on_event)
        listener.add_termination_listener(self._listener_lost)
        self._listener = listener

    def _listener_lost(self, _conn: object) -> None:
        """The listening connection dropped (a server restart, a failover): listen again, and
        count it as a change (what others committed meanwhile was not heard)."""
        if self._closing or self._listener is None:
            return
        self._listener = None
        if self._relisten is None or self._relisten.done():
            self._relisten = asyncio.ensure_future(self._listen_again())

    async def _listen_again(self) -> None:
        delay = 0.2
        while not self._closing:
            try:
                await self._listen()
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("lost the database's notifications; listening again in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.generation += 1
            log.info("listening to the database's notifications again")
            return

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            self.dsn, server_settings=self._settings(), timeout=CONNECT_TIMEOUT_SECONDS
        )

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload != self._handle:
            self.generation += 1

    def _on_event(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        for callback in list(self.broadcast_callbacks):
            try:
                callback(payload)
            except Exception:
                log.exception("a broadcast message could not be handled")

    async def broadcast(self, messages: Sequence[str]) -> None:
        """``NOTIFY`` each message on the events channel, in order, in one statement."""
        if messages:
            await self._pool().execute(
                "SELECT pg_notify($1, m) FROM unnest($2::text[]) WITH ORDINALITY AS t(m, n) ORDER BY n",
                self.events_channel,
                list(messages),
            )

    async def close(self) -> None:
        self._closing = True  # a listener lost from now on is not listened again
        relisten, self._relisten = self._relisten, None
        if relisten is not None:
            relisten.cancel()
            await asyncio.gather(relisten, return_exceptions=True)
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close(timeout=5)
        pool, self.pool = self.pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 10)
            except (TimeoutError, Exception):
                pool.terminate()

    def _pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise StorageError("database is not open")
        return self.pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """One write transaction on one pooled connection; committed when the block ends."""
        async with self._pool().acquire() as conn, conn.transaction():
            yield conn
            await conn.execute("SELECT pg_notify($1, $2)", self.channel, self._handle)
        self.generation += 1

    async def fetchall(self, sql: str, *args: Any) -> list[Row]:
        rows: list[Row] = await self._pool().fetch(sql, *args)
        return rows

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._pool().fetchrow(sql, *args)
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._pool().fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        async with self.transaction() as conn:
            status: str = await conn.execute(sql, *args)
            return status

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            async with self.transaction() as conn:
                await conn.executemany(sql, rows)


def affected(status: str) -> int:
    """The row count of a command status such as ``UPDATE 3``."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


def connect_problem(url: str, exc: BaseException) -> str:
    """One line saying why a PostgreSQL database could not be opened."""
    at = where(url)
    if isinstance(exc, asyncpg.InvalidPasswordError):
        user = urlsplit(url).username or "(default)"
        return f"PostgreSQL at {at} refused user {user}: wrong password"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"PostgreSQL database does not exist: {at} (create it: createdb)"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"PostgreSQL at {at} refused the connection: {exc}"
    if isinstance(exc, asyncio.TimeoutError):
        return f"cannot reach PostgreSQL at {at}: no answer in {CONNECT_TIMEOUT_SECONDS:g} s"
    if isinstance(exc, OSError):
        reason = (os.strerror(exc.errno) if exc.errno else str(exc)) or type(exc).__name__
        return f"cannot reach PostgreSQL at {at}: {reason.lower()}"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"PostgreSQL at {at}: {text}"


class Part:
    """One part of the storage interface, bound to an open :class:`PgDatabase`."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db


async def inspect(url: str) -> tuple[int, str]:
    """(schema version, server version) of a database, read without changing anything."""
    dsn, schema = split_url(url)
    settings = {"search_path": schema} if schema is not None else {}
    try:
        conn = await asyncpg.connect(dsn, server_settings=settings, timeout=CONNECT_TIMEOUT_SECONDS)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StorageError(connect_problem(url, exc)) from None
    try:
        version = conn.get_server_version()
        minor = version.micro if version.major >= 10 else version.minor  # 15.20 reads (15, 0, 20)
        return await schema_version(conn), f"{version.major}.{minor}"
    finally:
        await conn.close()
