"""A node: one server sharing the database (``GET /api/nodes``).

Every ``cronagents serve`` (and the dashboard's embedded server) registers
itself with a lease it renews; several nodes on one PostgreSQL database (or
processes on one SQLite file) each show here, with the runs they are running.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from app.model.rules import Instant


class Node(BaseModel):
    """A server using this database, and whether its lease is current."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    id: str = Field(description="The server's id (the owner of its runs)")
    host: str = Field(description="The machine it runs on")
    pid: int = Field(description="Its process id on that machine")
    started_at: Instant = Field(description="When it started")
    last_heartbeat: Instant = Field(description="When it last renewed its lease")
    lease_expires_at: Instant = Field(description="When its lease ends unless renewed")
    alive: bool = Field(description="Its lease is current (false: its runs are ended by the others)")
    running_runs: int = Field(description="Its runs now running")
    queued_runs: int = Field(description="Its runs waiting for a free run slot")


def node_json(row: Any, now_ms: int, running: int, queued: int) -> dict[str, Any]:
    """A servers row as the API shows it."""
    data = {
        "id": row["id"],
        "host": row["host"],
        "pid": row["pid"],
        "started_at": row["started_at"],
        "last_heartbeat": row["heartbeat_at"],
        "lease_expires_at": row["lease_expires_at"],
        "alive": row["lease_expires_at"] > now_ms,
        "running_runs": running,
        "queued_runs": queued,
    }
    return Node.model_construct(**data).model_dump(by_alias=True, mode="json")
