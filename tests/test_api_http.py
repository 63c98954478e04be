"""The API over a real uvicorn socket on 127.0.0.1: the newcomer's curl session."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from app import auth
from app.server import Server, ServerConfig
from app.throttle import FAILURE_LIMIT, WINDOW_SECONDS
from storage import users as user_store
from tests.conftest import agent_body
from tests.wire import cli, request_head


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
        "/api/agents",
        content=b'{"name": "x", "schedule": "0 0 31 2 *"',
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


# -- 405 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/agents/x", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("POST", "/api/agents/x", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("PUT", "/api/agents", {"GET", "HEAD", "POST"}),
        ("DELETE", "/api/agents", {"GET", "HEAD", "POST"}),
        ("GET", "/api/agents/x/run", {"POST"}),
        ("POST", "/api/agents/stats", {"GET", "HEAD"}),
        ("POST", "/healthz", {"GET", "HEAD"}),
    ],
)
async def test_405_lists_every_method_of_the_path(live_client: httpx.AsyncClient, method, path, allowed):
    response = await live_client.request(method, path)
    assert response.status_code == 405
    assert response.json()["statusCode"] == 405 and response.json()["message"]
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


# -- throttled failed authentication ---------------------------------------------------


async def test_failed_authentication_is_throttled_but_a_valid_token_never_is(live_url: str, token: str):
    async with httpx.AsyncClient(base_url=live_url, timeout=10) as http:
        bad = {"Authorization": "Bearer ca_guessed"}
        answers = [await http.get("/api/agents", headers=bad) for _ in range(FAILURE_LIMIT)]
        assert {r.status_code for r in answers} == {401}
        throttled = await http.get("/api/agents", headers=bad)
        assert throttled.status_code == 429
        body = throttled.json()
        assert body["statusCode"] == 429 and body["statusMessage"] == "Too Many Requests"
        assert "127.0.0.1" in body["message"]
        assert 1 <= int(throttled.headers["retry-after"]) <= WINDOW_SECONDS
        assert (await http.post("/api/agents", headers=bad, json=agent_body())).status_code == 429
        # The same address with the right token is served at once, every time.
        good = {"Authorization": f"Bearer {token}"}
        for _ in range(3):
            assert (await http.get("/api/agents", headers=good)).status_code == 200
            assert (await http.get("/api/agents", headers=bad)).status_code == 429
        # No token at all is no guess: still plainly 401.
        assert (await http.get("/api/agents")).status_code == 401


# -- revoked tokens end their event streams --------------------------------------------


async def _stream_lifetime(live_url: str, token: str, opened: asyncio.Event) -> float:
    """Follow /api/events until the server ends it; returns the loop time it ended."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=live_url, headers=headers, timeout=30) as http:
        async with http.stream("GET", "/api/events") as response:
            assert response.status_code == 200
            opened.set()
            async for _ in response.aiter_bytes():
                pass
    return asyncio.get_running_loop().time()


async def test_revoking_a_token_from_another_process_ends_its_event_streams(
    live_url: str, token: str, server: Server, server_config: ServerConfig
):
    _, other = await auth.create_token(server.store, "Ada")
    opened = [asyncio.Event() for _ in range(3)]
    revoked = [asyncio.create_task(_stream_lifetime(live_url, token, opened[i])) for i in range(2)]
    kept = asyncio.create_task(_stream_lifetime(live_url, other, opened[2]))
    await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened)), 10)
    await asyncio.sleep(0.6)
    out = await asyncio.to_thread(cli, "token", "revoke", token[:10], db=server_config.db_path)
    assert "revoked 1 token" in out
    revoked_at = asyncio.get_running_loop().time()
    ended = await asyncio.wait_for(asyncio.gather(*revoked), 5)
    assert all(t - revoked_at < 1.0 for t in ended), [t - revoked_at for t in ended]
    assert not kept.done()
    async with httpx.AsyncClient(base_url=live_url) as http:
        refused = await http.get("/api/events", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
    kept.cancel()


async def test_revoking_a_token_in_this_process_ends_its_event_stream(
    live_url: str, token: str, server: Server
):
    opened = asyncio.Event()
    stream = asyncio.create_task(_stream_lifetime(live_url, token, opened))
    await asyncio.wait_for(opened.wait(), 10)
    await user_store.revoke_token(server.db, token[:10], 1)
    revoked_at = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(stream, 5) - revoked_at < 1.0


# -- quiet logs for expected endings ---------------------------------------------------


async def test_a_client_that_goes_away_is_one_quiet_line(live_url: str, token: str, caplog):
    caplog.set_level(logging.DEBUG)
    # A create whose body never arrives: the client hangs up after 10 of 1000 bytes.
    _, writer = await asyncio.open_connection("127.0.0.1", int(live_url.rsplit(":", 1)[1]))
    writer.write(
        request_head(
            "POST",
            "/api/agents",
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Content-Length": "1000",
            },
        )
        + b'{"name": "'
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    # An event stream whose reader goes away.
    async with httpx.AsyncClient(base_url=live_url, headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.stream("GET", "/api/events") as response:
            async for _ in response.aiter_bytes():
                break
    for _ in range(50):
        if any("went away" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert noisy == [], [r.getMessage() for r in noisy]
    gone = [r for r in caplog.records if "went away" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.INFO
    assert "\n" not in gone[0].getMessage()
    assert gone[0].getMessage() == "client 127.0.0.1 went away during POST /api/agents"
