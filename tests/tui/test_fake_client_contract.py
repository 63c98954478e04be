"""The snapshot tests' FakeClient answers what the real API answers.

The same calls go to the fake and to a real server (over a real socket, through
the dashboard's own :class:`ApiClient`), and the answers must have the same
shape: the same keys, the same kinds of value (integer, number, boolean,
string, timestamp, date, id of a kind, object, array), the same nesting, and
the same errors (status and fields). Values that differ by nature (ids, times,
counts) are not compared; ``null`` matches any kind, since which fields are null
depends on the data. A field only one side has fails the test — which is how
``costByAgent``, a fake-only field the dashboard relied on, would have shown.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.client import ApiClient, ApiError, DashboardClient
from app.demo_data import add_deliveries, add_run, pause_agent
from app.server import Server
from app.timeutil import now_ms
from app.tui_demo import TRANSCRIPT as DEMO_TRANSCRIPT
from tests.conftest import agent_body
from tests.tui.fake_client import AGENTS, CHANNELS, RUNS, FakeClient
from tests.tui.fake_data import DELIVERIES

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ID = re.compile(r"^(agt|run|usr|chn|msg)_[0-9a-z]+$")
# Free-form objects whose keys are the agent's or the SDK's, not the API's.
FREE_FORM = {"input", "usage", "modelUsage", "data"}
PERIODS = ("24h", "7d", "30d")


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        if TIMESTAMP.match(value):
            return "timestamp"
        if DATE.match(value):
            return "date"
        match = ID.match(value)
        return f"id:{match.group(1)}" if match else "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def differences(fake: Any, real: Any, path: str = "") -> list[str]:
    """How ``fake``'s shape differs from ``real``'s (empty when they agree)."""
    if fake is None or real is None:
        return []
    if kind(fake) != kind(real):
        return [f"{path}: the fake gives {kind(fake)} {fake!r:.60}, the API {kind(real)} {real!r:.60}"]
    found: list[str] = []
    if isinstance(fake, dict):
        # A run event's payload is what the SDK reported: the fake may show less, never more.
        fake_only = fake.keys() - real.keys()
        real_only = set() if ".events[" in path else real.keys() - fake.keys()
        found += [f"{path}.{k}: only the fake has it" for k in sorted(fake_only)]
        found += [f"{path}.{k}: only the API has it" for k in sorted(real_only)]
        for key in sorted(fake.keys() & real.keys()):
            if key not in FREE_FORM:
                found += differences(fake[key], real[key], f"{path}.{key}")
    elif isinstance(fake, list):
        if bool(fake) != bool(real):
            return [f"{path}: the fake gives {len(fake)} items, the API {len(real)} (give both some)"]
        for i, item in enumerate(fake):
            candidates = real
            if isinstance(item, dict) and "type" in item:  # events, deliveries: compare like with like
                candidates = [r for r in real if isinstance(r, dict) and r.get("type") == item["type"]]
                if not candidates:
                    found.append(f"{path}[{i}]: the API never gave an item of type {item['type']!r}")
                    continue
            # Each fake item must look like some real one (agents differ in which lists are empty).
            found += min(
                (differences(item, counterpart, f"{path}[{i}]") for counterpart in candidates), key=len
            )
    return found


async def answer(call: Awaitable[Any]) -> Any:
    """The call's value, or its error as ``{"error": (status, fields)}``."""
    try:
        return await call
    except ApiError as exc:
        return {"error": (exc.status, sorted(exc.fields))}


async def first_event(client: DashboardClient) -> Any:
    stream = client.events()
    try:
        return await anext(stream)
    finally:
        await stream.aclose()  # type: ignore[attr-defined]


@dataclass
class Ids:
    agent: str  # has a finished and a running run, a failed one with alerts, and its retry
    idle: str  # never ran
    finished_run: str
    running_run: str
    failed_run: str  # its alerts: one sent, one given up
    retry_run: str
    channel: str  # a webhook
    email_channel: str


NEW_AGENT = {"name": "Nightly report", "schedule": "0 2 * * *", "prompt": "Report on the night."}
INVALID_AGENT = {"name": "Nightly", "schedule": "0 9 31 2 *"}  # as the editor sends an empty prompt


async def agents_and_stats(client: DashboardClient, ids: Ids) -> dict[str, Any]:
    """Every call the dashboard makes about agents and stats, valid and not."""
    out: dict[str, Any] = {
        "list_agents": await answer(client.list_agents()),
        "get_agent": await answer(client.get_agent(ids.agent)),
        "get_agent (unknown)": await answer(client.get_agent("agt_0000000000000000")),
        "create_agent (invalid)": await answer(client.create_agent(INVALID_AGENT)),
        "update_agent": await answer(client.update_agent(ids.agent, {"description": "Changed"})),
        "update_agent (empty name)": await answer(client.update_agent(ids.agent, {"name": " "})),
        "update_agent (unknown)": await answer(client.update_agent("agt_0000000000000000", {"name": "x"})),
        "list_runs": await answer(client.list_runs(ids.agent, limit=100)),
        "list_runs (unknown)": await answer(client.list_runs("agt_0000000000000000")),
        "get_run (finished)": await answer(client.get_run(ids.agent, ids.finished_run)),
        "get_run (running)": await answer(client.get_run(ids.agent, ids.running_run)),
        "get_run (unknown)": await answer(client.get_run(ids.agent, "run_0000000000000000")),
        "agent_stats (never ran)": await answer(client.agent_stats(ids.idle, "7d")),
        "agent_stats (unknown)": await answer(client.agent_stats("agt_0000000000000000", "7d")),
        "cancel_agent (nothing running)": await answer(client.cancel_agent(ids.idle)),
        "first event": await first_event(client),
    }
    for period in PERIODS:
        out[f"agent_stats {period}"] = await answer(client.agent_stats(ids.agent, period))
        out[f"global_stats {period}"] = await answer(client.global_stats(period))
    created = await answer(client.create_agent(NEW_AGENT))
    out["create_agent"] = created
    out["delete_agent"] = await answer(client.delete_agent(created["id"]))
    out["delete_agent (unknown)"] = await answer(client.delete_agent(created["id"]))
    out["get_run (failed, with alerts)"] = await answer(client.get_run(ids.agent, ids.failed_run))
    out["get_run (retry)"] = await answer(client.get_run(ids.agent, ids.retry_run))
    return out


LATER = "2030-01-05T09:00:00.000Z"
UNKNOWN_AGENT = "agt_0000000000000000"


async def triggers(client: DashboardClient, ids: Ids) -> dict[str, Any]:
    """The calls of the triggers' dashboard: one-shots, chains, MCP servers, secrets, the trigger secret."""
    capabilities = {
        "schedule": None,
        "runAt": LATER,
        "onSuccess": [ids.agent],
        "onFailure": [],
        "mcpServers": {"docs": {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {}}},
        "env": {"DOCS_TOKEN": "tok_1"},
    }
    return {
        "update_agent (one-shot, chain, MCP, secret)": await answer(
            client.update_agent(ids.idle, capabilities)
        ),
        "update_agent (keep a secret, add one)": await answer(
            client.update_agent(ids.idle, {"env": {"DOCS_TOKEN": "********", "OTHER": "x"}})
        ),
        "update_agent (delete a secret)": await answer(
            client.update_agent(ids.idle, {"env": {"OTHER": None}})
        ),
        "update_agent (bad MCP server)": await answer(
            client.update_agent(ids.idle, {"mcpServers": {"x": {"args": []}}})
        ),
        "update_agent (MCP servers not an object)": await answer(
            client.update_agent(ids.idle, {"mcpServers": "{"})
        ),
        "update_agent (unknown chain target)": await answer(
            client.update_agent(ids.idle, {"onFailure": [UNKNOWN_AGENT]})
        ),
        "update_agent (schedule and runAt)": await answer(client.update_agent(ids.agent, {"runAt": LATER})),
        "update_agent (neither)": await answer(client.update_agent(ids.agent, {"schedule": None})),
        "set_trigger_secret": await answer(client.set_trigger_secret(ids.agent)),
        "get_agent (with a trigger URL)": await answer(client.get_agent(ids.agent)),
        "set_trigger_secret (unknown)": await answer(client.set_trigger_secret(UNKNOWN_AGENT)),
        "remove_trigger_secret": await answer(client.remove_trigger_secret(ids.agent)),
        "update_agent (a tiny daily cap)": await answer(
            client.update_agent(ids.agent, {"dailyBudgetUsd": 0.01})
        ),
        "run_agent (over its daily cap)": await answer(client.run_agent(ids.agent, "hello")),
        "run_agent (unknown)": await answer(client.run_agent(UNKNOWN_AGENT)),
    }


NEW_WEBHOOK = {"name": "Pager", "type": "webhook", "url": "http://127.0.0.1:9/hook"}
UNKNOWN_CHANNEL = "chn_0000000000000000"


async def channels_and_settings(client: DashboardClient, ids: Ids) -> dict[str, Any]:
    """Every call the dashboard makes about channels and settings, valid and not."""
    out: dict[str, Any] = {
        "list_channels": await answer(client.list_channels()),
        "create_channel (no url)": await answer(client.create_channel({"name": "X", "type": "webhook"})),
        "create_channel (bad url, empty name)": await answer(
            client.create_channel({"name": " ", "type": "slack", "url": "ftp://x"})
        ),
        "create_channel (email without to)": await answer(
            client.create_channel({"name": "M", "type": "email"})
        ),
        "update_channel": await answer(client.update_channel(ids.channel, {"name": "Renamed"})),
        "update_channel (bad url)": await answer(client.update_channel(ids.channel, {"url": "nope"})),
        "update_channel (unknown)": await answer(client.update_channel(UNKNOWN_CHANNEL, {"name": "x"})),
        "test_channel (no SMTP server)": await answer(client.test_channel(ids.email_channel)),
        "test_channel (unknown)": await answer(client.test_channel(UNKNOWN_CHANNEL)),
        "get_settings": await answer(client.get_settings()),
        "update_settings (bad cap)": await answer(client.update_settings({"dailyBudgetUsd": 0})),
        "update_settings (unknown channel)": await answer(
            client.update_settings({"notifyChannels": [UNKNOWN_CHANNEL]})
        ),
        "update_settings": await answer(client.update_settings({"monthlyBudgetUsd": 500})),
    }
    created = await answer(client.create_channel(NEW_WEBHOOK))
    out["create_channel (webhook, with its secret)"] = created
    out["delete_channel"] = await answer(client.delete_channel(created["id"]))
    out["delete_channel (unknown)"] = await answer(client.delete_channel(created["id"]))
    return out


def assert_same_answers(fake: dict[str, Any], real: dict[str, Any]) -> None:
    assert fake.keys() == real.keys()
    problems: list[str] = []
    for call in fake:
        f, r = fake[call], real[call]
        f_error = f.get("error") if isinstance(f, dict) else None
        r_error = r.get("error") if isinstance(r, dict) else None
        if f_error or r_error:
            if f_error != r_error:
                problems.append(f"{call}: the fake answers {f_error or 'ok'}, the API {r_error or 'ok'}")
            continue
        problems += differences(f, r, call)
    assert not problems, "the fake client and the real API disagree:\n" + "\n".join(problems)


def fake_ids() -> Ids:
    idle = next(a["id"] for a in AGENTS if a["lastRunAt"] is None)
    agent = RUNS[0]["agentId"]
    running = next(r["id"] for r in RUNS if r["status"] == "running" and r["agentId"] == agent)
    finished = next(r["id"] for r in RUNS if r["status"] == "success" and r["agentId"] == agent)
    retry = next(r for r in RUNS if r["trigger"] == "retry")
    email = next(c["id"] for c in CHANNELS if c["type"] == "email")
    webhook = next(c["id"] for c in CHANNELS if c["type"] == "webhook")
    assert DELIVERIES[retry["retryOf"]]
    return Ids(agent, idle, finished, running, retry["retryOf"], retry["id"], webhook, email)


async def seed_like_the_fake(server: Server, api: ApiClient) -> Ids:
    """Real agents, runs, channels, alerts and settings in the situations the fake's tables show."""
    webhook = await api.create_channel(
        {"name": "On-call webhook", "type": "webhook", "url": "http://127.0.0.1:9/"}
    )
    slack = await api.create_channel(
        {"name": "Team Slack", "type": "slack", "url": "https://hooks.slack.com/services/T0/B0/x"}
    )
    email = await api.create_channel({"name": "Ops mail", "type": "email", "to": ["ops@example.com"]})
    await api.update_channel(email["id"], {"enabled": False})
    await api.update_settings(
        {"dailyBudgetUsd": 20, "monthlyBudgetUsd": 400, "notifyChannels": [webhook["id"]]}
    )
    agent = await api.create_agent(
        agent_body(
            name="Daily digest",
            maxBudgetUsd=0.5,
            timezone="Europe/Berlin",
            schedule="0 9 * * 1-5",
            notify={"channels": [webhook["id"], slack["id"]], "on": ["failure", "recovery"]},
            retry={"attempts": 2, "backoffSeconds": 300},
            pauseAfterFailures=3,
            dailyBudgetUsd=0.3,
            monthlyBudgetUsd=10,
        )
    )
    idle = await api.create_agent(agent_body(name="Docs link checker", schedule="@daily", enabled=False))
    paused = await api.create_agent(agent_body(name="Flaky test hunter", pauseAfterFailures=3))
    await pause_agent(server, paused["id"], "paused after 3 consecutive failures")
    now = datetime.now(UTC)
    failed = await add_run(
        server, agent["id"], "error", now - timedelta(hours=3), cost=0.02, events=DEMO_TRANSCRIPT[:2]
    )
    await add_deliveries(
        server,
        agent["id"],
        failed,
        now - timedelta(hours=3),
        [
            (webhook["id"], "run.failed", "sent", 1, None),
            (slack["id"], "run.failed", "failed", 5, "HTTP 404"),
        ],
    )
    retry = await add_run(
        server,
        agent["id"],
        "success",
        now - timedelta(hours=2, minutes=55),
        cost=0.03,
        trigger="retry",
        retry_of=(failed, 2),
        events=DEMO_TRANSCRIPT[:2],
    )
    await add_deliveries(
        server,
        agent["id"],
        retry,
        now - timedelta(hours=2, minutes=54),
        [(webhook["id"], "run.recovered", "sent", 1, None)],
    )
    finished = await add_run(
        server, agent["id"], "success", now - timedelta(hours=2), cost=0.03, events=DEMO_TRANSCRIPT
    )
    running = await add_run(
        server,
        agent["id"],
        "running",
        now - timedelta(minutes=5),
        events=DEMO_TRANSCRIPT[:-1],
        trigger="manual",
    )
    return Ids(agent["id"], idle["id"], finished, running, failed, retry, webhook["id"], email["id"])


async def test_fake_answers_agent_and_stats_calls_like_the_real_api(server: Server, api: ApiClient) -> None:
    real = await agents_and_stats(api, await seed_like_the_fake(server, api))
    fake = await agents_and_stats(FakeClient(), fake_ids())
    assert_same_answers(fake, real)


async def test_fake_answers_channel_and_settings_calls_like_the_real_api(
    server: Server, api: ApiClient
) -> None:
    """Channels (a new webhook's secret, the per-field 400s, a test's failed delivery), settings."""
    real = await channels_and_settings(api, await seed_like_the_fake(server, api))
    fake = await channels_and_settings(FakeClient(), fake_ids())
    assert_same_answers(fake, real)
    assert real["create_channel (webhook, with its secret)"]["secret"].startswith("whsec_")
    assert fake["create_channel (webhook, with its secret)"]["secret"].startswith("whsec_")
    assert real["test_channel (no SMTP server)"]["status"] == fake["test_channel (no SMTP server)"]["status"]


async def test_fake_answers_trigger_calls_like_the_real_api(server: Server, api: ApiClient) -> None:
    """Run input, the trigger secret, one-shots, chain targets, MCP servers and write-only secrets."""
    real = await triggers(api, await seed_like_the_fake(server, api))
    fake = await triggers(FakeClient(), fake_ids())
    assert_same_answers(fake, real)
    for answers in (real, fake):
        assert answers["update_agent (one-shot, chain, MCP, secret)"]["env"] == {"DOCS_TOKEN": "********"}
        assert answers["update_agent (delete a secret)"]["env"] == {"DOCS_TOKEN": "********"}
        assert answers["set_trigger_secret"]["secret"].startswith("whsec_")
        with_url = answers["get_agent (with a trigger URL)"]
        assert with_url["triggerUrl"] == f"/hooks/agents/{with_url['id']}"
        assert answers["remove_trigger_secret"]["triggerUrl"] is None


async def test_fake_answers_the_nodes_call_like_the_real_api(server: Server, api: ApiClient) -> None:
    """The cluster's nodes: the real server is one node, running a run of its own."""
    ids = await seed_like_the_fake(server, api)
    await server.store.runs.insert("run_mine", ids.agent, "running", now_ms(), owner=server.server_id)
    real = {"list_nodes": await answer(api.list_nodes())}
    fake = {"list_nodes": await answer(FakeClient().list_nodes())}
    assert_same_answers(fake, real)
    [me] = real["list_nodes"]
    assert (me["id"], me["alive"], me["runningRuns"]) == (server.server_id, True, 1)
    assert fake["list_nodes"][0]["runningRuns"] == sum(1 for r in RUNS if r["status"] == "running")


def test_the_comparison_catches_a_fake_only_field() -> None:
    """What this file exists for: a field the real API never sends (or sends as another kind)."""
    real = {"totalCostUsd": 1.5, "dailyRuns": [{"date": "2025-01-07", "costUsd": 0.5}], "lastRunAt": None}
    with_costs = {**real, "costByAgent": {"agt_1": 1.0}}
    assert differences(with_costs, real) == [".costByAgent: only the fake has it"]
    assert differences({**real, "totalCostUsd": "1.50"}, real) == [
        ".totalCostUsd: the fake gives string '1.50', the API number 1.5"
    ]
    no_millis = {**real, "dailyRuns": [{"date": "2025-01-07T00:00:00Z", "costUsd": 0.5}]}
    assert differences(no_millis, real)[0].startswith(".dailyRuns[0].date: the fake gives string")
    assert differences({**real, "lastRunAt": "2025-01-07T09:00:00.000Z"}, real) == []  # null: any kind


async def wait_for_run(api: ApiClient, agent_id: str, run_id: str, done: bool) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        run = await api.get_run(agent_id, run_id)
        if (run["status"] not in ("queued", "running")) if done else run["status"] == "running":
            return run
        assert time.monotonic() < deadline, f"run stuck {run['status']}"
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_fake_runs_and_transcripts_look_like_a_real_runs(server: Server, api: ApiClient) -> None:
    """A real run of the Claude Code CLI (a tool call, then text) against the fake's canned ones."""
    tools = await api.create_agent(
        agent_body(name="Tools", prompt="[[fake:tool_use]] look around", allowedTools=["Bash"])
    )
    finished = await api.run_agent(tools["id"])
    await wait_for_run(api, tools["id"], finished, done=True)
    slow = await api.create_agent(agent_body(name="Slow", prompt="[[fake:slow]]"))

    async def runs(client: DashboardClient, agent: str, finished: str, idle: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "list_runs": await answer(client.list_runs(agent)),
            "get_run (finished)": await answer(client.get_run(agent, finished)),
            "run_agent": await answer(client.run_agent(idle, {"alert": "disk full"})),
        }
        if isinstance(client, ApiClient):
            await wait_for_run(client, idle, out["run_agent"], done=False)
        out["cancel_agent"] = await answer(client.cancel_agent(idle))
        return out

    real = await runs(api, tools["id"], finished, slow["id"])
    ids = fake_ids()
    fake_client = FakeClient()
    fake = await runs(fake_client, ids.agent, ids.finished_run, ids.agent)
    # The fake's running run shows its whole transcript: compare that with the real one.
    fake["get_run (finished)"]["events"] = (await fake_client.get_run(ids.agent, ids.running_run))["events"]
    real_events = real["get_run (finished)"]["events"]
    assert {"system", "tool_use", "tool_result", "assistant_text"} <= {e["type"] for e in real_events}
    assert_same_answers(fake, real)
    # The demo's transcript (screenshots, and the seed of the test above) is as real, in every
    # type of event the fake Messages API can make the CLI produce (not "thinking").
    types = {e["type"] for e in real_events}
    demo = [
        {"seq": i + 1, "at": "2025-01-07T09:55:00.000Z", **e}
        for i, e in enumerate(DEMO_TRANSCRIPT)
        if e["type"] in types
    ]
    assert differences(demo, real_events, ".events") == []
