"""Retries, streaks, pauses, spend windows and missed slots, on a real database with an injected clock.

The rules are decided by :class:`app.settle.Settler` and :class:`app.spend.SpendGate` and
recorded by storage; here time is a :class:`FakeClock`, so windows roll over and backoffs
are measured without waiting. The end-to-end versions (real CLI runs, a real receiver)
are in ``test_alerts.py``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from app.model import agent_from_row
from app.scheduler import Scheduler
from app.server import Server, ServerConfig, running
from app.settle import backoff_ms
from app.spend import usage_limit_reset
from storage.interface import RunOutcome
from tests.conftest import agent_body
from tests.fake_clock import FakeClock

DAY = 86_400_000
T0 = int(datetime(2026, 3, 30, 22, 0, tzinfo=UTC).timestamp() * 1000)  # a Monday, 22:00 UTC


@dataclass
class Env:
    server: Server
    clock: FakeClock

    @property
    def store(self) -> Any:
        return self.server.store

    async def agent(self, **fields: Any) -> dict[str, Any]:
        return await self.server.service.create_agent(agent_body(**fields), None)

    async def channel(self) -> str:
        created = await self.server.channels.create_channel(
            {"name": "Hook", "type": "webhook", "url": "http://127.0.0.1:9/hook"}
        )
        return str(created["id"])

    async def finished_run(self, agent_id: str, status: str, cost: float = 0.0, **run: Any) -> str:
        """A run of the agent that just ended ``status`` (as the runner records it)."""
        run_id = f"run_{len(await self.store.runs.history(agent_id, 1000, None)) + 1:03d}_{agent_id[-4:]}"
        await self.store.runs.insert(
            run_id, agent_id, "running", self.clock.now_ms(), owner=self.server.server_id
        )
        if run:
            cols = ", ".join(f"{k} = ?" for k in run)
            await self.server.db.transaction(
                lambda conn: conn.execute(f"UPDATE runs SET {cols} WHERE id = ?", [*run.values(), run_id])
            )
        outcome = RunOutcome(status, f"it ended {status}", self.clock.now_ms() + 1000, cost_usd=cost)
        await self.store.runs.finish(run_id, outcome, self.server.service.day_of)
        return run_id

    async def events(self) -> list[str]:
        rows = await self.server.db.fetchall("SELECT event FROM deliveries ORDER BY created_at, rowid")
        return [r[0] for r in rows]


@pytest.fixture
async def env(server_config: ServerConfig) -> AsyncIterator[Env]:
    clock = FakeClock(T0)
    server_config.clock = clock
    async with running(server_config) as server:
        yield Env(server, clock)


def test_backoff_doubles_with_jitter_up_to_its_maximum():
    from app.model import Agent

    agent = Agent.model_construct(
        retry=Agent.model_fields["retry"].annotation.model_validate(  # type: ignore[union-attr]
            {"attempts": 5, "backoffSeconds": 60, "maxBackoffSeconds": 300}
        )
    )
    assert [backoff_ms(agent, n, 0.5) for n in (1, 2, 3, 4)] == [60_000, 120_000, 240_000, 300_000]
    assert backoff_ms(agent, 1, 0.0) == 54_000 and backoff_ms(agent, 1, 0.999999) == 65_999
    assert backoff_ms(agent, 4, 0.999999) == 300_000  # jitter never passes the maximum


async def test_an_error_with_attempts_left_queues_a_retry_and_alerts_nothing(env: Env):
    channel = await env.channel()
    agent = await env.agent(retry={"attempts": 1, "backoffSeconds": 30}, notify={"channels": [channel]})
    first = await env.finished_run(agent["id"], "error", input="the alert")
    settled = await env.server.settler.settle(first)
    assert settled is not None and settled.retry is not None
    retry = settled.retry
    assert (retry.attempt, retry.retry_of) == (2, first)
    assert 27_000 <= retry.not_before - T0 <= 33_000
    row = await env.store.runs.get(retry.run_id)
    assert (row["status"], row["trigger"], row["attempt"], row["retry_of"]) == ("queued", "retry", 2, first)
    assert row["input"] == "the alert"  # a retry is given what its run was given
    assert await env.events() == []
    # The retry counts as the slot's run: a scheduled fire of a forbid agent skips.
    assert agent["id"] in await env.store.slots.busy_agent_ids()
    # Settling twice does nothing the second time.
    assert await env.server.settler.settle(first) is None
    # The last attempt fails: now it is one failure, alerted once.
    await env.server.runner.cancel_agent_runs(agent["id"])
    second = await env.finished_run(agent["id"], "error", attempt=2, retry_of=first)
    settled = await env.server.settler.settle(second)
    assert settled is not None and settled.retry is None and settled.streak == 1
    assert await env.events() == ["run.failed"]


async def test_budget_exceeded_and_cancelled_runs_are_never_retried(env: Env):
    agent = await env.agent(retry={"attempts": 3})
    for status, streak in (("budget_exceeded", 1), ("cancelled", 1), ("success", 0)):
        run_id = await env.finished_run(agent["id"], status)
        settled = await env.server.settler.settle(run_id)
        if status == "cancelled":
            assert settled is None  # nothing follows a cancel
        else:
            assert settled is not None and settled.retry is None and settled.streak == streak


async def test_streaks_pause_and_recover(env: Env):
    channel = await env.channel()
    agent = await env.agent(
        pauseAfterFailures=3, notify={"channels": [channel], "on": ["failure", "recovery", "paused"]}
    )
    for _ in range(2):
        await env.server.settler.settle(await env.finished_run(agent["id"], "error"))
    assert await env.events() == ["run.failed"]  # onlyOnChange: the first of the streak
    await env.server.settler.settle(await env.finished_run(agent["id"], "success"))
    assert await env.events() == ["run.failed", "run.recovered"]
    for _ in range(3):
        await env.server.settler.settle(await env.finished_run(agent["id"], "error"))
    assert await env.events() == ["run.failed", "run.recovered", "run.failed", "agent.paused"]
    row = await env.store.agents.get(agent["id"])
    assert row["enabled"] == 0 and row["paused_reason"] == "paused after 3 consecutive failures"
    assert row["next_run_at"] is None and row["failure_streak"] == 3
    # The pause reaches this server's scheduler listeners and event stream like an edit.
    changes = await env.store.changes.after(0)
    assert any(c["kind"] == "agent.updated" and c["origin"] is None for c in changes)
    updated = await env.server.service.update_agent(agent["id"], {"enabled": True})
    assert updated["pausedReason"] is None
    assert (await env.store.agents.get(agent["id"]))["failure_streak"] == 0


async def test_settling_decides_again_when_the_streak_moved(env: Env):
    agent = await env.agent()
    run_id = await env.finished_run(agent["id"], "error")
    run, row = await env.store.runs.get(run_id), await env.store.agents.get(agent["id"])
    stale = await env.server.settler.decide(run, row)
    await env.server.db.transaction(lambda conn: conn.execute("UPDATE agents SET failure_streak = 5"))
    assert await env.store.runs.settle(stale, env.server.service.day_of) == "conflict"
    settled = await env.server.settler.settle(run_id)
    assert settled is not None and settled.expected_streak == 5 and settled.streak == 6


async def test_spend_windows_follow_the_calendar(env: Env):
    agent = await env.agent(dailyBudgetUsd=1.0, monthlyBudgetUsd=1.5)
    typed = agent_from_row(await env.store.agents.get(agent["id"]))
    gate = env.server.gate
    assert (await gate.verdict(typed)).max_budget_usd == 1.0
    await env.finished_run(agent["id"], "success", cost=0.4)
    verdict = await gate.verdict(typed)
    assert verdict.refusal is None and verdict.max_budget_usd == pytest.approx(0.6)
    await env.finished_run(agent["id"], "success", cost=0.7)
    verdict = await gate.verdict(typed)
    assert verdict.refusal == "budget: daily cap $1.00 reached, $1.10 spent today"
    assert verdict.window is not None and verdict.window.key == "2026-03-30"
    env.clock.advance(3 * 3_600_000)  # 01:00 on the 31st: a new day, the same month
    verdict = await gate.verdict(typed)
    assert verdict.refusal is None and verdict.max_budget_usd == pytest.approx(0.4)  # what the month has left
    await env.finished_run(agent["id"], "success", cost=0.5)
    verdict = await gate.verdict(typed)
    assert verdict.refusal == "budget: monthly cap $1.50 reached, $1.60 spent this month"
    assert verdict.window is not None and verdict.window.key == "2026-03"
    env.clock.advance(DAY)  # April 1st: the month starts again
    assert (await gate.verdict(typed)).max_budget_usd == pytest.approx(1.0)


async def test_global_caps_and_the_agent_s_own_limit_take_the_smallest(env: Env):
    agent = await env.agent(maxBudgetUsd=0.3)
    await env.server.channels.update_settings({"dailyBudgetUsd": 2.0, "monthlyBudgetUsd": 0.5})
    typed = agent_from_row(await env.store.agents.get(agent["id"]))
    assert (await env.server.gate.verdict(typed)).max_budget_usd == pytest.approx(0.3)
    other = await env.agent()
    await env.finished_run(other["id"], "success", cost=0.45)
    assert (await env.server.gate.verdict(typed)).max_budget_usd == pytest.approx(0.05)
    await env.finished_run(other["id"], "success", cost=0.1)
    verdict = await env.server.gate.verdict(typed)
    assert verdict.refusal == "budget: global monthly cap $0.50 reached, $0.55 spent this month"


async def test_budget_thresholds_are_sent_once_per_window(env: Env):
    channel = await env.channel()
    agent = await env.agent(dailyBudgetUsd=1.0, notify={"channels": [channel]})
    await env.server.settler.settle(await env.finished_run(agent["id"], "success", cost=0.5))
    assert await env.events() == []
    await env.server.settler.settle(await env.finished_run(agent["id"], "success", cost=0.35))
    await env.server.settler.settle(await env.finished_run(agent["id"], "success", cost=0.05))
    assert await env.events() == ["budget.threshold"]
    payload = json.loads((await env.server.db.fetchone("SELECT payload FROM deliveries"))[0])
    assert payload["budget"] == {
        "scope": "agent",
        "window": "daily",
        "period": "2026-03-30",
        "capUsd": 1.0,
        "spentUsd": 0.85,
    }
    env.clock.advance(DAY)
    await env.server.settler.settle(await env.finished_run(agent["id"], "success", cost=0.9))
    assert await env.events() == ["budget.threshold", "budget.threshold"]  # the next day's window


async def test_missed_slots_raise_one_alarm_per_streak(env: Env):
    channel = await env.channel()
    agent = await env.agent(
        schedule="*/10 * * * *", startingDeadlineSeconds=None, notify={"channels": [channel]}
    )
    server = env.server

    async def restart_scheduler_at(ms: int) -> None:
        env.clock.set(ms)
        scheduler = Scheduler(
            server.service,
            server.runner,
            server.store,
            server.bus,
            clock=env.clock,
            missed=server.alerts.missed_slots,
        )
        await scheduler.start()
        await asyncio.wait_for(scheduler.settled(), 10)
        await scheduler.stop()

    await restart_scheduler_at(T0 + 35 * 60_000)  # down for 35 minutes: slots 22:10, 22:20, 22:30 missed
    assert await env.events() == ["agent.missed"]
    payload = json.loads((await server.db.fetchone("SELECT payload FROM deliveries"))[0])
    assert payload["missed"]["slots"] == ["2026-03-30T22:30:00.000Z"]
    assert payload["missed"]["reason"] == "missed while the server was down: 3 slots"
    await restart_scheduler_at(T0 + 65 * 60_000)  # still missing: the same streak, no second alarm
    assert await env.events() == ["agent.missed"]
    skipped = [r for r in await server.store.runs.history(agent["id"], 10, None) if r["status"] == "skipped"]
    assert len(skipped) == 2
    # A scheduled run starts: the streak is over; the next miss alarms again.
    run_id = "run_s"
    await server.db.transaction(
        lambda conn: conn.execute(
            "INSERT INTO runs (id, agent_id, status, trigger, scheduled_for, started_at, owner)"
            " VALUES (?, ?, 'queued', 'schedule', ?, ?, ?)",
            (run_id, agent["id"], T0 + 70 * 60_000, T0 + 70 * 60_000, server.server_id),
        )
    )
    assert await server.store.runs.mark_running(run_id, agent["id"], T0 + 70 * 60_000)
    await server.store.runs.finish(
        run_id, RunOutcome("success", "ok", T0 + 71 * 60_000), server.service.day_of
    )
    await restart_scheduler_at(T0 + 105 * 60_000)
    assert await env.events() == ["agent.missed", "agent.missed"]


async def test_a_scheduled_run_starved_of_a_run_slot_is_skipped_as_missed(env: Env):
    channel = await env.channel()
    agent = await env.agent(schedule="@hourly", startingDeadlineSeconds=600, notify={"channels": [channel]})
    slot = env.clock.now_ms() - 3_600_000  # waited an hour for a free run slot, over its 10-minute window
    claimed = await env.store.slots.claim(
        env.store.slots.encode([("run_late", agent["id"], slot, "queued")]), slot, env.server.server_id
    )
    assert claimed == {"run_late"}
    await env.server.runner.enqueue_claimed(agent["id"], "run_late")
    for _ in range(100):
        row = await env.store.runs.get("run_late")
        if row["status"] != "queued":
            break
        await asyncio.sleep(0.05)
    assert row["status"] == "skipped"
    assert row["output"].startswith(
        "missed: waited 3600 s for a free run slot (more than the catch-up window"
    )
    assert await env.events() == ["agent.missed"]


def test_usage_limit_messages_are_understood():
    now = int(datetime(2026, 3, 30, 12, 0, tzinfo=UTC).timestamp() * 1000)
    hour = 3_600_000
    assert (
        usage_limit_reset("API Error: Claude AI usage limit reached|1774872000", now, "UTC") == 1774872000_000
    )
    assert usage_limit_reset("You've hit your session limit · resets 3pm (UTC)", now, "UTC") == now + 3 * hour
    assert usage_limit_reset("5-hour limit reached ∙ resets 11am", now, "UTC") == now + 23 * hour
    berlin = usage_limit_reset("You've hit your limit · resets 3pm (Europe/Berlin)", now, "UTC")
    assert berlin == now + 1 * hour  # 15:00 CEST is 13:00 UTC
    assert usage_limit_reset("Usage limit reached", now, "UTC") == now + 5 * hour
    for not_a_limit in ("Reached maximum number of turns (1)", "API Error: 500", "", None, "rate limit"):
        assert usage_limit_reset(not_a_limit, now, "UTC") is None


async def test_a_scheduled_fire_over_a_cap_is_skipped_with_the_cap_named(env: Env):
    agent = await env.agent(schedule="@hourly", dailyBudgetUsd=0.5)
    await env.finished_run(agent["id"], "success", cost=0.6)
    now = int(time.time() * 1000)
    claim = env.store.slots.encode([("run_capped", agent["id"], now, "queued")])
    assert await env.store.slots.claim(claim, now, env.server.server_id) == {"run_capped"}
    await env.server.runner.enqueue_claimed(agent["id"], "run_capped")
    for _ in range(100):
        row = await env.store.runs.get("run_capped")
        if row["status"] != "queued":
            break
        await asyncio.sleep(0.05)
    assert row["status"] == "skipped"
    assert row["output"] == "budget: daily cap $0.50 reached, $0.60 spent today"
    fresh = await env.store.agents.get(agent["id"])
    assert fresh["last_status"] == "success"  # a skipped slot is not the agent's last run


async def test_a_waiting_retry_is_taken_over_by_the_next_server(server_config: ServerConfig):
    clock = FakeClock(T0)
    server_config.clock = clock
    async with running(server_config) as first:
        agent = await first.service.create_agent(
            agent_body(retry={"attempts": 1, "backoffSeconds": 600}), None
        )
        env = Env(first, clock)
        failed = await env.finished_run(agent["id"], "error")
        await first.runner.settle_pending()
        [retry] = [r for r in await first.store.runs.active(agent["id"])]
        assert retry["trigger"] == "retry" and retry["owner"] == first.server_id
    # The first server stopped while its retry waited: the retry is still queued, not interrupted.
    async with running(server_config) as second:
        row = await second.store.runs.get(retry["id"])
        assert row["status"] == "queued" and row["owner"] == second.server_id
        assert retry["id"] in second.runner._runs  # waiting for its time in this server's runner
        assert row["retry_of"] == failed and row["not_before"] == retry["not_before"]
        await second.runner.cancel_agent_runs(agent["id"])
