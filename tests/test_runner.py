"""Runs through the API, the real SDK and its bundled CLI, against the fake Messages API."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from app.server import Server, ServerConfig, running
from app.timeutil import now_ms
from tests.conftest import agent_body
from tests.fake_anthropic import PLAIN_TEXT, TOOL_DONE_TEXT
from tests.processes import tagged_processes

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]

FINAL = {"success", "error", "budget_exceeded", "cancelled"}


async def create(client: httpx.AsyncClient, scenario: str, **fields: Any) -> dict[str, Any]:
    body = agent_body(prompt=f"Do the thing. [[fake:{scenario}]]", allowedTools=["Bash"], **fields)
    resp = await client.post("/api/agents", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def start(client: httpx.AsyncClient, agent_id: str) -> str:
    resp = await client.post(f"/api/agents/{agent_id}/run")
    assert resp.status_code == 200, resp.text
    assert resp.json()["message"] == "Agent started"
    return resp.json()["runId"]  # type: ignore[no-any-return]


async def wait_run(
    client: httpx.AsyncClient,
    agent_id: str,
    run_id: str,
    statuses: set[str] = FINAL,
    timeout: float = 60,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        resp = await client.get(f"/api/agents/{agent_id}/runs/{run_id}")
        run = resp.json()["data"]
        if run["status"] in statuses:
            return run  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"run stuck in {run['status']}"
        await asyncio.sleep(0.1)


async def test_plain_success_records_cost_tokens_and_transcript(
    client: httpx.AsyncClient, run_tag: str
) -> None:
    agent = await create(client, "plain")
    run_id = await start(client, agent["id"])
    run = await wait_run(client, agent["id"], run_id)
    assert run["status"] == "success", run["output"]
    assert run["output"] == PLAIN_TEXT
    assert run["costUsd"] > 0
    assert (run["inputTokens"], run["outputTokens"], run["numTurns"]) == (20, 10, 1)
    assert run["trigger"] == "manual" and run["scheduledFor"] is None
    assert run["durationMs"] > 0 and run["completedAt"] >= run["startedAt"]
    types = [e["type"] for e in run["events"]]
    assert types[0] == "system" and types[-1] == "result"
    assert [e["seq"] for e in run["events"]] == list(range(1, len(types) + 1))
    assert round(run["events"][-1]["costUsd"], 6) == run["costUsd"]
    assert "sk-ant-fake" not in json.dumps(run), "the API key must never be stored"
    refreshed = (await client.get(f"/api/agents/{agent['id']}")).json()["data"]
    assert refreshed["lastStatus"] == "success" and refreshed["lastRunAt"] == run["startedAt"]
    history = (await client.get(f"/api/agents/{agent['id']}/runs")).json()["data"]
    assert [r["id"] for r in history] == [run_id]
    stats = (await client.get(f"/api/agents/{agent['id']}/stats")).json()["data"]
    assert stats["totalRuns"] == 1 and stats["successRate"] == 100
    assert tagged_processes(run_tag) == []


async def test_tool_use_takes_two_turns_and_runs_in_its_workspace(
    client: httpx.AsyncClient, server_config: ServerConfig
) -> None:
    agent = await create(client, "tool_use")
    run = await wait_run(client, agent["id"], await start(client, agent["id"]))
    assert run["status"] == "success", run["output"]
    assert run["output"] == TOOL_DONE_TEXT and run["numTurns"] == 2
    [tool_use] = [e for e in run["events"] if e["type"] == "tool_use"]
    [tool_result] = [e for e in run["events"] if e["type"] == "tool_result"]
    assert tool_use["name"] == "Bash" and tool_use["input"]["command"] == "echo hi"
    assert tool_result["toolUseId"] == tool_use["id"] and tool_result["content"].strip() == "hi"
    init = run["events"][0]
    assert server_config.workspaces_dir is not None
    assert init["cwd"] == str(server_config.workspaces_dir / agent["id"])


async def test_max_turns_is_an_error(client: httpx.AsyncClient) -> None:
    agent = await create(client, "endless_tools", maxTurns=2)
    run = await wait_run(client, agent["id"], await start(client, agent["id"]))
    assert run["status"] == "error"
    assert "turns" in run["output"].lower()


async def test_tiny_budget_is_budget_exceeded_with_tokens_from_model_usage(
    client: httpx.AsyncClient,
) -> None:
    agent = await create(client, "expensive", maxBudgetUsd=0.0001)
    run = await wait_run(client, agent["id"], await start(client, agent["id"]))
    assert run["status"] == "budget_exceeded", run["output"]
    assert run["inputTokens"] == 5_000_000 and run["outputTokens"] == 5_000_000
    assert run["costUsd"] > 0.0001


async def test_http500_is_an_error_bounded_by_the_timeout(client: httpx.AsyncClient, run_tag: str) -> None:
    agent = await create(client, "http500", timeoutSeconds=3)
    started = time.monotonic()
    run = await wait_run(client, agent["id"], await start(client, agent["id"]))
    assert run["status"] == "error"
    assert run["output"] == "timed out after 3 s"
    assert time.monotonic() - started < 15
    assert tagged_processes(run_tag) == []


async def test_cancel_ends_a_slow_run_and_its_processes(client: httpx.AsyncClient, run_tag: str) -> None:
    agent = await create(client, "slow")
    run_id = await start(client, agent["id"])
    await wait_run(client, agent["id"], run_id, {"running"})
    # Let the CLI get going (so there is a process tree to clean up).
    deadline = time.monotonic() + 20
    while not tagged_processes(run_tag) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert tagged_processes(run_tag), "the run never started a CLI process"
    started = time.monotonic()
    resp = await client.post(f"/api/agents/{agent['id']}/cancel")
    assert resp.status_code == 200
    assert resp.json() == {
        "success": True,
        "message": "Cancelled 1 running execution(s)",
        "cancelledCount": 1,
    }
    assert time.monotonic() - started < 10
    run = await wait_run(client, agent["id"], run_id, timeout=1)
    assert run["status"] == "cancelled"
    assert tagged_processes(run_tag) == []
    again = await client.post(f"/api/agents/{agent['id']}/cancel")
    assert again.status_code == 404


async def test_timeout_ends_the_run_with_why(client: httpx.AsyncClient, run_tag: str) -> None:
    agent = await create(client, "slow", timeoutSeconds=2)
    run = await wait_run(client, agent["id"], await start(client, agent["id"]))
    assert run["status"] == "error" and run["output"] == "timed out after 2 s"
    assert tagged_processes(run_tag) == []


async def test_concurrency_limit_queues_runs_in_order(server_config: ServerConfig, run_tag: str) -> None:
    server_config.max_concurrent_runs = 1
    async with running(server_config) as server:
        service = server.service
        slow = await service.create_agent(agent_body(name="slow", prompt="[[fake:slow]]"), None)
        quick = await service.create_agent(agent_body(name="quick", prompt="[[fake:plain]]"), None)
        first = await service.trigger_run(slow["id"])
        second = await service.trigger_run(quick["id"])
        await asyncio.sleep(0.5)
        row1 = await server.store.runs.get(first)
        row2 = await server.store.runs.get(second)
        assert row1 is not None and row1["status"] == "running"
        assert row2 is not None and row2["status"] == "queued"
        assert await service.cancel_runs(slow["id"]) == 1
        for _ in range(300):
            row2 = await server.store.runs.get(second)
            assert row2 is not None
            if row2["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.1)
        assert row2["status"] == "success"
    assert tagged_processes(run_tag) == []


async def test_restart_marks_left_over_runs_interrupted(server_config: ServerConfig) -> None:
    async with running(server_config) as server:
        agent = await server.service.create_agent(agent_body(), None)
        await server.store.runs.insert("run_left", agent["id"], "running", now_ms())
        await server.store.runs.insert("run_waiting", agent["id"], "queued", now_ms())
    # Simulates a crash: the rows stay "running"/"queued" until the next start.
    async with running(server_config) as server:
        for run_id in ("run_left", "run_waiting"):
            row = await server.store.runs.get(run_id)
            assert row is not None
            assert row["status"] == "error"
            assert row["output"] == "interrupted: the server stopped during this run"
        agent_now = await server.service.get_agent(agent["id"])
        assert agent_now["lastStatus"] == "error"


async def test_shutdown_cancels_running_runs_and_leaves_no_process(
    server_config: ServerConfig, run_tag: str
) -> None:
    async with running(server_config) as server:
        agent = await server.service.create_agent(agent_body(prompt="[[fake:slow]]"), None)
        run_id = await server.service.trigger_run(agent["id"])
        deadline = time.monotonic() + 20
        while not tagged_processes(run_tag) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop_started = time.monotonic()
    assert time.monotonic() - stop_started < 15
    assert tagged_processes(run_tag) == []
    async with running(server_config) as server:
        row = await server.store.runs.get(run_id)
        assert row is not None and row["status"] == "cancelled"
        assert row["output"] == "cancelled: the server stopped"


async def test_event_stream_delivers_a_runs_events_in_order(
    server: Server, live_url: str, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=live_url, headers=headers, timeout=30) as http:
        body = agent_body(prompt="[[fake:tool_use]]", allowedTools=["Bash"])
        agent = (await http.post("/api/agents", json=body)).json()["data"]
        seen: list[dict[str, Any]] = []

        async def listen() -> None:
            async with http.stream("GET", f"/api/events?agentId={agent['id']}") as resp:
                assert resp.status_code == 200
                async for line in resp.aiter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        seen.append(event)
                        if event["type"] == "run.finished":
                            return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.3)
        run_id = (await http.post(f"/api/agents/{agent['id']}/run")).json()["runId"]
        await asyncio.wait_for(listener, 60)
        run = (await http.get(f"/api/agents/{agent['id']}/runs/{run_id}")).json()["data"]
    kinds = [e["type"] for e in seen if e.get("runId") == run_id]
    assert kinds[0] == "run.queued" and kinds[1] == "run.started" and kinds[-1] == "run.finished"
    streamed = [e["event"] for e in seen if e["type"] == "run.event"]
    assert [e["seq"] for e in streamed] == [e["seq"] for e in run["events"]]
    assert [e["type"] for e in streamed] == [e["type"] for e in run["events"]]
    assert seen[-1]["run"]["status"] == "success"
