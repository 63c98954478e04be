"""``GET /api/nodes``: every server sharing the database, its lease and its runs, on either backend."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from app.server import Server, ServerConfig, running
from app.timeutil import now_ms

pytestmark = pytest.mark.both_backends


async def test_each_server_on_the_database_is_a_node_with_its_runs(
    server: Server, client: httpx.AsyncClient, server_config: ServerConfig
) -> None:
    [me] = (await client.get("/api/nodes")).json()["data"]
    assert (me["id"], me["alive"], me["runningRuns"], me["queuedRuns"]) == (server.server_id, True, 0, 0)
    assert me["startedAt"].endswith("Z") and me["pid"] > 0
    agent = (
        await client.post("/api/agents", json={"name": "a", "schedule": "0 9 * * *", "prompt": "p"})
    ).json()
    await server.store.runs.insert("run_a", agent["data"]["id"], "running", now_ms(), owner=server.server_id)
    await server.store.runs.insert("run_b", agent["data"]["id"], "queued", now_ms(), owner=server.server_id)
    async with running(dataclasses.replace(server_config, run_scheduler=False)) as other:
        nodes = (await client.get("/api/nodes")).json()["data"]
        assert [n["id"] for n in nodes] == [server.server_id, other.server_id]
        assert (nodes[0]["runningRuns"], nodes[0]["queuedRuns"]) == (1, 1)
        assert (nodes[1]["runningRuns"], nodes[1]["alive"]) == (0, True)
