"""The parts of the PostgreSQL backend put together as one :class:`~storage.interface.Storage`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from storage.handle import StorageHandle
from storage.postgres.aftermath import Aftermath
from storage.postgres.agents import PgAgents
from storage.postgres.alerts import PgChannels, PgDeliveries, PgSettings
from storage.postgres.changes import PgChanges
from storage.postgres.db import PgDatabase
from storage.postgres.migrations import schema_version
from storage.postgres.runs import PgRuns
from storage.postgres.slots import PgSlots
from storage.postgres.stats import PgStats
from storage.postgres.users import PgLeases, PgTokens


class PgRunStore(PgRuns, Aftermath):
    """Runs, with what follows their end."""


class PostgresStorage(StorageHandle):
    """A cronagents database on a PostgreSQL server (see :class:`storage.interface.Storage`)."""

    backend = "postgresql"
    db: PgDatabase

    def __init__(self, url: str, pool_size: int | None = None) -> None:
        self.db = PgDatabase(url) if pool_size is None else PgDatabase(url, pool_size)
        self.agents = PgAgents(self.db)
        self.runs = PgRunStore(self.db)
        self.slots = PgSlots(self.db)
        self.stats = PgStats(self.db)
        self.tokens = PgTokens(self.db)
        self.leases = PgLeases(self.db)
        self.changes = PgChanges(self.db)
        self.channels = PgChannels(self.db)
        self.deliveries = PgDeliveries(self.db)
        self.settings = PgSettings(self.db)

    async def database_id(self) -> str:
        value = await self.db.fetchval("SELECT value FROM meta WHERE key = 'database_id'")
        return "" if value is None else str(value)

    async def refresh_generation(self) -> int:
        """Other nodes' commits arrive as notifications (see :mod:`storage.postgres.db`)."""
        return self.db.generation

    @property
    def shared_events(self) -> bool:
        return True

    async def broadcast(self, messages: Sequence[str]) -> None:
        await self.db.broadcast(messages)

    def on_broadcast(self, callback: Callable[[str], None]) -> None:
        self.db.broadcast_callbacks.append(callback)

    async def schema_version(self) -> int:
        async with self.db._pool().acquire() as conn:
            return await schema_version(conn)
