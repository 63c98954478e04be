"""The API over a real uvicorn socket on 127.0.0.1: the newcomer's curl session."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.conftest import agent_body


async def test_full_session_over_http(live_client: httpx.AsyncClient, live_url: str):
    created = await live_client.post("/api/agents", json=agent_body(maxBudgetUsd=0.5))
    assert created.status_code == 200
    agent = created.json()["data"]
    listed = await live_client.get("/api/agents")
    assert listed.json()["data"][0]["id"] == agent["id"]
    patched = await live_client.patch(f"/api/agents/{agent['id']}", json={"enabled": False})
    assert patched.json()["data"]["enabled"] is False
    assert (await live_client.get(f"/api/agents/{agent['id']}/runs")).json() == {"data": []}
    stats = (await live_client.get(f"/api/agents/{agent['id']}/stats?period=24h")).json()["data"]
    assert stats["totalRuns"] == 0
    glob = (await live_client.get("/api/agents/stats")).json()["data"]
    assert glob["totalAgents"] == 1 and glob["activeAgents"] == 0
    cancel = await live_client.post(f"/api/agents/{agent['id']}/cancel")
    assert cancel.status_code == 404
    deleted = await live_client.delete(f"/api/agents/{agent['id']}")
    assert deleted.json()["data"]["name"] == "Daily Digest"
    async with httpx.AsyncClient(base_url=live_url) as anon:
        unauthorized = await anon.get("/api/agents")
        assert unauthorized.status_code == 401
        assert unauthorized.headers["www-authenticate"].startswith("Bearer")
        assert (await anon.get("/healthz")).json() == {"status": "ok"}


async def test_validation_error_over_http(live_client: httpx.AsyncClient):
    response = await live_client.post(
        "/api/agents", content=b'{"name": "x", "schedule": "0 0 31 2 *"',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400


async def test_event_stream_delivers_agent_changes_in_order(live_client: httpx.AsyncClient):
    received: list[dict] = []

    async def listen() -> None:
        async with live_client.stream("GET", "/api/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                    if len(received) == 3:
                        return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.3)
    agent = (await live_client.post("/api/agents", json=agent_body())).json()["data"]
    await live_client.patch(f"/api/agents/{agent['id']}", json={"name": "New name"})
    await live_client.delete(f"/api/agents/{agent['id']}")
    await asyncio.wait_for(task, 10)
    assert [e["type"] for e in received] == ["agent.created", "agent.updated", "agent.deleted"]
    assert received[1]["agent"]["name"] == "New name"
    assert all(e["agentId"] == agent["id"] for e in received)
