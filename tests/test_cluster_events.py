"""Run events cross nodes: an event stream on one node sees the runs of another (PostgreSQL).

Two servers on one PostgreSQL schema; a real run (the SDK's CLI against the fake Messages
API) started on the second is seen, start to end, on the first one's bus, within a second of
the second's own; nothing is echoed back. On SQLite nothing crosses (nor is promised to).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest

from app.cluster_events import MAX_MESSAGE_BYTES
from app.events import Event
from app.server import Server, ServerConfig, running
from tests.conftest import agent_body

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


async def collect(server: Server, into: list[tuple[float, Event]], stop: asyncio.Event) -> None:
    async with server.bus.subscribe() as sub:
        while not stop.is_set():
            try:
                event = await asyncio.wait_for(sub.get(), 0.1)
            except TimeoutError:
                continue
            if event is None:
                return
            into.append((time.monotonic(), event))


async def wait_for(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time"
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_a_run_on_one_node_is_seen_on_the_other(server: Server, server_config: ServerConfig) -> None:
    async with running(dataclasses.replace(server_config, run_scheduler=False)) as other:
        seen_here: list[tuple[float, Event]] = []
        seen_there: list[tuple[float, Event]] = []
        stop = asyncio.Event()
        watchers = [
            asyncio.create_task(collect(server, seen_here, stop)),
            asyncio.create_task(collect(other, seen_there, stop)),
        ]
        await asyncio.sleep(0.1)
        agent = await other.service.create_agent(agent_body(), None)
        run_id = await other.service.trigger_run(agent["id"])
        await wait_for(
            lambda: any(e["type"] == "run.finished" and e.get("runId") == run_id for _, e in seen_here)
        )
        stop.set()
        await asyncio.gather(*watchers)

    mine = [(t, e) for t, e in seen_here if e.get("runId") == run_id]
    theirs = [(t, e) for t, e in seen_there if e.get("runId") == run_id]
    assert [e["type"] for _, e in mine] == [e["type"] for _, e in theirs]
    assert {e["node"] for _, e in mine} == {other.server_id}
    assert "node" not in theirs[0][1]  # the owner's own bus: as before
    assert mine[-1][1]["run"]["status"] == theirs[-1][1]["run"]["status"] == "success"
    assert max(t_mine - t_theirs for (t_mine, _), (t_theirs, _) in zip(mine, theirs, strict=True)) < 1.0


async def test_a_large_event_crosses_without_its_body(server: Server, server_config: ServerConfig) -> None:
    async with running(dataclasses.replace(server_config, run_scheduler=False)) as other:
        seen: list[tuple[float, Event]] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(collect(server, seen, stop))
        await asyncio.sleep(0.1)
        big = {"seq": 7, "type": "tool_result", "data": {"text": "x" * (2 * MAX_MESSAGE_BYTES)}}
        other.bus.publish("run.event", agentId="agt_1", runId="run_1", event=big)
        other.bus.publish("agent.updated", agentId="agt_1", agent={})  # not forwarded: the feed's job
        await wait_for(lambda: any(e["type"] == "run.event" for _, e in seen), timeout=5)
        await asyncio.sleep(0.3)
        stop.set()
        await watcher
    [(_, event)] = seen
    assert event["event"] == {"seq": 7, "type": "tool_result"} and event["truncated"] is True
