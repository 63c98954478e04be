"""Alerts end to end: real CLI runs against the fake Messages API, a real webhook receiver that
verifies signatures with the standardwebhooks library, a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server import Server, ServerConfig, free_port, running
from tests.conftest import agent_body
from tests.receivers import WebhookReceiver, serving_receiver, smtp_receiver, webhook_receiver
from tests.test_runner import FINAL, wait_run

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]

FAILING = "Do the thing. [[fake:endless_tools]]"  # with maxTurns 1: error_max_turns, about a second
PASSING = "Do the thing. [[fake:plain]]"


async def hook_channel(client: httpx.AsyncClient, receiver: WebhookReceiver, path: str = "/hook") -> str:
    resp = await client.post(
        "/api/channels", json={"name": "Hook", "type": "webhook", "url": receiver.url(path)}
    )
    assert resp.status_code == 200, resp.text
    receiver.secrets[path] = resp.json()["data"]["secret"]
    return resp.json()["data"]["id"]  # type: ignore[no-any-return]


async def failing_agent(client: httpx.AsyncClient, channel: str | None, **fields: Any) -> dict[str, Any]:
    notify = {"channels": [channel]} if channel else {}
    body = agent_body(prompt=FAILING, maxTurns=1, allowedTools=["Bash"], notify=notify, **fields)
    resp = await client.post("/api/agents", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def run_once(client: httpx.AsyncClient, agent_id: str) -> dict[str, Any]:
    resp = await client.post(f"/api/agents/{agent_id}/run")
    assert resp.status_code == 200, resp.text
    return await wait_run(client, agent_id, resp.json()["runId"])


async def wait_deliveries(
    client: httpx.AsyncClient, agent_id: str, run_id: str, statuses: set[str], timeout: float = 30
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        run = (await client.get(f"/api/agents/{agent_id}/runs/{run_id}")).json()["data"]
        if run["deliveries"] and all(d["status"] in statuses for d in run["deliveries"]):
            return run["deliveries"]  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, run["deliveries"]
        await asyncio.sleep(0.05)


async def test_a_failed_run_is_sent_as_a_signed_webhook(client: httpx.AsyncClient):
    async with webhook_receiver() as receiver:
        channel = await hook_channel(client, receiver)
        agent = await failing_agent(client, channel)
        run = await run_once(client, agent["id"])
        assert run["status"] == "error"
        [got] = await receiver.wait_for(1)
        assert got.verified is True
        body = got.json
        assert body["type"] == "run.failed"
        assert body["agent"]["id"] == agent["id"] and body["agent"]["name"] == agent["name"]
        assert "prompt" not in body["agent"]
        assert body["run"]["id"] == run["id"] and body["run"]["status"] == "error"
        assert body["run"]["output"] == run["output"] and "turns" in body["run"]["output"].lower()
        assert body["timestamp"].endswith("Z")
        [delivery] = await wait_deliveries(client, agent["id"], run["id"], {"sent"})
        assert delivery["channelId"] == channel and delivery["type"] == "run.failed"
        assert delivery["attempts"] == 1 and delivery["sentAt"] is not None and delivery["lastError"] is None
        assert got.headers["webhook-id"] == delivery["id"]


async def test_only_the_first_failure_of_a_streak_is_sent_then_the_recovery(client: httpx.AsyncClient):
    async with webhook_receiver() as receiver:
        channel = await hook_channel(client, receiver)
        agent = await failing_agent(client, channel)
        for _ in range(2):
            assert (await run_once(client, agent["id"]))["status"] == "error"
        await client.patch(f"/api/agents/{agent['id']}", json={"prompt": PASSING})
        assert (await run_once(client, agent["id"]))["status"] == "success"
        got = await receiver.wait_for(2)
        await asyncio.sleep(0.3)  # nothing else comes
        assert [r.json["type"] for r in receiver.received] == ["run.failed", "run.recovered"]
        assert receiver.received[1].json["run"]["status"] == "success"
        assert all(r.verified for r in got)
        # Without onlyOnChange, each failure is sent; a success is sent only when asked for.
        await client.patch(
            f"/api/agents/{agent['id']}",
            json={"prompt": FAILING, "notify": {"onlyOnChange": False, "on": ["failure", "success"]}},
        )
        for _ in range(2):
            await run_once(client, agent["id"])
        await client.patch(f"/api/agents/{agent['id']}", json={"prompt": PASSING})
        await run_once(client, agent["id"])
        await receiver.wait_for(5)
        assert [r.json["type"] for r in receiver.received[2:]] == [
            "run.failed",
            "run.failed",
            "run.succeeded",
        ]


async def test_a_failed_run_is_sent_by_email(server_config: ServerConfig):
    with smtp_receiver() as smtp:
        from app.notify.senders import SmtpConfig

        server_config.smtp = SmtpConfig.from_url(smtp.url, "cron@example.com")
        server_config.public_url = "http://cron.example.com:8787"
        async with running(server_config) as server:
            from app import auth

            _, token = await auth.create_token(server.store, "Tony")
            transport = httpx.ASGITransport(app=server.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t", headers={"Authorization": f"Bearer {token}"}
            ) as client:
                resp = await client.post(
                    "/api/channels", json={"name": "Ops", "type": "email", "to": ["ops@example.com"]}
                )
                agent = await failing_agent(client, resp.json()["data"]["id"])
                run = await run_once(client, agent["id"])
                [message] = await smtp.wait_for(1)
        assert message["Subject"] == f"[Cron Agents] {agent['name']}: run failed (error)"
        assert message["To"] == "ops@example.com" and message["From"] == "cron@example.com"
        text = message.get_content()
        assert "Status: error (attempt 1, manual)" in text
        assert "Cost: $" in text and "Duration: " in text
        assert run["output"][:40] in text
        assert f"http://cron.example.com:8787/api/agents/{agent['id']}/runs/{run['id']}" in text
        assert smtp.handler.envelopes == [("cron@example.com", ["ops@example.com"])]


async def test_a_delivery_that_fails_twice_is_retried_and_delivered_once(client: httpx.AsyncClient):
    async with webhook_receiver() as receiver:
        channel = await hook_channel(client, receiver)
        receiver.failures = 2
        agent = await failing_agent(client, channel)
        run = await run_once(client, agent["id"])
        [delivery] = await wait_deliveries(client, agent["id"], run["id"], {"sent", "failed"}, timeout=30)
        assert delivery["status"] == "sent" and delivery["attempts"] == 3
        assert [r.status for r in receiver.received] == [503, 503, 200]
        assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # one message, tried 3 times
        first, _, last = (r.at for r in receiver.received)
        assert last - first >= 5.5  # about 1 s, then 5 s
        runs = (await client.get(f"/api/agents/{agent['id']}/runs")).json()["data"]
        assert len(runs) == 1  # a delivery never runs the agent again


async def test_pending_deliveries_survive_a_restart(server_config: ServerConfig):
    from app import auth

    receiver = WebhookReceiver(port=free_port())
    async with running(server_config) as server:
        _, token = await auth.create_token(server.store, "Tony")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=server.app),
            base_url="http://t",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            channel = await hook_channel(client, receiver)  # nothing listens there yet
            agent = await failing_agent(client, channel)
            run = await run_once(client, agent["id"])
            [pending] = await wait_deliveries(client, agent["id"], run["id"], {"pending"})
            deadline = time.monotonic() + 10
            while pending["attempts"] == 0:  # the first try failed: connection refused
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
                [pending] = await wait_deliveries(client, agent["id"], run["id"], {"pending"})
            assert "could not connect" in pending["lastError"]
    async with serving_receiver(receiver), running(server_config) as server:
        # The new server sends it once it is due (about 1 s after the failed try).
        [got] = await receiver.wait_for(1)
        assert got.verified and got.json["run"]["id"] == run["id"]
        assert got.headers["webhook-id"] == pending["id"]
        deliveries = await server.store.deliveries.for_run(run["id"])
        await asyncio.sleep(0.2)
        deliveries = await server.store.deliveries.for_run(run["id"])
        assert [(d["status"], d["attempts"]) for d in deliveries] == [("sent", 2)]


async def test_a_failed_run_is_retried_then_alerted_once(client: httpx.AsyncClient, server: Server):
    async with webhook_receiver() as receiver:
        channel = await hook_channel(client, receiver)
        agent = await failing_agent(client, channel, retry={"attempts": 2, "backoffSeconds": 1})
        first = await run_once(client, agent["id"])
        deadline = time.monotonic() + 30
        while True:
            runs = (await client.get(f"/api/agents/{agent['id']}/runs")).json()["data"]
            if len(runs) == 3 and all(r["status"] in FINAL for r in runs):
                break
            assert time.monotonic() < deadline, runs
            await asyncio.sleep(0.1)
        runs.reverse()
        assert [(r["attempt"], r["trigger"], r["status"]) for r in runs] == [
            (1, "manual", "error"),
            (2, "retry", "error"),
            (3, "retry", "error"),
        ]
        assert [r["retryOf"] for r in runs] == [None, first["id"], first["id"]]
        # Each retry waited its backoff: about 1 s, then about 2 s (±10 %).
        gaps = [(b["startedAt"], a["completedAt"]) for a, b in itertools.pairwise(runs)]
        waits = [_ms(start) - _ms(end) for start, end in gaps]
        assert 850 <= waits[0] and 1750 <= waits[1], waits
        [got] = await receiver.wait_for(1)
        await asyncio.sleep(0.3)
        assert len(receiver.received) == 1 and got.json["run"]["id"] == runs[-1]["id"]
        assert got.json["run"]["attempt"] == 3
        fresh = (await client.get(f"/api/agents/{agent['id']}")).json()["data"]
        assert fresh["lastStatus"] == "error"
        row = await server.store.agents.get(agent["id"])
        assert row is not None and row["failure_streak"] == 1  # a run and its retries count once


async def test_an_agent_pauses_after_repeated_failures(
    client: httpx.AsyncClient, server_config: ServerConfig
):
    async with webhook_receiver() as receiver:
        channel = await hook_channel(client, receiver)
        agent = await failing_agent(client, channel, pauseAfterFailures=2, schedule="* * * * *")
        assert agent["nextRunAt"] is not None
        for _ in range(2):
            await run_once(client, agent["id"])
        got = await receiver.wait_for(2)
        assert [r.json["type"] for r in got] == ["run.failed", "agent.paused"]
        assert got[1].json["agent"]["pausedReason"] == "paused after 2 consecutive failures"
        paused = (await client.get(f"/api/agents/{agent['id']}")).json()["data"]
        assert paused["enabled"] is False and paused["nextRunAt"] is None
        assert paused["pausedReason"] == "paused after 2 consecutive failures"
        # A paused agent can still be run by hand; enabling it clears the reason and the streak.
        resumed = (await client.patch(f"/api/agents/{agent['id']}", json={"enabled": True})).json()["data"]
        assert resumed["enabled"] is True and resumed["pausedReason"] is None and resumed["nextRunAt"]
        await run_once(client, agent["id"])
        await asyncio.sleep(0.5)
        assert (await client.get(f"/api/agents/{agent['id']}")).json()["data"]["enabled"] is True


async def test_a_daily_cap_refuses_runs_and_alerts_once(client: httpx.AsyncClient):
    async with webhook_receiver() as receiver:
        channel = await hook_channel(client, receiver)
        resp = await client.post(
            "/api/agents",
            json=agent_body(prompt=PASSING, dailyBudgetUsd=0.00001, notify={"channels": [channel]}),
        )
        agent = resp.json()["data"]
        run = await run_once(client, agent["id"])
        # It could spend only what was left of the cap: it stopped after its one API call.
        assert run["status"] == "budget_exceeded" and run["costUsd"] > 0.00001
        got = await receiver.wait_for(2)
        assert sorted(r.json["type"] for r in got) == ["budget.threshold", "run.failed"]
        [threshold] = [r for r in got if r.json["type"] == "budget.threshold"]
        assert threshold.json["budget"]["window"] == "daily" and threshold.json["budget"]["scope"] == "agent"
        assert threshold.json["budget"]["spentUsd"] == run["costUsd"]
        for _ in range(2):
            resp = await client.post(f"/api/agents/{agent['id']}/run")
            assert resp.status_code == 409, resp.text
            assert resp.json()["message"].startswith("budget: daily cap $0.00001 reached, $0.0")
            assert resp.json()["message"].endswith("spent today")
        got = await receiver.wait_for(3)
        await asyncio.sleep(0.3)
        assert len(receiver.received) == 3 and got[2].json["type"] == "budget.exceeded"  # once per window
        assert got[2].json["budget"]["capUsd"] == 0.00001
        # Another agent has no cap: it runs.
        other = (await client.post("/api/agents", json=agent_body(prompt=PASSING))).json()["data"]
        assert (await run_once(client, other["id"]))["status"] == "success"
        # A global cap refuses every agent.
        await client.patch("/api/settings", json={"dailyBudgetUsd": 0.00001})
        resp = await client.post(f"/api/agents/{other['id']}/run")
        assert resp.status_code == 409 and resp.json()["message"].startswith("budget: global daily cap")


async def test_a_usage_limit_holds_new_runs_until_it_resets(client: httpx.AsyncClient):
    async with webhook_receiver() as receiver:
        channel = await hook_channel(client, receiver)
        await client.patch("/api/settings", json={"notifyChannels": [channel]})
        resp = await client.post("/api/agents", json=agent_body(prompt="Go [[fake:usage_limit]]"))
        agent = resp.json()["data"]
        run = await run_once(client, agent["id"])
        assert run["status"] == "error"
        assert run["output"].startswith("usage limit reached: new runs are held until 2100-01-01 00:00 UTC")
        [alert] = await receiver.wait_for(1)
        assert alert.json["type"] == "usage.limited"
        assert alert.json["usageLimit"]["until"] == "2100-01-01T00:00:00.000Z"
        resp = await client.post(f"/api/agents/{agent['id']}/run")
        assert resp.status_code == 409
        assert resp.json()["message"] == "usage limit reached: runs are held until 2100-01-01 00:00 UTC"
        await asyncio.sleep(0.3)
        assert len(receiver.received) == 1  # one alert, not one per refused run


def _ms(iso_text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso_text.replace("Z", "+00:00")).timestamp() * 1000)


async def test_a_slack_channel_gets_text_and_blocks(client: httpx.AsyncClient):
    async with webhook_receiver() as receiver:
        resp = await client.post(
            "/api/channels", json={"name": "Team", "type": "slack", "url": receiver.url("/slack")}
        )
        agent = await failing_agent(client, resp.json()["data"]["id"])
        run = await run_once(client, agent["id"])
        [got] = await receiver.wait_for(1)
        message = got.json
        assert message["text"] == f"{agent['name']}: run failed (error)"
        header, facts, output = message["blocks"][:3]
        assert header["type"] == "header" and header["text"]["text"] == message["text"]
        assert "Status: error" in facts["text"]["text"]
        assert run["output"][:30] in output["text"]["text"]
        assert "webhook-signature" not in got.headers  # Slack's incoming webhooks are not signed


def readme_verifier() -> Any:
    """The stdlib verification function README gives users (the block after ``verify-snippet``)."""
    text = (Path(__file__).parent.parent / "README.md").read_text()
    block = text.split("<!-- verify-snippet -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # our own README
    return namespace["verified"]


async def test_the_readme_s_verification_snippet_accepts_real_deliveries_only(client: httpx.AsyncClient):
    verified = readme_verifier()
    async with webhook_receiver() as receiver:
        channel = await hook_channel(client, receiver)
        secret = receiver.secrets["/hook"]
        resp = await client.post(f"/api/channels/{channel}/test")
        assert resp.json()["data"]["status"] == "sent"
        [got] = await receiver.wait_for(1)
        assert got.verified is True  # the standardwebhooks library agrees
        assert verified(secret, got.headers, got.body) is True
        assert verified(secret, got.headers, got.body + b" ") is False
        other = "whsec_" + base64.b64encode(b"x" * 32).decode()
        assert verified(other, got.headers, got.body) is False
        stale = {**got.headers, "webhook-timestamp": str(int(got.headers["webhook-timestamp"]) - 600)}
        assert verified(secret, stale, got.body) is False
