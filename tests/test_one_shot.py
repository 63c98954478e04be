"""One-shot agents (``runAt`` instead of ``schedule``): the rules, the fire, catch-up, exactly once.

The real scheduler and AgentService on a real database (SQLite and PostgreSQL), time from a
FakeClock (as in tests/test_scheduler.py, whose fixtures these tests share).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.errors import ValidationError
from app.events import EventBus
from app.scheduler import Scheduler
from app.service import AgentService
from storage.backend import open_storage
from tests.fake_clock import FakeClock
from tests.test_scheduler import Env, RecordingRunner, ms, scheduled
from tests.test_scheduler import env as env  # the fixture

pytestmark = pytest.mark.both_backends

T_RUN = "2026-01-05T10:30:00Z"
T_RUN_ISO = "2026-01-05T10:30:00.000Z"


async def one_shot(env: Env, run_at: str = T_RUN, **fields: object) -> dict[str, object]:
    return await env.create(schedule=None, runAt=run_at, **fields)


async def refusal(coro: object) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        await coro  # type: ignore[misc]
    assert caught.value.data is not None
    return caught.value.data


async def test_exactly_one_of_schedule_and_run_at_and_a_time_to_come(env: Env):
    neither = await refusal(env.create(schedule=None))
    assert neither == {"schedule": "is required (or runAt, for an agent that runs once)"}
    both = await refusal(env.create(runAt=T_RUN))
    assert list(both) == ["runAt"] and "not both" in both["runAt"]
    past = await refusal(one_shot(env, "2026-01-05T08:00:00Z"))
    assert past == {"runAt": "is in the past (2026-01-05T08:00:00.000Z): give a time to come"}
    naive = await refusal(one_shot(env, "2026-01-05T10:30:00"))
    assert "offset" in naive["runAt"]
    assert "ISO time" in (await refusal(one_shot(env, "tomorrow")))["runAt"]
    assert "ISO time" in (await refusal(one_shot(env, 1_767_609_000_000)))["runAt"]  # type: ignore[arg-type]
    # Written with any offset, shown in UTC like every instant; a disabled one-shot may lie in the past.
    agent = await one_shot(env, "2026-01-05T11:30:00+01:00")
    assert (agent["schedule"], agent["runAt"], agent["nextRunAt"]) == (None, T_RUN_ISO, T_RUN_ISO)
    paused = await one_shot(env, "2026-01-01T00:00:00Z", enabled=False)
    assert paused["nextRunAt"] is None


async def test_an_update_switches_between_schedule_and_run_at(env: Env):
    agent = await env.create(schedule="0 * * * *")
    update = env.service.update_agent
    assert "not both" in (await refusal(update(agent["id"], {"runAt": T_RUN})))["runAt"]
    assert "schedule" in await refusal(update(agent["id"], {"schedule": None}))
    once = await update(agent["id"], {"schedule": None, "runAt": T_RUN})
    assert (once["schedule"], once["nextRunAt"]) == (None, T_RUN_ISO)
    back = await update(agent["id"], {"schedule": "@daily", "runAt": None})
    assert (back["runAt"], back["nextRunAt"]) == (None, "2026-01-06T00:00:00.000Z")


async def test_fires_once_at_its_time_then_disables_itself(env: Env):
    agent = await one_shot(env)
    cron = await env.create(name="hourly", schedule="0 * * * *")
    await env.scheduler.start()
    assert env.scheduler.next_fire_ms(agent["id"]) == ms(T_RUN)
    async with env.service.bus.subscribe() as sub:
        await env.at("2026-01-05T10:29:59.999Z")
        assert env.runner.runs_of(agent["id"]) == []
        await env.at(T_RUN)
        events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    runs = await env.runs(agent["id"])
    assert scheduled(runs) == [(T_RUN_ISO, "success")]
    assert runs[0]["trigger"] == "schedule"
    after = await env.service.get_agent(agent["id"])
    assert (after["enabled"], after["nextRunAt"], after["runAt"]) == (False, None, T_RUN_ISO)
    assert any(e["type"] == "agent.updated" and e["agent"]["enabled"] is False for e in events)
    await env.run_until("2026-01-07T00:00:00Z")
    assert len(await env.runs(agent["id"])) == 1
    assert len(await env.runs(cron["id"])) > 30  # the other agent kept its schedule
    # Enabled again, it needs a time to come; with one, it runs again.
    refused = await refusal(env.service.update_agent(agent["id"], {"enabled": True}))
    assert list(refused) == ["runAt"]
    again = await env.service.update_agent(agent["id"], {"enabled": True, "runAt": "2026-01-07T06:00:00Z"})
    assert again["nextRunAt"] == "2026-01-07T06:00:00.000Z"
    await env.at("2026-01-07T06:00:00Z")
    assert len(await env.runs(agent["id"])) == 2


async def test_a_one_shot_missed_while_down_is_caught_up_within_its_deadline(env: Env):
    soon = await one_shot(env, name="soon")
    late = await one_shot(env, name="late", startingDeadlineSeconds=600)
    await env.scheduler.start()
    await env.at("2026-01-05T10:00:00Z")
    await env.scheduler.stop()
    env.clock.set(ms("2026-01-05T10:50:00Z"))  # down over 10:30: 20 minutes late
    await env.restart()
    await env.scheduler.start()
    await env.at("2026-01-05T10:50:01Z")
    assert scheduled(await env.runs(soon["id"])) == [(T_RUN_ISO, "success")]
    [missed] = await env.runs(late["id"])
    assert (missed["status"], missed["output"]) == ("skipped", "missed while the server was down: 1 slot")
    for agent in (soon, late):
        after = await env.service.get_agent(agent["id"])
        assert (after["enabled"], after["nextRunAt"]) == (False, None)


async def test_a_late_wake_runs_the_one_shot_late_once(env: Env):
    agent = await one_shot(env)
    await env.scheduler.start()
    await env.at("2026-01-05T10:45:00Z")  # the loop woke 15 minutes late (a suspended laptop)
    assert scheduled(await env.runs(agent["id"])) == [(T_RUN_ISO, "success")]
    assert (await env.service.get_agent(agent["id"]))["enabled"] is False


async def test_two_schedulers_run_a_one_shot_once(env: Env, db_target: Path | str):
    agent = await one_shot(env, concurrencyPolicy="allow")
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
            for when in (T_RUN, "2026-01-05T10:31:00Z", "2026-01-06T10:30:00Z"):
                env.clock.set(ms(when))
                clock_b.set(ms(when))
                await asyncio.wait_for(asyncio.gather(env.scheduler.settled(), scheduler_b.settled()), 30)
        finally:
            await scheduler_b.stop()
    enqueued = env.runner.runs_of(agent["id"]) + runner_b.runs_of(agent["id"])
    assert len(enqueued) == 1
    assert scheduled(await env.runs(agent["id"])) == [(T_RUN_ISO, "success")]
