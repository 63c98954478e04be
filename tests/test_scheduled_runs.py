"""The scheduler and the real runner together: a scheduled slot becomes a real Claude Code run."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.scheduler import Scheduler
from app.server import ServerConfig, running
from tests.conftest import agent_body
from tests.fake_anthropic import PLAIN_TEXT
from tests.fake_clock import FakeClock

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]

MINUTE = 60_000


async def test_a_scheduled_slot_runs_once_through_the_real_runner(server_config: ServerConfig) -> None:
    async with running(server_config) as server:
        start = (int(time.time() * 1000) // MINUTE + 1) * MINUTE - 1_000
        clock = FakeClock(start)
        scheduler = Scheduler(server.service, server.runner, server.store, server.bus, clock=clock)
        await scheduler.start()
        try:
            agent = await server.service.create_agent(
                agent_body(schedule="* * * * *", prompt="[[fake:plain]]"), None
            )
            clock.advance(1_000)  # the minute begins
            await asyncio.wait_for(scheduler.settled(), 10)
            rows = []
            for _ in range(300):
                rows = await server.store.runs.history(agent["id"], 10, None)
                if rows and rows[0]["status"] not in ("queued", "running"):
                    break
                await asyncio.sleep(0.1)
            [row] = rows
            assert row["status"] == "success", row["output"]
            assert row["output"] == PLAIN_TEXT
            assert row["trigger"] == "schedule"
            assert row["scheduled_for"] == start + 1_000
            fresh = await server.service.get_agent(agent["id"])
            assert fresh["lastStatus"] == "success"
            assert fresh["nextRunAt"] is not None
        finally:
            await scheduler.stop()


async def test_serve_starts_the_scheduler(server_config: ServerConfig) -> None:
    server_config.run_scheduler = True
    async with running(server_config) as server:
        assert server.scheduler is not None
        agent = await server.service.create_agent(agent_body(schedule="@hourly"), None)
        assert server.scheduler.next_fire_ms(agent["id"]) is not None
    server_config.run_scheduler = False
    async with running(server_config) as server:
        assert server.scheduler is None
