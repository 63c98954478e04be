"""The PostgreSQL backend of :class:`storage.interface.Storage` (asyncpg, a pool), for several
nodes on one database. Imported only when a ``postgresql://`` URL is chosen."""

from storage.postgres.storage import PostgresStorage

__all__ = ["PostgresStorage"]
