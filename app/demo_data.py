"""The demo's data: agents with a month of history, a transcript, channels, alerts, a retry, a pause.

Agents, channels and settings are created through the service; run history, run
events, alerts and a pause are written straight into storage, since real history
can only come from real runs over time. Used by ``make screenshots``
(:mod:`app.tui_demo`) and by the tests that seed a real server like the fake client.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from app import auth
from app.server import Server
from app.timeutil import from_datetime
from storage import runs as run_store
from storage.interface import Alert, DeliveryResult, NewDelivery

DEMO_AGENTS: tuple[dict[str, Any], ...] = (
    {
        "name": "Daily digest",
        "schedule": "0 9 * * 1-5",
        "timezone": "Europe/Berlin",
        "description": "Summarizes yesterday's commits and open issues",
        "maxBudgetUsd": 0.5,
        "prompt": "Summarize the last day of commits in this repository.",
    },
    {
        "name": "Dependency audit",
        "schedule": "30 6 * * 1",
        "timezone": "UTC",
        "description": "Checks for outdated and vulnerable packages",
        "prompt": "List outdated dependencies and known advisories.",
        "allowedTools": ["Read", "Grep"],
    },
    {
        "name": "Flaky test hunter",
        "schedule": "0 */4 * * *",
        "timezone": "UTC",
        "description": "Re-runs the slowest tests and reports flakes",
        "prompt": "Find flaky tests in the last CI runs.",
        "maxTurns": 30,
    },
    {
        "name": "Inbox triage",
        "schedule": "*/30 8-18 * * 1-5",
        "timezone": "America/New_York",
        "description": "Labels new issues",
        "prompt": "Label and route new issues.",
    },
    {
        "name": "Release notes",
        "schedule": "0 17 * * 5",
        "timezone": "Europe/London",
        "description": "Drafts the weekly release notes",
        "prompt": "Draft release notes for this week.",
    },
    {
        "name": "Docs link checker",
        "schedule": "@daily",
        "timezone": "UTC",
        "enabled": False,
        "description": "Finds broken links in the docs",
        "prompt": "Check every link under docs/.",
    },
)

TRANSCRIPT: tuple[dict[str, Any], ...] = (
    {"type": "system", "subtype": "init", "model": "claude-sonnet-4-5", "tools": ["Read", "Grep", "Bash"]},
    {"type": "assistant_text", "text": "I'll look at yesterday's commits first."},
    {
        "type": "tool_use",
        "id": "tu_1",
        "name": "Bash",
        "input": {"command": "git log --since=yesterday --oneline"},
    },
    {
        "type": "tool_result",
        "toolUseId": "tu_1",
        "content": (
            "3f2a1c9 scheduler: one heap, one sleep\n9b8e7d1 api: stats rollups\n0c4d2e5 tui: live log"
        ),
        "isError": False,
    },
    {"type": "thinking", "text": "Three commits; the scheduler change is the important one."},
    {"type": "tool_use", "id": "tu_2", "name": "Grep", "input": {"pattern": "TODO", "path": "app/"}},
    {
        "type": "tool_result",
        "toolUseId": "tu_2",
        "content": "app/runner.py:88: # TODO: retry budget",
        "isError": False,
    },
    {
        "type": "assistant_text",
        "text": "Summary: 3 commits landed — the scheduler now sleeps until the "
        "earliest fire, stats come from daily rollups, and the dashboard streams run logs live. "
        "One TODO remains in app/runner.py.",
    },
    {
        "type": "result",
        "subtype": "success",
        "isError": False,
        "costUsd": 0.0412,
        "numTurns": 3,
        "durationMs": 18450,
        "usage": {"input_tokens": 5120, "output_tokens": 1380},
    },
)

STATUS_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("success", 86),
    ("error", 7),
    ("budget_exceeded", 3),
    ("cancelled", 2),
    ("skipped", 2),
)


async def add_run(
    server: Server,
    agent_id: str,
    status: str,
    started: datetime,
    *,
    cost: float | None = None,
    seconds: float = 30.0,
    output: str | None = None,
    events: Sequence[dict[str, Any]] = (),
    trigger: str = "schedule",
    run_id: str | None = None,
    retry_of: tuple[str, int] | None = None,
    input: str | None = None,
    parent_run_id: str | None = None,
) -> str:
    """A finished (or, with status running/queued, unfinished) run, straight into storage.

    ``retry_of``: (the first run's id, this attempt's number) for a retry (trigger "retry");
    ``input``: what the run was given; ``parent_run_id``: the run that chained to it (trigger "chain").
    """
    run_id = run_id or auth.new_id("run")
    started_ms = from_datetime(started)
    active = status in ("running", "queued")
    await run_store.insert_run(
        server.db,
        run_id,
        agent_id,
        "running" if not active else status,
        started_ms,
        trigger=trigger,
        scheduled_for=started_ms if trigger == "schedule" else None,
        input=input,
    )
    if parent_run_id is not None:
        await server.db.transaction(
            lambda conn: conn.execute(
                "UPDATE runs SET parent_run_id = ? WHERE id = ?", (parent_run_id, run_id)
            )
        )
    if retry_of is not None:
        first, attempt = retry_of
        await server.db.transaction(
            lambda conn: conn.execute(
                "UPDATE runs SET attempt = ?, retry_of = ? WHERE id = ?", (attempt, first, run_id)
            )
        )
    if events:
        rows = [(i + 1, started_ms + i * 1500, str(e["type"]), _event_data(e)) for i, e in enumerate(events)]
        await run_store.add_events(server.db, run_id, rows)
    if not active:
        outcome = run_store.RunOutcome(
            status=status,
            output=output if output is not None else _output_for(status),
            completed_at=started_ms + int(seconds * 1000),
            cost_usd=cost,
            input_tokens=None if cost is None else int(cost * 120_000),
            output_tokens=None if cost is None else int(cost * 30_000),
            num_turns=None if cost is None else max(1, int(cost * 100) % 9),
        )
        await run_store.finish_run(server.db, run_id, outcome, server.service.day_of)
    else:
        await run_store.mark_running(server.db, run_id, agent_id, started_ms)
    return run_id


async def add_deliveries(
    server: Server,
    agent_id: str,
    run_id: str,
    at: datetime,
    deliveries: Sequence[tuple[str, str, str, int, str | None]],
) -> list[str]:
    """A run's alerts, as sent (or given up on): (channel id, event, status, attempts, last error) each.

    Recorded with their outcome at once and never due, so no server tries to send them.
    """
    at_ms = from_datetime(at)
    new = [
        NewDelivery(auth.new_id("msg"), channel, event, "{}", agent_id=agent_id, run_id=run_id)
        for channel, event, _, _, _ in deliveries
    ]
    await server.store.deliveries.raise_alerts([Alert(new)], at_ms, due_at=at_ms + 365 * 86_400_000)
    results = [
        DeliveryResult(d.id, status, attempts, error, at_ms + 800)
        for d, (_, _, status, attempts, error) in zip(new, deliveries, strict=True)
    ]
    await server.store.deliveries.record(results)
    return [d.id for d in new]


async def pause_agent(server: Server, agent_id: str, reason: str) -> None:
    """The agent as the server leaves it after its failure streak reached ``pauseAfterFailures``."""
    await server.db.transaction(
        lambda conn: conn.execute(
            "UPDATE agents SET enabled = 0, paused_reason = ?, next_run_at = NULL WHERE id = ?",
            (reason, agent_id),
        )
    )


def _event_data(event: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in event.items() if k != "type"})


def _output_for(status: str) -> str:
    return {
        "success": "Done: summary written.",
        "error": "error: API overloaded (529) after 3 retries",
        "budget_exceeded": "stopped: cost passed maxBudgetUsd",
        "cancelled": "cancelled from the dashboard",
        "skipped": "skipped: previous run still running (overlap forbidden)",
    }.get(status, "")


async def seed_demo(server: Server, now: datetime, *, days: int = 30, seed: int = 7) -> list[dict[str, Any]]:
    """The demo agents with ``days`` of history ending at ``now``; returns the agents' JSON."""
    rng = random.Random(seed)
    user, _ = await auth.create_token(server.store, "demo")
    agents = [await server.service.create_agent(dict(body), user) for body in DEMO_AGENTS]
    statuses, weights = zip(*STATUS_WEIGHTS, strict=True)
    for index, agent in enumerate(agents[:5]):
        per_day = (1, 1, 6, 8, 1)[index] if index < 5 else 1
        for day in range(days, 0, -1):
            for n in range(per_day if rng.random() > 0.15 else 0):
                started = now - timedelta(days=day - 1, hours=rng.randint(0, 10), minutes=n * 7 + index)
                if started >= now:
                    continue
                status = rng.choices(statuses, weights)[0]
                cost = None if status == "skipped" else round(rng.uniform(0.01, 0.09) * (1 + index % 3), 4)
                await add_run(server, agent["id"], status, started, cost=cost, seconds=rng.uniform(8, 95))
    await seed_unattended(server, agents, now)
    # The digest's latest run carries a whole transcript.
    await add_run(
        server,
        agents[0]["id"],
        "success",
        now - timedelta(minutes=42),
        cost=0.0412,
        seconds=18.45,
        output=TRANSCRIPT[-2]["text"],
        events=TRANSCRIPT,
        trigger="manual",
    )
    return [await server.service.get_agent(a["id"]) for a in agents]


DEMO_CHANNELS: tuple[dict[str, Any], ...] = (
    {"name": "On-call webhook", "type": "webhook", "url": "https://hooks.example.com/cronagents"},
    {"name": "Team Slack", "type": "slack", "url": "https://hooks.slack.com/services/T0000/B0000/XXXX"},
    {"name": "Ops mail", "type": "email", "to": ["ops@example.com", "oncall@example.com"], "enabled": False},
)


async def seed_unattended(server: Server, agents: list[dict[str, Any]], now: datetime) -> None:
    """Channels, caps, the digest's alerts and retry, and the flaky agent paused after three failures."""
    webhook, slack, _ = [await server.channels.create_channel(dict(body)) for body in DEMO_CHANNELS]
    await server.channels.update_settings(
        {"dailyBudgetUsd": 5, "monthlyBudgetUsd": 100, "notifyChannels": [webhook["id"]]}
    )
    digest, flaky = agents[0]["id"], agents[2]["id"]
    await server.service.update_agent(
        digest,
        {
            "notify": {
                "channels": [webhook["id"], slack["id"]],
                "on": ["failure", "recovery", "budget", "paused"],
            },
            "retry": {"attempts": 2, "backoffSeconds": 300},
            "pauseAfterFailures": 3,
            "dailyBudgetUsd": 0.25,
            "monthlyBudgetUsd": 8,
        },
    )
    failed_at = now - timedelta(hours=3)
    failed = await add_run(server, digest, "error", failed_at, cost=0.0214, seconds=41)
    await add_deliveries(
        server,
        digest,
        failed,
        failed_at + timedelta(seconds=42),
        [
            (webhook["id"], "run.failed", "sent", 1, None),
            (slack["id"], "run.failed", "failed", 5, "HTTP 404 from hooks.slack.com: no_service"),
        ],
    )
    retry_at = failed_at + timedelta(minutes=5)
    retry = await add_run(
        server, digest, "success", retry_at, cost=0.0388, seconds=36, trigger="retry", retry_of=(failed, 2)
    )
    await add_deliveries(
        server,
        digest,
        retry,
        retry_at + timedelta(seconds=37),
        [(webhook["id"], "run.recovered", "sent", 1, None)],
    )
    await server.service.update_agent(flaky, {"pauseAfterFailures": 3})
    for hours in (9, 5, 1):
        await add_run(server, flaky, "error", now - timedelta(hours=hours), cost=0.052, seconds=64)
    await pause_agent(server, flaky, "paused after 3 consecutive failures")


ALERT = '{\n  "alert": "disk full",\n  "host": "db1",\n  "severity": 2\n}'
TRIAGED = "db1: /var was 97% full (old logs); cleared 12 GB, now 61%. No data lost."


async def seed_triggers(server: Server, now: datetime) -> dict[str, str]:
    """A webhook-triggered triage agent chaining to an incident log, and a one-shot; their names → ids.

    "Alert triage" has a trigger secret, a pager MCP server and its token as a secret; its
    success starts "Incident notes" (runs: chained, by webhook, scheduled, by hand with input);
    "Quarterly report" runs once, in three days.
    """
    user, _ = await auth.create_token(server.store, "triggers demo")
    create = server.service.create_agent
    notes = await create(
        {
            "name": "Incident notes",
            "schedule": "0 18 * * 1-5",
            "timezone": "UTC",
            "description": "Keeps the incident log",
            "prompt": "Yesterday you wrote:\n{{lastOutput}}\nAdd to the incident log: {{input}}",
        },
        user,
    )
    triage = await create(
        {
            "name": "Alert triage",
            "schedule": "0 8 * * 1-5",
            "timezone": "UTC",
            "enabled": False,
            "description": "Triages monitoring alerts (webhook)",
            "prompt": "Triage this alert and fix what is safe to fix: {{input}}",
            "onSuccess": [notes["id"]],
            "allowedTools": ["Read", "Grep", "mcp__pager"],
            "mcpServers": {
                "pager": {
                    "type": "http",
                    "url": "https://mcp.pager.example/mcp",
                    "headers": {"Authorization": "Bearer ${PAGER_TOKEN}"},
                }
            },
            "env": {"PAGER_TOKEN": "demo-not-a-real-token"},
        },
        user,
    )
    await server.hooks.set_secret(triage["id"], {})
    once = (now + timedelta(days=3)).replace(hour=15, minute=0)
    report = await create(
        {
            "name": "Quarterly report",
            "runAt": once.isoformat(),
            "timezone": "Europe/Berlin",
            "description": "Drafts the quarterly report, once",
            "prompt": "Draft the quarterly report from the incident log.",
        },
        user,
    )
    # Oldest first: an agent's last run is the last one added.
    yesterday = (now - timedelta(days=1)).replace(minute=0)
    await add_run(
        server,
        notes["id"],
        "success",
        yesterday.replace(hour=16),
        cost=0.0143,
        seconds=25,
        trigger="manual",
        input="Summarize the db1 outage for the postmortem",
        output="Postmortem summary drafted.",
    )
    await add_run(server, notes["id"], "success", yesterday.replace(hour=18), cost=0.0098, seconds=17)
    await add_run(
        server,
        notes["id"],
        "error",
        now - timedelta(hours=1, minutes=45),
        cost=0.004,
        seconds=9,
        trigger="webhook",
        input=ALERT,
        output="error: the pager answered 503",
    )
    hooked = await add_run(
        server,
        triage["id"],
        "success",
        now - timedelta(minutes=20),
        cost=0.0311,
        seconds=52,
        trigger="webhook",
        input=ALERT,
        output=TRIAGED,
    )
    await add_run(
        server,
        notes["id"],
        "success",
        now - timedelta(minutes=19),
        cost=0.0122,
        seconds=21,
        trigger="chain",
        input=TRIAGED,
        parent_run_id=hooked,
        output="Logged: db1 disk full, resolved.",
    )
    return {"Alert triage": triage["id"], "Incident notes": notes["id"], "Quarterly report": report["id"]}
