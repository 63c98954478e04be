"""The limit of runs at once over every server sharing the database (settings' ``maxConcurrentRuns``).

Starts under the limit take turns (SQLite: the write lock; PostgreSQL: an advisory lock, the
queued row taken ``FOR UPDATE SKIP LOCKED``), so however many servers start runs at once, never
more than the limit run; a run held back stays ``queued`` and starts when a slot frees, on
whichever server owns it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from app.server import ServerConfig, running
from storage.backend import open_storage
from storage.interface import RunOutcome
from tests.conftest import agent_body

pytestmark = pytest.mark.both_backends


async def test_racing_starts_on_two_handles_never_pass_the_limit(db_target: Path | str) -> None:
    async with open_storage(db_target) as a, open_storage(db_target) as b:
        await a.agents.insert(
            {"id": "agt_1", "name": "n", "schedule": "* * * * *", "prompt": "p", "timezone": "UTC"}
            | {"created_at": 1, "updated_at": 1}
        )
        ids = [f"run_{i:02d}" for i in range(20)]
        for run_id in ids:
            await a.runs.insert(run_id, "agt_1", "queued", 1, owner="srv_a")
        answers = await asyncio.gather(
            *(store.runs.start_within(run_id, "agt_1", 2, 3) for run_id in ids for store in (a, b))
        )
        counts = Counter(answers)
        assert counts["started"] == 3 and counts["gone"] <= 3
        running = [r for r in await a.runs.active() if r["status"] == "running"]
        assert len(running) == 3
        assert await a.runs.start_within(ids[-1], "agt_1", 3, 3) in ("full", "gone")
        await a.runs.finish(running[0]["id"], RunOutcome("success", "ok", 5), lambda _: "1970-01-01")
        waiting = next(r["id"] for r in await a.runs.active() if r["status"] == "queued")
        assert await b.runs.start_within(waiting, "agt_1", 6, 3) == "started"
        assert await b.runs.start_within(running[0]["id"], "agt_1", 7, 3) == "gone"


@pytest.mark.slow
async def test_a_run_on_another_server_waits_for_the_cluster_slot(server_config: ServerConfig) -> None:
    async with running(server_config) as first, running(dataclasses.replace(server_config)) as second:
        await first.channels.update_settings({"maxConcurrentRuns": 1})
        slow = await first.service.create_agent(agent_body(name="slow", prompt="[[fake:slow]]"), None)
        quick = await first.service.create_agent(agent_body(name="quick", prompt="[[fake:plain]]"), None)
        held = await first.service.trigger_run(slow["id"])
        for _ in range(100):
            row = await first.store.runs.get(held)
            if row is not None and row["status"] == "running":
                break
            await asyncio.sleep(0.05)
        waiting = await second.service.trigger_run(quick["id"])
        await asyncio.sleep(1.5)
        row = await second.store.runs.get(waiting)
        assert row is not None and row["status"] == "queued"  # the cluster's one slot is taken
        assert await first.service.cancel_runs(slow["id"]) == 1
        for _ in range(300):
            row = await second.store.runs.get(waiting)
            assert row is not None
            if row["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.1)
        assert row["status"] == "success" and row["owner"] == second.server_id
        assert (await first.channels.get_settings())["maxConcurrentRuns"] == 1
