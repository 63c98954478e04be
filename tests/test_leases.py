"""Run ownership by lease: several servers on one database (file, or PostgreSQL).

A run belongs to the server that started it, by the server's id and its
lease in the database, never by process id: a reused pid (containers) must
not keep a dead server's run ``running`` forever. Cancel requests and agent
edits cross from one server to another through the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app import auth
from app.lease import HOST
from app.processes import DB_ID_ENV, SERVER_ID_ENV
from app.runner import INTERRUPTED
from app.server import Server, ServerConfig, running
from app.timeutil import now_ms
from tests.conftest import agent_body
from tests.processes import TAG_ENV, tagged_processes

FAST_LEASE = {"lease_seconds": 1.0, "renew_seconds": 0.2}
pytestmark = pytest.mark.both_backends


@pytest.fixture
def fast_config(server_config: ServerConfig) -> ServerConfig:
    return dataclasses.replace(server_config, **FAST_LEASE)


async def ghost_server(server: Server, server_id: str, pid: int, lease_ms: int) -> None:
    """A server row as another process would have left it (same host, given pid)."""
    await server.store.leases.register(server_id, HOST, pid, now_ms(), lease_ms)


async def wait_status(server: Server, run_id: str, statuses: set[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = await server.store.runs.get(run_id)
        assert row is not None
        if row["status"] in statuses or time.monotonic() > deadline:
            return dict(row)
        await asyncio.sleep(0.05)


async def test_a_run_of_a_server_whose_lease_expired_is_ended_without_a_restart(
    fast_config: ServerConfig,
) -> None:
    """The owner's pid is alive (reused), but its lease ran out: the run is interrupted."""
    async with running(fast_config) as server:
        agent = await server.service.create_agent(agent_body(), None)
        await ghost_server(server, "srv_ghost", os.getpid(), lease_ms=1500)
        await server.store.runs.insert("run_ghost", agent["id"], "running", now_ms(), owner="srv_ghost")
        await asyncio.sleep(1.0)
        row = await server.store.runs.get("run_ghost")
        assert row is not None and row["status"] == "running", "ended while its lease was valid"
        row = await wait_status(server, "run_ghost", {"error"}, timeout=3)
        assert row["status"] == "error"
        assert row["output"] == INTERRUPTED
        assert (await server.service.get_agent(agent["id"]))["lastStatus"] == "error"


async def test_start_up_ends_runs_of_dead_servers_and_leaves_a_live_ones_alone(
    server_config: ServerConfig,
) -> None:
    async with running(server_config) as server:
        agent = await server.service.create_agent(agent_body(), None)
        # A live server elsewhere (its pid is alive and its lease valid).
        await ghost_server(server, "srv_alive", os.getppid(), lease_ms=60_000)
        # A server on this host whose process is gone, lease not yet run out.
        await ghost_server(server, "srv_crashed", 999_999_999, lease_ms=60_000)
        runs = {
            "run_alive": "srv_alive",
            "run_crashed": "srv_crashed",
            "run_legacy": f"{HOST}:{os.getppid()}",
            "run_unowned": None,
        }
        for run_id, owner in runs.items():
            await server.store.runs.insert(run_id, agent["id"], "running", now_ms(), owner=owner)
    async with running(server_config) as server:
        status = {r: (await server.store.runs.get(r))["status"] for r in runs}  # type: ignore[index]
    assert status == {
        "run_alive": "running",
        "run_crashed": "error",
        "run_legacy": "error",
        "run_unowned": "error",
    }


async def test_cancel_of_a_run_whose_owner_is_gone_records_it_cancelled(
    server: Server, client: httpx.AsyncClient
) -> None:
    """A dead owner cannot act on a request: the cancel records the end itself (never 404)."""
    agent = (await client.post("/api/agents", json=agent_body())).json()["data"]
    await ghost_server(server, "srv_gone", os.getpid(), lease_ms=-1)
    await server.store.runs.insert("run_gone", agent["id"], "running", now_ms(), owner="srv_gone")
    resp = await client.post(f"/api/agents/{agent['id']}/cancel")
    assert resp.status_code == 200
    assert resp.json()["cancelledCount"] == 1
    row = await server.store.runs.get("run_gone")
    assert row is not None and row["status"] == "cancelled"


@pytest.fixture
async def second_server(server_config: ServerConfig) -> AsyncIterator[Server]:
    """Another server process on the same database file (in this process, as its own objects)."""
    async with running(dataclasses.replace(server_config, run_scheduler=True)) as srv:
        yield srv


@pytest.mark.slow
async def test_cancel_reaches_a_run_owned_by_another_server(
    server: Server, second_server: Server, run_tag: str
) -> None:
    agent = await server.service.create_agent(agent_body(prompt="[[fake:slow]]"), None)
    run_id = await server.service.trigger_run(agent["id"])
    await wait_status(server, run_id, {"running"}, timeout=20)
    deadline = time.monotonic() + 20
    while not tagged_processes(run_tag) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    _, token = await auth.create_token(second_server.store, "Other")
    transport = httpx.ASGITransport(app=second_server.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://other", headers={"Authorization": f"Bearer {token}"}
    ) as other:
        started = time.monotonic()
        resp = await other.post(f"/api/agents/{agent['id']}/cancel")
        elapsed = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    assert resp.json()["cancelledCount"] == 1
    row = await server.store.runs.get(run_id)
    assert row is not None and row["status"] == "cancelled" and row["output"] == "cancelled"
    assert row["owner"] == server.server_id
    assert elapsed < 5, f"the cancel took {elapsed:.1f} s"
    assert tagged_processes(run_tag) == []


async def test_edits_by_another_server_reach_this_schedulers_plan_within_a_second(
    second_server: Server, server: Server
) -> None:
    """``server`` edits; ``second_server``'s scheduler re-plans, and its event stream says so."""
    scheduler = second_server.scheduler
    assert scheduler is not None

    async def within_a_second(check: Any) -> float:
        started = time.monotonic()
        while not check():
            assert time.monotonic() - started < 1.0, "not seen within 1 s"
            await asyncio.sleep(0.01)
        return time.monotonic() - started

    async with second_server.bus.subscribe() as events:
        agent = await server.service.create_agent(agent_body(schedule="0 9 * * *"), None)
        await within_a_second(lambda: scheduler.next_fire_ms(agent["id"]) is not None)
        before = scheduler.next_fire_ms(agent["id"])
        await server.service.update_agent(agent["id"], {"schedule": "30 10 * * *"})
        await within_a_second(lambda: scheduler.next_fire_ms(agent["id"]) not in (None, before))
        await server.service.update_agent(agent["id"], {"enabled": False})
        await within_a_second(lambda: scheduler.next_fire_ms(agent["id"]) is None)
        await server.service.update_agent(agent["id"], {"enabled": True})
        await within_a_second(lambda: scheduler.next_fire_ms(agent["id"]) is not None)
        await server.service.delete_agent(agent["id"])
        await within_a_second(lambda: scheduler.next_fire_ms(agent["id"]) is None)
        kinds = []
        while not events.queue.empty():
            event = events.queue.get_nowait()
            if event is not None and event.get("agentId") == agent["id"]:
                kinds.append(event["type"])
    assert kinds[0] == "agent.created" and kinds[-1] == "agent.deleted"
    assert "agent.updated" in kinds
    listed = {a["id"] for a in await second_server.service.list_agents()}
    assert agent["id"] not in listed


async def test_a_stopped_server_gives_its_lease_up(server_config: ServerConfig) -> None:
    async with running(server_config) as server:
        ids = {r["id"] for r in await server.store.leases.all()}
        assert server.server_id in ids
        server_id = server.server_id
    async with running(server_config) as server:
        ids = {r["id"] for r in await server.store.leases.all()}
    assert server_id not in ids


async def test_start_up_kills_leftover_processes_of_this_database_only(
    server_config: ServerConfig, run_tag: str
) -> None:
    """A process still carrying this database's run marker, of no live server, is killed."""
    async with running(server_config) as server:
        db_id = await server.store.database_id()
        await ghost_server(server, "srv_alive", os.getppid(), lease_ms=60_000)
    assert db_id

    def leftover(db: str, owner: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, DB_ID_ENV: db, SERVER_ID_ENV: owner, TAG_ENV: run_tag}
        return subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)

    dead, alive, other_db = leftover(db_id, "srv_dead"), leftover(db_id, "srv_alive"), leftover("0" * 32, "x")
    try:
        async with running(server_config):
            assert await asyncio.to_thread(dead.wait, 5) is not None
        assert alive.poll() is None and other_db.poll() is None
    finally:
        for proc in (dead, alive, other_db):
            proc.kill()
            proc.wait()
