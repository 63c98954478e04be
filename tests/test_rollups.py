"""The per-day rollups recounted from the runs (when the stats time zone changed), on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from app.server import Server
from storage.interface import RunOutcome
from tests.conftest import agent_body

pytestmark = pytest.mark.both_backends

FIELDS = ("day", "total", "success", "skipped", "cost_usd", "duration_ms_sum", "duration_count")


def days(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [tuple(round(r[f], 6) if f == "cost_usd" else r[f] for f in FIELDS) for r in rows]


async def test_rebuilt_rollups_count_every_finished_run_by_the_new_days(server: Server) -> None:
    store, service = server.store, server.service
    agent = await service.create_agent(agent_body(name="Counted"), None)
    start = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    ended = [("success", 0.5, 0), ("success", 0.25, 3_600_000), ("error", 0.125, 86_400_000)]
    for n, (status, cost, at) in enumerate(ended):
        run_id = f"run_rollup_{n}"
        await store.runs.insert(run_id, agent["id"], "running", start + at, owner=server.server_id)
        outcome = RunOutcome(status, status, start + at + 2_000, cost_usd=cost)
        await store.runs.finish(run_id, outcome, service.day_of)
    await store.runs.insert("run_rollup_q", agent["id"], "queued", start, owner=server.server_id)
    await store.runs.insert("run_rollup_s", agent["id"], "queued", start, owner=server.server_id)
    await store.runs.skip("run_rollup_s", "skipped: busy", start, service.day_of)
    before = days(await store.stats.agent_days(agent["id"], "2025-12-01"))
    assert [row[:5] for row in before] == [("2026-01-01", 2, 2, 1, 0.75), ("2026-01-02", 1, 0, 0, 0.125)]

    # Rebuilt with the same days: the same rollups, the queued run not counted.
    assert await store.stats.rebuild_rollups(service.calendar.zone, service.day_of) == 4
    assert days(await store.stats.agent_days(agent["id"], "2025-12-01")) == before

    # Rebuilt with other days (a zone where all of them fell on one day): one row, every figure summed.
    assert await store.stats.rebuild_rollups("Etc/GMT+12", lambda ms: "2025-12-31") == 4
    one_day = [("2025-12-31", 3, 2, 1, 0.875, 6_000, 3)]
    assert days(await store.stats.agent_days(agent["id"], "2025-12-01")) == one_day
    assert days(await store.stats.global_days("2025-12-01")) == one_day
    assert await store.stats.rollup_zone() == "Etc/GMT+12"
