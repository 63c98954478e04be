"""An agent's MCP servers: the shapes the API takes, and a real stdio MCP server in a real run.

The server is ``tests/mcp_notes_server.py`` (the ``mcp`` package's
``MCPServer``); the fake Messages API asks for its tool (``[[fake:tool]]``),
Claude Code calls it, and its answer is in the run's transcript. Its tools run
under ``dontAsk`` only as ``allowedTools`` lists them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import agent_body
from tests.fake_anthropic import TOOL_DONE_TEXT, FakeAnthropic
from tests.mcp_notes_server import NOTE
from tests.test_api import assert_error
from tests.test_runner import wait_run

NOTES_SERVER = str(Path(__file__).with_name("mcp_notes_server.py"))
TOKEN = "notes-token-7f3a9c1e2b"


def notes(**extra: Any) -> dict[str, Any]:
    return {"notes": {"command": sys.executable, "args": [NOTES_SERVER], **extra}}


async def problem_of(client: httpx.AsyncClient, servers: Any) -> str:
    response = await client.post("/api/agents", json=agent_body(mcpServers=servers))
    return str(assert_error(response, 400)["data"]["mcpServers"])


async def test_the_shapes_of_servers(client: httpx.AsyncClient):
    assert await problem_of(client, {"x": {"args": ["a"]}}) == (
        "x: command: is required for a stdio server (or type http / sse with url)"
    )
    assert await problem_of(client, {"x": {"type": "http"}}) == "x: url: is required for type http"
    assert await problem_of(client, {"x": {"command": "npx", "url": "https://a.example"}}) == (
        "x: url: only for type http or sse"
    )
    assert await problem_of(client, {"x": {"type": "sse", "url": "https://a.example", "args": []}}) == (
        "x: args: only for a stdio server"
    )
    assert await problem_of(client, {"x": {"type": "http", "url": "ftp://a.example"}}) == (
        "x: url: must be an http:// or https:// URL with a host"
    )
    assert await problem_of(client, {"x": {"type": "ws", "url": "https://a.example"}}) == (
        "x: type: must be one of stdio, http, sse"
    )
    assert (await problem_of(client, {"bad name": {"command": "npx"}})).startswith("bad name: server names")
    assert await problem_of(client, {"x": {"command": "npx", "colour": 1}}) == "x: colour: unknown field"
    assert await problem_of(client, []) == (
        'must be an object of named servers, e.g. {"tracker": {"command": "npx", "args": [...]}}'
    )
    body = agent_body(
        mcpServers={
            "tracker": {
                "type": "http",
                "url": "https://mcp.example.com/mcp",
                "headers": {"Authorization": "Bearer ${T}"},
            },
            **notes(env={"NOTES_TOKEN": "${NOTES_TOKEN}"}),
        },
        allowedTools=["Read", "mcp__tracker", "mcp__notes__lookup"],
    )
    created = await client.post("/api/agents", json=body)
    assert created.status_code == 200, created.text
    agent = created.json()["data"]
    # Shown (and stored, and given to the SDK) in the SDK's format: each kind's keys only.
    assert agent["mcpServers"] == {
        "tracker": {
            "type": "http",
            "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": "Bearer ${T}"},
        },
        "notes": {
            "type": "stdio",
            "command": sys.executable,
            "args": [NOTES_SERVER],
            "env": {"NOTES_TOKEN": "${NOTES_TOKEN}"},
        },
    }
    assert agent["allowedTools"] == ["Read", "mcp__tracker", "mcp__notes__lookup"]
    replaced = await client.patch(f"/api/agents/{agent['id']}", json={"mcpServers": notes()})
    assert list(replaced.json()["data"]["mcpServers"]) == ["notes"]  # an update replaces the servers


async def mcp_run(
    client: httpx.AsyncClient, tool: str, tool_input: dict[str, Any], allowed: list[str]
) -> dict[str, Any]:
    body = agent_body(
        prompt=f"Check the notes. [[fake:tool]] [[tool:{tool}]] [[input:{json.dumps(tool_input)}]]",
        allowedTools=allowed,
        mcpServers=notes(env={"NOTES_TOKEN": "${NOTES_TOKEN}"}),
        env={"NOTES_TOKEN": TOKEN},
        enabled=False,
    )
    agent = (await client.post("/api/agents", json=body)).json()["data"]
    started = await client.post(f"/api/agents/{agent['id']}/run")
    return await wait_run(client, agent["id"], started.json()["runId"])


def tool_events(run: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    [use] = [e for e in run["events"] if e["type"] == "tool_use"]
    [result] = [e for e in run["events"] if e["type"] == "tool_result"]
    assert result["toolUseId"] == use["id"]
    return use, result


@pytest.mark.slow
async def test_a_real_stdio_mcp_server_answers_a_run(
    client: httpx.AsyncClient, fake_anthropic: FakeAnthropic
):
    run = await mcp_run(client, "mcp__notes__lookup", {"topic": "deploys"}, ["mcp__notes"])
    assert run["status"] == "success", run["output"]
    assert run["output"] == TOOL_DONE_TEXT
    init = run["events"][0]
    assert {"name": "notes", "status": "connected"}.items() <= init["mcp_servers"][0].items()
    use, result = tool_events(run)
    assert use["name"] == "mcp__notes__lookup" and use["input"] == {"topic": "deploys"}
    assert f"Notes on deploys: {NOTE}." in result["content"] and not result["isError"]


@pytest.mark.slow
async def test_a_secret_named_in_the_server_s_env_reaches_it_and_stays_redacted(
    client: httpx.AsyncClient, fake_anthropic: FakeAnthropic
):
    run = await mcp_run(client, "mcp__notes__env_value", {"name": "NOTES_TOKEN"}, ["mcp__notes__env_value"])
    assert run["status"] == "success", run["output"]
    _, result = tool_events(run)
    assert "[REDACTED]" in result["content"] and TOKEN not in json.dumps(run)
    sent = json.dumps([r.body for r in fake_anthropic.messages_requests("tool")])
    assert TOKEN in sent  # Claude Code expanded ${NOTES_TOKEN}: the server had the secret


@pytest.mark.slow
async def test_a_tool_not_in_allowed_tools_is_refused_under_dont_ask(client: httpx.AsyncClient):
    run = await mcp_run(client, "mcp__notes__env_value", {"name": "NOTES_TOKEN"}, ["mcp__notes__lookup"])
    _, result = tool_events(run)
    assert result["isError"] is True
    assert "[REDACTED]" not in result["content"] and "permission" in result["content"].lower()
