"""The scheduler: on-time, exactly-once fires, overlap policies, DST, catch-up, re-planning.

Everything runs against a real database (a SQLite file, and a PostgreSQL schema: the
module is marked ``both_backends``) and the real AgentService; only the
runner boundary is a small recording fake, and time is a FakeClock (no real
waiting), except the one real-time test marked ``slow``.

Zone facts used below (see tests/test_cron.py for the derivations):

* America/New_York: 2026-03-08 02:00 EST (07:00Z) jumps to 03:00 EDT;
  2026-11-01 02:00 EDT (06:00Z) falls back to 01:00 EST, so local 01:00-01:59
  happens twice (05:00-05:59Z, then 06:00-06:59Z).
* Australia/Lord_Howe (30-minute shift): 2026-04-05 02:00 +11 (04-04 15:00Z)
  falls back to 01:30 +10:30, so 01:30-01:59 happens twice (14:30-14:59Z,
  15:00-15:29Z); 2026-10-04 02:00 +10:30 (10-03 15:30Z) jumps to 02:30 +11.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cron import slots_between
from app.events import EventBus
from app.scheduler import Scheduler, SystemClock
from app.scheduler.engine import CLAIM_AHEAD_MS
from app.scheduler.plans import missed_counts
from app.service import AgentService
from app.timeutil import from_datetime, iso, to_datetime
from storage.backend import open_storage
from storage.interface import RunOutcome, Storage
from tests.conftest import agent_body
from tests.fake_clock import FakeClock

NY = "America/New_York"
LH = "Australia/Lord_Howe"
pytestmark = pytest.mark.both_backends
OVERLAP = "skipped: the previous run was still running"


def ms(text: str) -> int:
    """``"2026-01-05T09:00:00Z"`` → epoch ms."""
    return from_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")))


def local(iso_text: str, zone: str) -> str:
    """An API timestamp as local wall time with offset, e.g. ``"01:30+1030"``."""
    return datetime.fromtimestamp(ms(iso_text) / 1000, ZoneInfo(zone)).strftime("%m-%d %H:%M%z")


@dataclass
class RecordingRunner:
    """The runner boundary: records what the scheduler asks for.

    ``finish`` decides what happens to an enqueued run: ``None`` leaves it
    queued (as if still running), otherwise it is finished with that status.
    """

    store: Storage
    service: AgentService
    clock: FakeClock | SystemClock
    finish: str | None = "success"
    enqueued: list[tuple[str, str, int]] = field(default_factory=list)  # agent, run, at ms
    cancelled: list[str] = field(default_factory=list)
    owner: str = "srv_test"

    async def enqueue_claimed(self, agent_id: str, run_id: str) -> None:
        self.enqueued.append((agent_id, run_id, self.clock.now_ms()))
        if self.finish is not None:
            await self._finish(run_id, self.finish, "done")

    async def cancel_agent_runs(self, agent_id: str, reason: str = "cancelled") -> int:
        self.cancelled.append(agent_id)
        runs = await self.store.runs.active(agent_id)
        for run in runs:
            await self._finish(run["id"], "cancelled", reason)
        return len(runs)

    async def _finish(self, run_id: str, status: str, output: str) -> None:
        outcome = RunOutcome(status, output, self.clock.now_ms())
        await self.store.runs.finish(run_id, outcome, self.service.day_of)

    def runs_of(self, agent_id: str) -> list[str]:
        return [run for agent, run, _ in self.enqueued if agent == agent_id]


@dataclass
class Env:
    store: Storage
    clock: FakeClock
    service: AgentService
    runner: RecordingRunner
    scheduler: Scheduler

    async def create(self, **overrides: Any) -> dict[str, Any]:
        return await self.service.create_agent(agent_body(**overrides), None)

    async def at(self, when: str | int) -> None:
        """Move the clock to ``when`` and let the scheduler do what is due."""
        self.clock.set(ms(when) if isinstance(when, str) else when)
        await asyncio.wait_for(self.scheduler.settled(), 30)

    async def run_until(self, end: str) -> None:
        """Step from planned fire to planned fire (read from the agents' nextRunAt) up to ``end``."""
        limit = ms(end)
        while True:
            planned = [ms(a["nextRunAt"]) for a in await self.service.list_agents() if a["nextRunAt"]]
            nxt = min(planned, default=None)
            if nxt is None or nxt > limit:
                break
            await self.at(nxt)
        await self.at(limit)

    async def runs(self, agent_id: str) -> list[dict[str, Any]]:
        """Run history oldest first."""
        return list(reversed(await self.service.list_runs(agent_id, limit=1000)))

    async def restart(self) -> None:
        await self.scheduler.stop()
        self.scheduler = Scheduler(self.service, self.runner, self.store, self.service.bus, clock=self.clock)


T0 = "2026-01-05T08:59:30Z"  # a Monday


@pytest.fixture
async def env(db_target: Path | str) -> AsyncIterator[Env]:
    clock = FakeClock(ms(T0))
    async with open_storage(db_target) as store:
        service = AgentService(
            store, EventBus(), stats_zone="UTC", default_timezone="UTC", clock=clock.now_ms
        )
        runner = RecordingRunner(store, service, clock)
        e = Env(store, clock, service, runner, Scheduler(service, runner, store, service.bus, clock=clock))
        try:
            yield e
        finally:
            await e.scheduler.stop()


def scheduled(runs: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    return [(r["scheduledFor"], r["status"]) for r in runs]


# --------------------------------------------------------------------------- firing


async def test_fires_each_slot_once_and_plans_the_next(env: Env):
    agent = await env.create(schedule="*/5 * * * *")
    await env.scheduler.start()
    await env.at("2026-01-05T08:59:59.999Z")
    assert env.runner.enqueued == []
    await env.at("2026-01-05T09:00:00Z")
    await env.at("2026-01-05T09:00:30Z")
    await env.at("2026-01-05T09:04:59Z")
    runs = await env.runs(agent["id"])
    assert len(runs) == 1
    (run,) = runs
    assert run["trigger"] == "schedule"
    assert run["scheduledFor"] == "2026-01-05T09:00:00.000Z"
    assert run["status"] == "success" and run["output"] == "done"
    assert env.runner.runs_of(agent["id"]) == [run["id"]]
    assert env.runner.enqueued[0][2] == ms("2026-01-05T09:00:00Z")  # on time, to the ms
    assert (await env.service.get_agent(agent["id"]))["nextRunAt"] == "2026-01-05T09:05:00.000Z"
    await env.at("2026-01-05T09:05:00Z")
    assert [r["scheduledFor"] for r in await env.runs(agent["id"])] == [
        "2026-01-05T09:00:00.000Z",
        "2026-01-05T09:05:00.000Z",
    ]


async def test_agents_due_together_fire_in_one_batch_and_get_their_next_run(env: Env):
    agents = [await env.create(name=f"a{i}", schedule="* * * * *") for i in range(20)]
    agents.append(await env.create(name="hourly", schedule="0 * * * *"))
    await env.scheduler.start()
    async with env.service.bus.subscribe() as sub:
        await env.at("2026-01-05T09:00:00Z")
        events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert len(env.runner.enqueued) == 21
    scheduled_events = {e["agentId"]: e["nextRunAt"] for e in events if e["type"] == "agent.scheduled"}
    assert len(scheduled_events) == 21
    listed = {a["id"]: a["nextRunAt"] for a in await env.service.list_agents()}
    for a in agents[:20]:
        assert listed[a["id"]] == scheduled_events[a["id"]] == "2026-01-05T09:01:00.000Z"
    assert listed[agents[20]["id"]] == "2026-01-05T10:00:00.000Z"


# --------------------------------------------------------------------------- policies


async def test_forbid_records_the_overlapping_slot_as_skipped(env: Env):
    env.runner.finish = None  # runs stay queued: "still running"
    agent = await env.create(schedule="* * * * *")
    assert agent["concurrencyPolicy"] == "forbid"
    await env.scheduler.start()
    await env.at("2026-01-05T09:00:00Z")
    await env.at("2026-01-05T09:01:00Z")
    runs = await env.runs(agent["id"])
    assert scheduled(runs) == [
        ("2026-01-05T09:00:00.000Z", "queued"),
        ("2026-01-05T09:01:00.000Z", "skipped"),
    ]
    assert runs[1]["output"] == OVERLAP
    assert runs[1]["trigger"] == "schedule"
    assert len(env.runner.enqueued) == 1
    # Once the first run has finished, the next slot runs again.
    await env.runner._finish(runs[0]["id"], "success", "done")
    await env.at("2026-01-05T09:02:00Z")
    assert [r["status"] for r in await env.runs(agent["id"])] == ["success", "skipped", "queued"]
    stats = await env.service.agent_stats(agent["id"], "7d")
    assert stats["totalRuns"] == 1  # the queued run is not finished yet; skipped is not a run
    assert stats["skippedRuns"] == 1
    assert stats["successRate"] == 100


async def test_allow_runs_overlapping_slots(env: Env):
    env.runner.finish = None
    agent = await env.create(schedule="* * * * *", concurrencyPolicy="allow")
    await env.scheduler.start()
    await env.at("2026-01-05T09:00:00Z")
    await env.at("2026-01-05T09:01:00Z")
    runs = await env.runs(agent["id"])
    assert scheduled(runs) == [
        ("2026-01-05T09:00:00.000Z", "queued"),
        ("2026-01-05T09:01:00.000Z", "queued"),
    ]
    assert env.runner.runs_of(agent["id"]) == [r["id"] for r in runs]
    assert env.runner.cancelled == []


async def test_replace_cancels_the_running_one_then_starts(env: Env):
    env.runner.finish = None
    agent = await env.create(schedule="* * * * *", concurrencyPolicy="replace")
    other = await env.create(name="other", schedule="* * * * *", concurrencyPolicy="replace")
    await env.scheduler.start()
    await env.at("2026-01-05T09:00:00Z")
    assert env.runner.cancelled == []  # nothing was running
    first = (await env.runs(other["id"]))[0]
    await env.runner._finish(first["id"], "success", "done")  # `other` is idle at 09:01
    await env.at("2026-01-05T09:01:00Z")
    assert env.runner.cancelled == [agent["id"]]
    runs = await env.runs(agent["id"])
    assert scheduled(runs) == [
        ("2026-01-05T09:00:00.000Z", "cancelled"),
        ("2026-01-05T09:01:00.000Z", "queued"),
    ]
    assert runs[0]["output"] == "cancelled: replaced by the next scheduled run"
    assert env.runner.runs_of(agent["id"]) == [r["id"] for r in runs]
    assert len(await env.runs(other["id"])) == 2


# --------------------------------------------------------------------------- daylight saving


async def test_new_york_spring_forward(env: Env):
    env.clock.set(ms("2026-03-07T12:00:00Z"))
    fixed = await env.create(name="fixed", schedule="30 2 * * *", timezone=NY)
    often = await env.create(name="often", schedule="*/30 * * * *", timezone=NY)
    await env.scheduler.start()
    await env.run_until("2026-03-09T12:00:00Z")
    # 02:30 does not exist on 03-08: it runs once, right after the jump (03:00 EDT).
    assert [r["scheduledFor"] for r in await env.runs(fixed["id"])] == [
        "2026-03-08T07:00:00.000Z",
        "2026-03-09T06:30:00.000Z",
    ]
    night = [
        local(r["scheduledFor"], NY)
        for r in await env.runs(often["id"])
        if "2026-03-08T06:00" <= r["scheduledFor"] <= "2026-03-08T08:00:00.000Z"
    ]
    assert night == [
        "03-08 01:00-0500",
        "03-08 01:30-0500",
        "03-08 03:00-0400",
        "03-08 03:30-0400",
        "03-08 04:00-0400",
    ]


async def test_new_york_fall_back(env: Env):
    env.clock.set(ms("2026-10-31T12:00:00Z"))
    fixed = await env.create(name="fixed", schedule="30 2 * * *", timezone=NY)
    repeated = await env.create(name="repeated", schedule="30 1 * * *", timezone=NY)
    often = await env.create(name="often", schedule="*/15 * * * *", timezone=NY)
    await env.scheduler.start()
    await env.run_until("2026-11-02T12:00:00Z")
    assert [r["scheduledFor"] for r in await env.runs(fixed["id"])] == [
        "2026-11-01T07:30:00.000Z",
        "2026-11-02T07:30:00.000Z",
    ]
    # 01:30 happens twice on 11-01: it runs at the first one only.
    assert [local(r["scheduledFor"], NY) for r in await env.runs(repeated["id"])] == [
        "11-01 01:30-0400",
        "11-02 01:30-0500",
    ]
    night = [
        local(r["scheduledFor"], NY)
        for r in await env.runs(often["id"])
        if "2026-11-01T05:00" <= r["scheduledFor"] <= "2026-11-01T07:00:00.000Z"
    ]
    assert night == [
        "11-01 01:00-0400",
        "11-01 01:15-0400",
        "11-01 01:30-0400",
        "11-01 01:45-0400",
        "11-01 01:00-0500",
        "11-01 01:15-0500",
        "11-01 01:30-0500",
        "11-01 01:45-0500",
        "11-01 02:00-0500",
    ]
    assert all(r["status"] == "success" for r in await env.runs(often["id"]))


async def test_lord_howe_half_hour_fall_back(env: Env):
    env.clock.set(ms("2026-04-04T00:00:00Z"))
    fixed = await env.create(name="fixed", schedule="45 1 * * *", timezone=LH)
    often = await env.create(name="often", schedule="*/15 * * * *", timezone=LH)
    await env.scheduler.start()
    await env.run_until("2026-04-06T00:00:00Z")
    # 01:45 happens twice on 04-05 (+11, then +10:30): it runs once.
    assert [local(r["scheduledFor"], LH) for r in await env.runs(fixed["id"])] == [
        "04-05 01:45+1100",
        "04-06 01:45+1030",
    ]
    night = [
        local(r["scheduledFor"], LH)
        for r in await env.runs(often["id"])
        if "2026-04-04T14:15" <= r["scheduledFor"] <= "2026-04-04T15:30:00.000Z"
    ]
    assert night == [
        "04-05 01:15+1100",
        "04-05 01:30+1100",
        "04-05 01:45+1100",
        "04-05 01:30+1030",
        "04-05 01:45+1030",
        "04-05 02:00+1030",
    ]


async def test_lord_howe_half_hour_spring_forward(env: Env):
    env.clock.set(ms("2026-10-03T00:00:00Z"))
    fixed = await env.create(name="fixed", schedule="15 2 * * *", timezone=LH)
    often = await env.create(name="often", schedule="*/15 * * * *", timezone=LH)
    await env.scheduler.start()
    await env.run_until("2026-10-05T00:00:00Z")
    # 02:15 does not exist on 10-04: it runs once, right after the jump (02:30 +11).
    assert [local(r["scheduledFor"], LH) for r in await env.runs(fixed["id"])] == [
        "10-04 02:30+1100",
        "10-05 02:15+1100",
    ]
    night = [
        local(r["scheduledFor"], LH)
        for r in await env.runs(often["id"])
        if "2026-10-03T15:00" <= r["scheduledFor"] <= "2026-10-03T15:45:00.000Z"
    ]
    assert night == ["10-04 01:30+1030", "10-04 01:45+1030", "10-04 02:30+1100", "10-04 02:45+1100"]


# --------------------------------------------------------------------------- two processes


async def test_two_schedulers_on_one_database_fire_each_slot_once(env: Env, db_target: Path | str):
    agents = [
        await env.create(name=f"a{i}", schedule="* * * * *", concurrencyPolicy="allow") for i in range(5)
    ]
    await env.scheduler.start()
    clock_b = FakeClock(env.clock.now_ms())
    async with open_storage(db_target) as store_b:
        service_b = AgentService(
            store_b, EventBus(), stats_zone="UTC", default_timezone="UTC", clock=clock_b.now_ms
        )
        runner_b = RecordingRunner(store_b, service_b, clock_b)
        scheduler_b = Scheduler(service_b, runner_b, store_b, service_b.bus, clock=clock_b)
        await scheduler_b.start()
        try:
            for minute in range(10):
                when = ms("2026-01-05T09:00:00Z") + minute * 60_000
                env.clock.set(when)
                clock_b.set(when)
                await asyncio.wait_for(asyncio.gather(env.scheduler.settled(), scheduler_b.settled()), 30)
        finally:
            await scheduler_b.stop()
    enqueued = [run for _, run, _ in env.runner.enqueued + runner_b.enqueued]
    assert len(enqueued) == len(set(enqueued)) == 50
    for agent in agents:
        runs = await env.runs(agent["id"])
        assert len(runs) == 10
        assert len({r["scheduledFor"] for r in runs}) == 10
        assert {r["status"] for r in runs} == {"success"}
        assert sorted(r["id"] for r in runs) == sorted(
            run for a, run, _ in env.runner.enqueued + runner_b.enqueued if a == agent["id"]
        )


# --------------------------------------------------------------------------- catch-up


async def test_restart_runs_the_latest_missed_slot_once_and_records_the_rest(env: Env):
    agent = await env.create(schedule="0 * * * *")
    await env.scheduler.start()
    await env.at("2026-01-05T09:00:00Z")
    await env.scheduler.stop()
    env.clock.set(ms("2026-01-05T13:20:00Z"))  # down through 10:00, 11:00, 12:00, 13:00
    await env.restart()
    await env.scheduler.start()
    await env.at("2026-01-05T13:20:01Z")
    runs = await env.runs(agent["id"])
    assert scheduled(runs) == [
        ("2026-01-05T09:00:00.000Z", "success"),
        ("2026-01-05T12:00:00.000Z", "skipped"),
        ("2026-01-05T13:00:00.000Z", "success"),
    ]
    assert runs[1]["output"] == "missed while the server was down: 3 slots"
    assert runs[2]["trigger"] == "schedule"
    assert len(env.runner.enqueued) == 2
    assert (await env.service.get_agent(agent["id"]))["nextRunAt"] == "2026-01-05T14:00:00.000Z"
    stats = await env.service.agent_stats(agent["id"], "7d")
    assert (stats["totalRuns"], stats["skippedRuns"]) == (2, 1)
    # A second restart at once finds nothing more to do.
    await env.restart()
    await env.scheduler.start()
    await env.at("2026-01-05T13:30:00Z")
    assert len(await env.runs(agent["id"])) == 3
    # ... and the schedule goes on.
    await env.at("2026-01-05T14:00:00Z")
    assert len(env.runner.enqueued) == 3


async def test_restart_beyond_the_deadline_only_records_the_missed_slots(env: Env):
    late = await env.create(name="late", schedule="0 * * * *", startingDeadlineSeconds=600)
    never = await env.create(name="never", schedule="0 * * * *", startingDeadlineSeconds=None)
    one = await env.create(name="one", schedule="0 13 * * *")
    await env.scheduler.stop()
    env.clock.set(ms("2026-01-05T13:20:00Z"))
    await env.restart()
    await env.scheduler.start()
    await env.at("2026-01-05T13:25:00Z")
    for agent in (late, never):
        runs = await env.runs(agent["id"])
        assert scheduled(runs) == [("2026-01-05T13:00:00.000Z", "skipped")]
        assert runs[0]["output"] == "missed while the server was down: 5 slots"
    runs = await env.runs(one["id"])
    assert scheduled(runs) == [("2026-01-05T13:00:00.000Z", "success")]  # 20 min < 3600 s
    assert [a for a, _, _ in env.runner.enqueued] == [one["id"]]
    stats = await env.service.agent_stats(late["id"], "24h")
    assert (stats["totalRuns"], stats["skippedRuns"]) == (0, 1)


async def test_null_deadline_never_catches_up_even_a_short_outage(env: Env):
    agent = await env.create(schedule="* * * * *", startingDeadlineSeconds=None)
    env.clock.set(ms("2026-01-05T09:00:05Z"))
    await env.scheduler.start()
    await env.at("2026-01-05T09:00:30Z")
    runs = await env.runs(agent["id"])
    assert scheduled(runs) == [("2026-01-05T09:00:00.000Z", "skipped")]
    assert runs[0]["output"] == "missed while the server was down: 1 slot"
    await env.at("2026-01-05T09:01:00Z")
    assert len(env.runner.enqueued) == 1  # on-time fires are not catch-up


async def test_a_long_outage_is_one_row_and_a_bounded_amount_of_work(env: Env):
    agent = await env.create(schedule="* * * * *")
    env.clock.set(ms("2026-01-25T09:00:30Z"))  # 20 days: 28,801 minutely slots
    started = time.process_time()
    await env.scheduler.start()
    await env.at("2026-01-25T09:00:40Z")
    assert time.process_time() - started < 5
    runs = await env.runs(agent["id"])
    assert scheduled(runs) == [
        ("2026-01-25T08:59:00.000Z", "skipped"),
        ("2026-01-25T09:00:00.000Z", "success"),
    ]
    assert runs[0]["output"] == "missed while the server was down: at least 10079 slots"


async def test_agents_sharing_a_schedule_but_not_a_history_get_their_own_counts(env: Env):
    old = await env.create(name="old", schedule="0 * * * *")
    env.clock.set(ms("2026-01-05T11:30:00Z"))
    new = await env.create(name="new", schedule="0 * * * *")
    env.clock.set(ms("2026-01-05T15:10:00Z"))
    await env.scheduler.start()
    await env.at("2026-01-05T15:10:01Z")
    old_runs, new_runs = await env.runs(old["id"]), await env.runs(new["id"])
    assert old_runs[0]["output"] == "missed while the server was down: 6 slots"  # 9:00-14:00
    assert new_runs[0]["output"] == "missed while the server was down: 3 slots"  # 12:00-14:00
    assert (
        [r["scheduledFor"] for r in old_runs]
        == [r["scheduledFor"] for r in new_runs]
        == [
            "2026-01-05T14:00:00.000Z",
            "2026-01-05T15:00:00.000Z",
        ]
    )


async def test_waking_up_late_catches_up_once(env: Env):
    """The machine slept through several slots while the scheduler was running."""
    agent = await env.create(schedule="* * * * *")
    await env.scheduler.start()
    await env.at("2026-01-05T09:03:30Z")
    runs = await env.runs(agent["id"])
    assert scheduled(runs) == [
        ("2026-01-05T09:02:00.000Z", "skipped"),
        ("2026-01-05T09:03:00.000Z", "success"),
    ]
    assert runs[0]["output"] == "missed while the scheduler was paused: 3 slots"
    assert (await env.service.get_agent(agent["id"]))["nextRunAt"] == "2026-01-05T09:04:00.000Z"
    await env.at("2026-01-05T09:04:00Z")
    assert len(env.runner.enqueued) == 2


# --------------------------------------------------------------------------- re-planning


async def test_created_agent_is_planned_at_once(env: Env):
    await env.scheduler.start()
    await env.at("2026-01-05T08:59:40Z")
    agent = await env.create(schedule="0 9 * * *")
    assert agent["nextRunAt"] == "2026-01-05T09:00:00.000Z"
    await env.at("2026-01-05T09:00:00Z")
    assert scheduled(await env.runs(agent["id"])) == [("2026-01-05T09:00:00.000Z", "success")]


async def test_schedule_change_replans_earlier_and_later(env: Env):
    agent = await env.create(schedule="0 10 * * *")
    await env.scheduler.start()
    updated = await env.service.update_agent(agent["id"], {"schedule": "0 9 * * *"})
    assert updated["nextRunAt"] == "2026-01-05T09:00:00.000Z"
    await env.at("2026-01-05T09:00:00Z")
    assert len(await env.runs(agent["id"])) == 1
    await env.service.update_agent(agent["id"], {"schedule": "30 10 * * *"})
    await env.at("2026-01-05T10:00:00Z")  # the old slot no longer fires
    await env.at("2026-01-05T10:30:00Z")
    assert [r["scheduledFor"] for r in await env.runs(agent["id"])] == [
        "2026-01-05T09:00:00.000Z",
        "2026-01-05T10:30:00.000Z",
    ]


async def test_timezone_change_replans(env: Env):
    agent = await env.create(schedule="0 9 * * *")
    await env.scheduler.start()
    updated = await env.service.update_agent(agent["id"], {"timezone": "Asia/Tokyo"})
    assert updated["nextRunAt"] == "2026-01-06T00:00:00.000Z"  # 09:00 JST
    await env.at("2026-01-05T09:00:00Z")
    assert await env.runs(agent["id"]) == []
    await env.at("2026-01-06T00:00:00Z")
    assert scheduled(await env.runs(agent["id"])) == [("2026-01-06T00:00:00.000Z", "success")]


async def test_disable_enable_and_delete(env: Env):
    agent = await env.create(schedule="* * * * *")
    await env.scheduler.start()
    disabled = await env.service.update_agent(agent["id"], {"enabled": False})
    assert disabled["nextRunAt"] is None
    await env.at("2026-01-05T09:00:00Z")
    await env.at("2026-01-05T09:05:00Z")
    assert await env.runs(agent["id"]) == []
    assert (await env.service.get_agent(agent["id"]))["nextRunAt"] is None
    enabled = await env.service.update_agent(agent["id"], {"enabled": True})
    assert enabled["nextRunAt"] == "2026-01-05T09:06:00.000Z"
    await env.at("2026-01-05T09:06:00Z")
    assert scheduled(await env.runs(agent["id"])) == [("2026-01-05T09:06:00.000Z", "success")]
    await env.service.delete_agent(agent["id"])
    await env.at("2026-01-05T09:10:00Z")
    assert len(env.runner.enqueued) == 1


async def test_other_edits_keep_the_plan_but_use_the_new_settings(env: Env):
    env.runner.finish = None
    agent = await env.create(schedule="* * * * *")
    await env.scheduler.start()
    await env.at("2026-01-05T09:00:00Z")
    await env.service.update_agent(agent["id"], {"concurrencyPolicy": "allow", "prompt": "new"})
    await env.at("2026-01-05T09:01:00Z")
    assert [r["status"] for r in await env.runs(agent["id"])] == ["queued", "queued"]
    assert len(env.runner.enqueued) == 2


async def test_an_agent_deleted_elsewhere_is_not_run(env: Env, db_target: Path | str):
    """The claim refuses a slot whose agent no longer exists (deleted by another process)."""
    agent = await env.create(schedule="* * * * *")
    await env.scheduler.start()
    async with open_storage(db_target) as elsewhere:  # another process (whose feed this one does not follow)
        await elsewhere.agents.delete(agent["id"])
    await env.at("2026-01-05T09:00:00Z")
    assert env.runner.enqueued == []


async def test_stop_and_settled_without_start(env: Env):
    await env.scheduler.settled()
    await env.scheduler.stop()
    assert env.scheduler.next_fire_ms("nope") is None


# --------------------------------------------------------------------------- claiming ahead
# Instants with many agents are claimed shortly before the slot (500 ms; 2.5 s on PostgreSQL,
# 500 ms here on both), so the instant itself only hands runs over; the threshold is lowered to 1.


def claiming_ahead(env: Env) -> None:
    env.scheduler = Scheduler(
        env.service,
        env.runner,
        env.store,
        env.service.bus,
        clock=env.clock,
        claim_ahead_min=1,
        claim_ahead_ms=CLAIM_AHEAD_MS,
    )


async def test_claims_ahead_then_hands_over_at_the_instant(env: Env):
    claiming_ahead(env)
    agents = [await env.create(name=f"a{i}", schedule="* * * * *") for i in range(3)]
    await env.scheduler.start()
    await env.at("2026-01-05T08:59:59.400Z")
    assert await env.runs(agents[0]["id"]) == []
    await env.at("2026-01-05T08:59:59.600Z")
    for agent in agents:
        assert scheduled(await env.runs(agent["id"])) == [("2026-01-05T09:00:00.000Z", "queued")]
    assert env.runner.enqueued == []  # nothing starts before its time
    await env.at("2026-01-05T09:00:00Z")
    assert sorted(a for a, _, at in env.runner.enqueued if at == ms("2026-01-05T09:00:00Z")) == sorted(
        a["id"] for a in agents
    )
    for agent in agents:
        runs = await env.runs(agent["id"])
        assert scheduled(runs) == [("2026-01-05T09:00:00.000Z", "success")]
        assert env.runner.runs_of(agent["id"]) == [runs[0]["id"]]


async def test_edits_between_the_early_claim_and_the_instant_are_honoured(env: Env):
    claiming_ahead(env)
    disabled = await env.create(name="disabled", schedule="* * * * *")
    deleted = await env.create(name="deleted", schedule="* * * * *")
    moved = await env.create(name="moved", schedule="* * * * *")
    rescheduled = await env.create(name="rescheduled", schedule="* * * * *")
    await env.scheduler.start()
    await env.at("2026-01-05T08:59:59.600Z")
    await env.service.update_agent(disabled["id"], {"enabled": False})
    await env.service.delete_agent(deleted["id"])
    await env.service.update_agent(moved["id"], {"schedule": "30 9 * * *"})
    await env.service.update_agent(rescheduled["id"], {"schedule": "*/5 * * * *"})  # still due 09:00
    created = await env.create(name="created", schedule="0 * * * *")  # due 09:00, not claimed yet
    await env.at("2026-01-05T09:00:00Z")
    assert await env.runs(disabled["id"]) == []
    assert await env.runs(moved["id"]) == []
    for agent in (rescheduled, created):
        assert scheduled(await env.runs(agent["id"])) == [("2026-01-05T09:00:00.000Z", "success")]
    assert sorted(a for a, _, _ in env.runner.enqueued) == sorted([rescheduled["id"], created["id"]])
    await env.at("2026-01-05T09:30:00Z")
    assert scheduled(await env.runs(moved["id"])) == [("2026-01-05T09:30:00.000Z", "success")]


async def test_overlap_rules_apply_to_slots_claimed_ahead(env: Env):
    claiming_ahead(env)
    env.runner.finish = None
    forbid = await env.create(name="forbid", schedule="* * * * *")
    replace = await env.create(name="replace", schedule="* * * * *", concurrencyPolicy="replace")
    allow = await env.create(name="allow", schedule="* * * * *", concurrencyPolicy="allow")
    await env.scheduler.start()
    await env.at("2026-01-05T09:00:00Z")
    await env.at("2026-01-05T09:00:59.600Z")
    await env.at("2026-01-05T09:01:00Z")
    runs = await env.runs(forbid["id"])
    assert scheduled(runs) == [
        ("2026-01-05T09:00:00.000Z", "queued"),
        ("2026-01-05T09:01:00.000Z", "skipped"),
    ]
    assert runs[1]["output"] == OVERLAP
    assert scheduled(await env.runs(replace["id"])) == [
        ("2026-01-05T09:00:00.000Z", "cancelled"),
        ("2026-01-05T09:01:00.000Z", "queued"),
    ]
    assert env.runner.cancelled == [replace["id"]]
    assert [r["status"] for r in await env.runs(allow["id"])] == ["queued", "queued"]
    assert len(env.runner.enqueued) == 5
    stats = await env.service.agent_stats(forbid["id"], "7d")
    assert stats["skippedRuns"] == 1


async def test_stopping_before_the_instant_frees_the_early_claims(env: Env):
    claiming_ahead(env)
    agent = await env.create(schedule="* * * * *")
    await env.scheduler.start()
    await env.at("2026-01-05T08:59:59.600Z")
    assert len(await env.runs(agent["id"])) == 1
    await env.scheduler.stop()
    assert await env.runs(agent["id"]) == []
    env.clock.set(ms("2026-01-05T09:00:10Z"))
    await env.restart()
    await env.scheduler.start()  # the 09:00 slot was missed: caught up once
    await env.at("2026-01-05T09:00:11Z")
    assert scheduled(await env.runs(agent["id"])) == [("2026-01-05T09:00:00.000Z", "success")]


async def test_two_schedulers_claiming_ahead_fire_each_slot_once(env: Env, db_target: Path | str):
    claiming_ahead(env)
    agents = [await env.create(name=f"a{i}", schedule="* * * * *") for i in range(5)]
    await env.scheduler.start()
    clock_b = FakeClock(env.clock.now_ms())
    async with open_storage(db_target) as store_b:
        service_b = AgentService(
            store_b, EventBus(), stats_zone="UTC", default_timezone="UTC", clock=clock_b.now_ms
        )
        runner_b = RecordingRunner(store_b, service_b, clock_b)
        scheduler_b = Scheduler(
            service_b,
            runner_b,
            store_b,
            service_b.bus,
            clock=clock_b,
            claim_ahead_min=1,
            claim_ahead_ms=CLAIM_AHEAD_MS,
        )
        await scheduler_b.start()
        try:
            for minute in range(4):
                for offset in (-400, 0):  # both claim ahead, then both reach the instant
                    when = ms("2026-01-05T09:00:00Z") + minute * 60_000 + offset
                    env.clock.set(when)
                    clock_b.set(when)
                    await asyncio.wait_for(asyncio.gather(env.scheduler.settled(), scheduler_b.settled()), 30)
        finally:
            await scheduler_b.stop()
    enqueued = [run for _, run, _ in env.runner.enqueued + runner_b.enqueued]
    assert len(enqueued) == len(set(enqueued)) == 20
    for agent in agents:
        runs = await env.runs(agent["id"])
        assert len({r["scheduledFor"] for r in runs}) == len(runs) == 4
        assert {r["status"] for r in runs} == {"success"}


# --------------------------------------------------------------------------- real time


@pytest.mark.slow
async def test_real_clock_fires_within_a_second_of_the_minute(db_target: Path | str):
    """A correctness check on the real clock, started 2 s before a minute boundary."""
    now = time.time_ns() // 1_000_000
    boundary = (now // 60_000 + 1) * 60_000
    clock = SystemClock(offset_ms=boundary - 2_000 - now)
    async with open_storage(db_target) as store:
        service = AgentService(
            store, EventBus(), stats_zone="UTC", default_timezone="UTC", clock=clock.now_ms
        )
        runner = RecordingRunner(store, service, clock)
        agent = await service.create_agent(agent_body(schedule="* * * * *"), None)
        scheduler = Scheduler(service, runner, store, service.bus, clock=clock)
        await scheduler.start()
        try:
            slot = (clock.now_ms() // 60_000 + 1) * 60_000
            while not runner.enqueued and clock.now_ms() < slot + 5_000:
                await asyncio.sleep(0.05)
        finally:
            await scheduler.stop()
        assert len(runner.enqueued) == 1
        _, run_id, at = runner.enqueued[0]
        assert 0 <= at - slot < 1000
        run = await service.get_run(agent["id"], run_id)
        assert run["scheduledFor"] == iso(slot)
        assert run["trigger"] == "schedule"


@settings(max_examples=60, deadline=None)
@given(
    expr=st.sampled_from(["* * * * *", "*/7 * * * *", "0 * * * *", "30 1 * * *", "*/15 1-3 * * *"]),
    zone=st.sampled_from(["UTC", NY, LH]),
    starts=st.lists(st.integers(0, 3 * 86_400_000), min_size=1, max_size=6),
    span=st.integers(0, 3 * 86_400_000),
    limit=st.sampled_from([3, 50, 100_000]),
)
def test_missed_counts_match_a_plain_enumeration(expr, zone, starts, span, limit):
    """The shared per-group count equals counting each agent's own slots."""
    base = ms("2026-10-31T12:00:00Z")  # covers the New York fall-back night
    end = base + span
    counts = missed_counts(expr, zone, [base + s for s in starts], end, limit)
    for s in starts:
        count, _ = slots_between(expr, zone, to_datetime(base + s), to_datetime(end), limit=limit)
        assert counts[base + s] == count


def test_fake_clock_never_goes_backwards():
    clock = FakeClock(1000)
    clock.advance(500)
    assert clock.now_ms() == 1500
    with pytest.raises(ValueError):
        clock.set(10)
