"""What every backend's :class:`~storage.interface.Storage` does the same way: its database
handle's origin and generation, opening and closing (also as ``async with``)."""

from __future__ import annotations

from typing import Protocol, Self


class _Database(Protocol):
    origin: str | None
    generation: int

    async def open(self) -> object: ...

    async def close(self) -> None: ...


class StorageHandle:
    """The life cycle of a storage over its database handle ``db``."""

    db: _Database

    @property
    def origin(self) -> str | None:
        return self.db.origin

    @origin.setter
    def origin(self, value: str | None) -> None:
        self.db.origin = value

    @property
    def generation(self) -> int:
        return self.db.generation

    async def open(self) -> Self:
        await self.db.open()
        return self

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
