"""The fake client's canned data: agents, runs, a transcript, stats per day, channels, deliveries.

Fixed values and a frozen clock (2025-01-07 10:00 UTC), so that the snapshots do not
depend on the time of day or the machine. :mod:`tests.tui.fake_client` answers from them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2025, 1, 7, 10, 0, tzinfo=UTC)


def frozen_clock() -> datetime:
    return NOW


def _iso(moment: datetime) -> str:
    """The API's timestamps: UTC, milliseconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _plus(timestamp: str, ms: int) -> str:
    return _iso(datetime.fromisoformat(timestamp.replace("Z", "+00:00")) + timedelta(milliseconds=ms))


def _agent(i: int, name: str, schedule: str | None, **extra: Any) -> dict[str, Any]:
    agent = {
        "id": f"agt_{i:012d}",
        "name": name,
        "description": extra.pop("description", None),
        "schedule": schedule,
        "prompt": extra.pop("prompt", "Do the thing."),
        "enabled": True,
        "maxTurns": 50,
        "maxBudgetUsd": None,
        "timezone": "UTC",
        "model": None,
        "cwd": None,
        "allowedTools": ["Read", "Glob", "Grep"],
        "permissionMode": "dontAsk",
        "timeoutSeconds": 1800,
        "concurrencyPolicy": "forbid",
        "startingDeadlineSeconds": 3600,
        "loadProjectSettings": False,
        "notify": {
            "channels": [],
            "on": ["failure", "recovery", "budget", "missed", "paused"],
            "onlyOnChange": True,
        },
        "retry": {"attempts": 0, "backoffSeconds": 60, "maxBackoffSeconds": 3600},
        "pauseAfterFailures": None,
        "dailyBudgetUsd": None,
        "monthlyBudgetUsd": None,
        "runAt": None,
        "onSuccess": [],
        "onFailure": [],
        "mcpServers": {},
        "env": {},
        "triggerUrl": None,
        "pausedReason": None,
        "nextRunAt": None,
        "lastRunAt": None,
        "lastStatus": None,
        "creator": {"id": "usr_1", "name": "Tony"},
        "createdAt": "2025-01-01T00:00:00.000Z",
        "updatedAt": "2025-01-01T00:00:00.000Z",
    }
    agent.update(extra)
    return agent


AGENTS = [
    _agent(
        1,
        "Daily digest",
        "0 9 * * 1-5",
        description="Summarizes open tasks every morning",
        timezone="Europe/Berlin",
        maxBudgetUsd=0.5,
        notify={
            "channels": ["chn_000000000001", "chn_000000000002"],
            "on": ["failure", "recovery", "budget", "paused"],
            "onlyOnChange": True,
        },
        retry={"attempts": 2, "backoffSeconds": 300, "maxBackoffSeconds": 3600},
        pauseAfterFailures=3,
        dailyBudgetUsd=0.3,
        monthlyBudgetUsd=10.0,
        nextRunAt="2025-01-08T08:00:00.000Z",
        lastRunAt="2025-01-07T09:55:00.000Z",
        lastStatus="running",
    ),
    _agent(
        2,
        "Dependency audit",
        "30 6 * * 1",
        nextRunAt="2025-01-13T06:30:00.000Z",
        lastRunAt="2025-01-06T06:30:00.000Z",
        lastStatus="success",
    ),
    _agent(
        3,
        "Flaky test hunter",
        "0 */4 * * *",
        enabled=False,
        pauseAfterFailures=3,
        pausedReason="paused after 3 consecutive failures",
        lastRunAt="2025-01-07T08:00:00.000Z",
        lastStatus="error",
    ),
    _agent(
        4,
        "Release notes",
        "0 17 * * 5",
        nextRunAt="2025-01-10T17:00:00.000Z",
        lastRunAt="2025-01-03T17:00:00.000Z",
        lastStatus="budget_exceeded",
    ),
    _agent(5, "Docs link checker", "@daily", enabled=False),
]

TRANSCRIPT = [
    {
        "seq": 1,
        "at": "2025-01-07T09:55:00.000Z",
        "type": "system",
        "subtype": "init",
        "model": "claude-sonnet-4-5",
    },
    {
        "seq": 2,
        "at": "2025-01-07T09:55:01.000Z",
        "type": "assistant_text",
        "text": "I'll look at the open tasks first.",
    },
    {
        "seq": 3,
        "at": "2025-01-07T09:55:02.000Z",
        "type": "tool_use",
        "id": "tu_1",
        "name": "Grep",
        "input": {"pattern": "TODO", "path": "app/"},
    },
    {
        "seq": 4,
        "at": "2025-01-07T09:55:03.000Z",
        "type": "tool_result",
        "toolUseId": "tu_1",
        "content": "app/runner.py:88: # TODO: retry budget",
        "isError": False,
    },
    {
        "seq": 5,
        "at": "2025-01-07T09:55:04.000Z",
        "type": "tool_use",
        "id": "tu_2",
        "name": "Bash",
        "input": {"command": "git log --oneline -3"},
    },
    {
        "seq": 6,
        "at": "2025-01-07T09:55:05.000Z",
        "type": "tool_result",
        "toolUseId": "tu_2",
        "content": "permission denied: Bash is not in allowedTools",
        "isError": True,
    },
    {
        "seq": 7,
        "at": "2025-01-07T09:55:06.000Z",
        "type": "assistant_text",
        "text": "Summary: one TODO remains in app/runner.py; git history was not available.",
    },
]

STATUSES = ("success", "success", "error", "success", "budget_exceeded", "success", "skipped", "success")
RUNS = [
    {
        "id": "run_000000000009",
        "agentId": "agt_000000000001",
        "status": "running",
        "trigger": "manual",
        "scheduledFor": None,
        "output": None,
        "costUsd": None,
        "inputTokens": None,
        "outputTokens": None,
        "numTurns": None,
        "startedAt": "2025-01-07T09:55:00.000Z",
        "completedAt": None,
        "durationMs": None,
        "attempt": 1,
        "retryOf": None,
        "parentRunId": None,
        "input": None,
    },
] + [
    {
        "id": f"run_00000000000{i}",
        "agentId": "agt_000000000001",
        "status": STATUSES[i],
        "trigger": "schedule",
        "scheduledFor": f"2025-01-0{7 - i if i < 7 else 1}T08:00:00.000Z",
        "output": "Done: summary written." if i != 2 else "error: API overloaded",
        "costUsd": None if i == 6 else round(0.02 + 0.01 * i, 3),
        "inputTokens": 1500,
        "outputTokens": 800,
        "numTurns": 3 + i % 3,
        "startedAt": f"2025-01-0{7 - i if i < 7 else 1}T08:00:00.000Z",
        "completedAt": _plus(f"2025-01-0{7 - i if i < 7 else 1}T08:00:00.000Z", 30_000 + 7_000 * i),
        "durationMs": 30_000 + 7_000 * i,
        "attempt": 1,
        "retryOf": None,
        "parentRunId": None,
        "input": None,
    }
    for i in range(1, 8)
]
# Run 2 ended in error; its retry, five minutes later, succeeded.
RUNS.insert(
    2,
    {
        **RUNS[2],
        "id": "run_000000000010",
        "status": "success",
        "trigger": "retry",
        "scheduledFor": None,
        "output": "Done: summary written.",
        "costUsd": 0.035,
        "startedAt": "2025-01-05T08:05:00.000Z",
        "completedAt": "2025-01-05T08:05:40.000Z",
        "durationMs": 40_000,
        "attempt": 2,
        "retryOf": "run_000000000002",
    },
)

CHANNELS = [
    {
        "id": "chn_000000000001",
        "name": "On-call webhook",
        "type": "webhook",
        "enabled": True,
        "url": "https://hooks.example.com/cron",
        "to": None,
        "createdAt": "2025-01-02T09:00:00.000Z",
        "updatedAt": "2025-01-02T09:00:00.000Z",
    },
    {
        "id": "chn_000000000002",
        "name": "Team Slack",
        "type": "slack",
        "enabled": True,
        "url": "https://hooks.slack.com/services/…",
        "to": None,
        "createdAt": "2025-01-02T09:05:00.000Z",
        "updatedAt": "2025-01-02T09:05:00.000Z",
    },
    {
        "id": "chn_000000000003",
        "name": "Ops mail",
        "type": "email",
        "enabled": False,
        "url": None,
        "to": ["ops@example.com", "oncall@example.com"],
        "createdAt": "2025-01-03T09:00:00.000Z",
        "updatedAt": "2025-01-03T09:00:00.000Z",
    },
]
SETTINGS = {
    "dailyBudgetUsd": 20.0,
    "monthlyBudgetUsd": 400.0,
    "notifyChannels": ["chn_000000000001"],
    "maxConcurrentRuns": None,
}
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _delivery(n: int, channel: str, kind: str, status: str, at: str, **extra: Any) -> dict[str, Any]:
    delivery = {
        "id": f"msg_{n:012d}",
        "channelId": channel,
        "type": kind,
        "status": status,
        "attempts": 1,
        "lastError": None,
        "sentAt": _plus(at, 800) if status == "sent" else None,
        "nextAttemptAt": None,
        "createdAt": at,
    }
    delivery.update(extra)
    return delivery


# The alerts of the failed run 2 (the Slack one gave up) and of its retry, which recovered.
DELIVERIES: dict[str, list[dict[str, Any]]] = {
    "run_000000000002": [
        _delivery(1, "chn_000000000001", "run.failed", "sent", "2025-01-05T08:00:45.000Z"),
        _delivery(
            2,
            "chn_000000000002",
            "run.failed",
            "failed",
            "2025-01-05T08:00:45.000Z",
            attempts=5,
            lastError="HTTP 404 from hooks.slack.com: no_service",
        ),
    ],
    "run_000000000010": [
        _delivery(3, "chn_000000000001", "run.recovered", "sent", "2025-01-05T08:05:41.000Z"),
    ],
}


# Each agent's share of the runs and cost per day (the Cost column, its Stats tab); the never-run,
# disabled Docs link checker has none.
AGENT_SHARE = {
    "agt_000000000001": 1.0,
    "agt_000000000002": 0.3,
    "agt_000000000003": 1.6,
    "agt_000000000004": 0.4,
}
PERIOD_DAYS = {"24h": 2, "7d": 7, "30d": 30}


def _days(count: int, share: float = 1.0) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        day = 7 - count + 1 + i
        date = f"2025-01-{day:02d}" if day > 0 else f"2024-12-{31 + day:02d}"
        success, error = round((3 + (i * 5) % 4) * share), round((i * 3) % 2 * share)
        out.append(
            {
                "date": date,
                "success": success,
                "error": error,
                "total": success + error,
                "skipped": 0,
                "costUsd": round(0.05 * success + 0.03 * error, 3),
            }
        )
    return out


def _totals(days: list[dict[str, Any]]) -> dict[str, Any]:
    runs = sum(d["total"] for d in days)
    success = sum(d["success"] for d in days)
    return {
        "runs": runs,
        "successRate": round(100 * success / runs) if runs else 0,
        "totalCostUsd": round(sum(d["costUsd"] for d in days), 6),
    }


# The triggers' pictures (FakeClient().add_triggers()): a monitoring alert comes in by webhook to
# "Triage alerts", whose success chains to "Incident notes"; "Quarterly report" runs once.
ALERT_INPUT = '{\n  "alert": "disk full",\n  "host": "db1"\n}'
TRIGGER_AGENTS = [
    _agent(
        6,
        "Triage alerts",
        "0 * * * *",
        prompt="Triage this alert: {{input}}",
        onSuccess=["agt_000000000007"],
        mcpServers={
            "pager": {"type": "http", "url": "https://mcp.pager.example/mcp", "headers": {}},
        },
        env={"PAGER_TOKEN": "********"},
        allowedTools=["Read", "Grep", "mcp__pager"],
        triggerUrl="/hooks/agents/agt_000000000006",
        nextRunAt="2025-01-07T11:00:00.000Z",
        lastRunAt="2025-01-07T09:40:00.000Z",
        lastStatus="success",
    ),
    _agent(
        7,
        "Incident notes",
        "0 18 * * 1-5",
        prompt="Yesterday you wrote:\n{{lastOutput}}\nAdd to the incident notes: {{input}}",
        triggerUrl="/hooks/agents/agt_000000000007",
        nextRunAt="2025-01-07T18:00:00.000Z",
        lastRunAt="2025-01-07T09:41:00.000Z",
        lastStatus="success",
    ),
    _agent(
        8,
        "Quarterly report",
        None,
        prompt="Draft the quarterly report.",
        timezone="Europe/Berlin",
        runAt="2025-01-10T15:00:00.000Z",
        nextRunAt="2025-01-10T15:00:00.000Z",
    ),
]


def _run(
    n: int, agent: int, status: str, trigger: str, started: str, ms: int, **extra: Any
) -> dict[str, Any]:
    run = {
        "id": f"run_{n:012d}",
        "agentId": f"agt_{agent:012d}",
        "status": status,
        "trigger": trigger,
        "scheduledFor": started if trigger == "schedule" else None,
        "output": "Done: notes updated." if status == "success" else "error: the tracker answered 503",
        "costUsd": 0.04,
        "inputTokens": 1200,
        "outputTokens": 600,
        "numTurns": 4,
        "startedAt": started,
        "completedAt": _plus(started, ms),
        "durationMs": ms,
        "attempt": 1,
        "retryOf": None,
        "parentRunId": None,
        "input": None,
    }
    run.update(extra)
    return run


TRIGGER_RUNS = [
    _run(
        20,
        6,
        "success",
        "webhook",
        "2025-01-07T09:40:00.000Z",
        52_000,
        input=ALERT_INPUT,
        output="Disk on db1 was 97% full: /var/log/old cleared, now 61%.",
    ),
    _run(
        21,
        7,
        "success",
        "chain",
        "2025-01-07T09:41:00.000Z",
        38_000,
        parentRunId="run_000000000020",
        input="Disk on db1 was 97% full: /var/log/old cleared, now 61%.",
    ),
    _run(22, 7, "error", "webhook", "2025-01-07T08:15:00.000Z", 12_000, input=ALERT_INPUT),
    _run(24, 7, "success", "schedule", "2025-01-06T17:00:00.000Z", 45_000),
    _run(
        23,
        7,
        "success",
        "manual",
        "2025-01-06T16:00:00.000Z",
        61_000,
        input="Summarize the db1 outage for the postmortem",
    ),
]


NODES = [
    {
        "id": "srv_5b0c1e9a2d4f6a81",
        "host": "node-a",
        "pid": 4121,
        "startedAt": _iso(NOW - timedelta(days=2, hours=3)),
        "lastHeartbeat": _iso(NOW - timedelta(seconds=3)),
        "leaseExpiresAt": _iso(NOW + timedelta(seconds=27)),
        "alive": True,
        "runningRuns": 0,  # the fake's running runs, counted when asked
        "queuedRuns": 0,
    },
    {
        "id": "srv_9e71d0c4b2a85f36",
        "host": "node-b",
        "pid": 3876,
        "startedAt": _iso(NOW - timedelta(hours=5, minutes=12)),
        "lastHeartbeat": _iso(NOW - timedelta(seconds=8)),
        "leaseExpiresAt": _iso(NOW + timedelta(seconds=22)),
        "alive": True,
        "runningRuns": 2,
        "queuedRuns": 1,
    },
    {
        "id": "srv_0c3f8a6e1d7b4295",
        "host": "node-c",
        "pid": 911,
        "startedAt": _iso(NOW - timedelta(days=1, hours=1)),
        "lastHeartbeat": _iso(NOW - timedelta(minutes=1, seconds=40)),
        "leaseExpiresAt": _iso(NOW - timedelta(minutes=1, seconds=10)),
        "alive": False,
        "runningRuns": 0,
        "queuedRuns": 0,
    },
]
"""The cluster of the nodes picture: two live nodes and one whose lease ran out."""
