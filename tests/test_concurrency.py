"""Many clients at once over a real socket: every committed write is visible at once.

The defect this guards against: under 50 concurrent clients, creates answered
404 although the agent was created, the list missed agents, and the scheduler
never planned them (a reader connection stuck on an old WAL snapshot while
statements of different coroutines overlapped on it).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from app.server import Server, ServerConfig, running, serving
from tests.conftest import agent_body

pytestmark = pytest.mark.both_backends

CLIENTS = 50
CREATES_PER_CLIENT = 12


@pytest.fixture
async def scheduled_server(server_config: ServerConfig) -> AsyncIterator[Server]:
    async with running(dataclasses.replace(server_config, run_scheduler=True)) as srv:
        yield srv


async def test_fifty_clients_every_create_is_readable_listed_and_planned(
    scheduled_server: Server, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CLIENTS)
    async with serving(scheduled_server) as url:
        clients = [
            httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits)
            for _ in range(CLIENTS)
        ]
        failures: list[str] = []

        async def worker(n: int) -> list[str]:
            mine, other = clients[n], clients[(n + 1) % CLIENTS]
            ids = []
            for i in range(CREATES_PER_CLIENT):
                created = await mine.post(
                    "/api/agents", json=agent_body(name=f"agent {n}-{i}", schedule="*/5 * * * *")
                )
                if created.status_code != 200:
                    failures.append(f"create {n}-{i}: {created.status_code} {created.text[:80]}")
                    continue
                agent = created.json()["data"]
                ids.append(agent["id"])
                if agent["nextRunAt"] is None:
                    failures.append(f"create {n}-{i}: no nextRunAt")
                # Read at once, from another client (another connection).
                got = await other.get(f"/api/agents/{agent['id']}")
                if got.status_code != 200:
                    failures.append(f"get {agent['id']}: {got.status_code}")
                listed = await mine.get("/api/agents")
                if agent["id"] not in {a["id"] for a in listed.json()["data"]}:
                    failures.append(f"list after create misses {agent['id']}")
                stats = await other.get("/api/agents/stats")
                if stats.status_code != 200:
                    failures.append(f"stats: {stats.status_code}")
            return ids

        try:
            results = await asyncio.gather(*(worker(n) for n in range(CLIENTS)))
            listed = (await clients[0].get("/api/agents")).json()["data"]
            total = (await clients[1].get("/api/agents/stats")).json()["data"]["totalAgents"]
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))

    created = [agent_id for ids in results for agent_id in ids]
    assert failures == []
    assert len(created) == CLIENTS * CREATES_PER_CLIENT
    assert {a["id"] for a in listed} == set(created)
    assert total == len(created)
    scheduler = scheduled_server.scheduler
    assert scheduler is not None
    unplanned = [a for a in created if scheduler.next_fire_ms(a) is None]
    assert unplanned == []
