"""Signed inbound webhooks, over real HTTP: GitHub's published example vector, Standard Webhooks
signed by the ``standardwebhooks`` library, repeated deliveries, refusals and the throttle.

The server is the real one behind uvicorn on 127.0.0.1; the runs it starts are
real Claude Code runs against the fake Messages API.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from app.errors import ServiceError
from app.inbound import DELIVERY_MEMORY_MS
from app.server import Server
from app.throttle import FAILURE_LIMIT
from tests.conftest import agent_body
from tests.receivers import webhook_receiver
from tests.test_alerts import FAILING, hook_channel
from tests.test_runner import wait_run

pytestmark = pytest.mark.both_backends

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_s_example_vector_verifies_and_a_changed_byte_does_not(server: Server):
    verify = server.hooks._verify
    ids = verify(
        GITHUB_SECRET, {"x-hub-signature-256": GITHUB_SIGNATURE, "x-github-delivery": "d-1"}, GITHUB_PAYLOAD
    )
    assert ids == ["github:d-1", GITHUB_SIGNATURE]
    for body, signature in (
        (b"Hello, World?", GITHUB_SIGNATURE),
        (GITHUB_PAYLOAD, GITHUB_SIGNATURE[:-1] + "f"),
    ):
        with pytest.raises(ServiceError) as caught:
            verify(GITHUB_SECRET, {"x-hub-signature-256": signature}, body)
        assert caught.value.status_code == 401


async def agent_with_secret(
    client: httpx.AsyncClient, secret: str | None = None, **fields: Any
) -> tuple[str, str]:
    body = agent_body(**{"prompt": "[[fake:plain]] Triage this.", "enabled": False, **fields})
    agent = (await client.post("/api/agents", json=body)).json()["data"]
    assert agent["triggerUrl"] is None
    sent = {"secret": secret} if secret else None
    answer = await client.post(f"/api/agents/{agent['id']}/trigger-secret", json=sent)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["url"] == f"/hooks/agents/{agent['id']}"
    assert (await client.get(f"/api/agents/{agent['id']}")).json()["data"]["triggerUrl"] == data["url"]
    return agent["id"], data["secret"]


async def test_github_deliveries_start_one_run_each_without_a_token(
    live_client: httpx.AsyncClient, live_url: str
):
    agent_id, _ = await agent_with_secret(live_client, GITHUB_SECRET)
    hooks = httpx.AsyncClient(base_url=live_url, timeout=10)  # no token
    url = f"/hooks/agents/{agent_id}"
    signed = {"X-Hub-Signature-256": GITHUB_SIGNATURE, "Content-Type": "text/plain"}
    async with hooks:
        first = await hooks.post(url, content=GITHUB_PAYLOAD, headers={**signed, "X-GitHub-Delivery": "d-1"})
        assert first.status_code == 200, first.text
        assert first.json()["message"] == "Agent started"
        run_id = first.json()["runId"]
        again = await hooks.post(url, content=GITHUB_PAYLOAD, headers={**signed, "X-GitHub-Delivery": "d-1"})
        replayed = await hooks.post(
            url, content=GITHUB_PAYLOAD, headers={**signed, "X-GitHub-Delivery": "d-2"}
        )
        for answer in (again, replayed):
            assert answer.status_code == 200 and answer.json() == {
                "message": "Already received",
                "runId": run_id,
            }
        bad = await hooks.post(url, content=b"Hello, World?", headers={**signed, "X-GitHub-Delivery": "d-3"})
        assert bad.status_code == 401 and "does not match" in bad.json()["message"]
        assert bad.headers["www-authenticate"].startswith("Signature")
        unsigned = await hooks.post(url, json={"a": 1})
        assert unsigned.status_code == 401 and unsigned.json()["message"].startswith("Unsigned")
        assert (await hooks.post("/hooks/agents/agt_nobody", content=b"x", headers=signed)).status_code == 404
    run = await wait_run(live_client, agent_id, run_id)
    assert (run["status"], run["trigger"], run["input"]) == ("success", "webhook", "Hello, World!")
    runs = (await live_client.get(f"/api/agents/{agent_id}/runs")).json()["data"]
    assert [r["id"] for r in runs] == [run_id]


def standard_headers(secret: str, body: bytes, msg_id: str, at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


async def test_standard_webhooks_need_a_fresh_timestamp_and_the_current_secret(
    live_client: httpx.AsyncClient, live_url: str
):
    agent_id, secret = await agent_with_secret(live_client)
    assert secret.startswith("whsec_")
    body = json.dumps({"alert": "disk full", "host": "db1"}).encode()
    url = f"/hooks/agents/{agent_id}"
    async with httpx.AsyncClient(base_url=live_url, timeout=10) as hooks:
        old = datetime.now(UTC) - timedelta(minutes=6)
        stale = await hooks.post(url, content=body, headers=standard_headers(secret, body, "msg_1", old))
        assert stale.status_code == 401 and "too old" in stale.json()["message"]
        ok = await hooks.post(url, content=body, headers=standard_headers(secret, body, "msg_1"))
        assert ok.status_code == 200 and ok.json()["message"] == "Agent started", ok.text
        repeat = await hooks.post(url, content=body, headers=standard_headers(secret, body, "msg_1"))
        assert repeat.json() == {"message": "Already received", "runId": ok.json()["runId"]}
        rotated = (await live_client.post(f"/api/agents/{agent_id}/trigger-secret")).json()["data"]["secret"]
        assert rotated != secret
        with_old = await hooks.post(url, content=body, headers=standard_headers(secret, body, "msg_2"))
        assert with_old.status_code == 401
        with_new = await hooks.post(url, content=body, headers=standard_headers(rotated, body, "msg_2"))
        assert with_new.status_code == 200
        removed = await live_client.delete(f"/api/agents/{agent_id}/trigger-secret")
        assert removed.json()["data"]["triggerUrl"] is None
        gone = await hooks.post(url, content=body, headers=standard_headers(rotated, body, "msg_3"))
        assert gone.status_code == 404 and "no trigger secret" in gone.json()["message"]
    run = await wait_run(live_client, agent_id, ok.json()["runId"])
    assert run["input"] == '{\n  "alert": "disk full",\n  "host": "db1"\n}'
    # The secret is answered only when it is set: never by the agent, its list or its runs.
    for path in (f"/api/agents/{agent_id}", "/api/agents", f"/api/agents/{agent_id}/runs/{run['id']}"):
        assert rotated not in (await live_client.get(path)).text


async def test_refused_webhooks_are_throttled_like_failed_tokens(
    live_client: httpx.AsyncClient, live_url: str
):
    agent_id, _ = await agent_with_secret(live_client, GITHUB_SECRET)
    bad = {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    async with httpx.AsyncClient(base_url=live_url, timeout=10) as hooks:
        codes = [
            (await hooks.post(f"/hooks/agents/{agent_id}", content=b"x", headers=bad)).status_code
            for _ in range(FAILURE_LIMIT + 1)
        ]
        assert codes == [401] * FAILURE_LIMIT + [429]
        throttled = await hooks.post("/hooks/agents/agt_nobody", content=b"x", headers=bad)
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
        # Counted apart from failed tokens (each has its window), so neither starves the other.
        token = await hooks.get("/api/agents", headers={"Authorization": "Bearer ca_wrong"})
        assert token.status_code == 401
        good = {"X-Hub-Signature-256": GITHUB_SIGNATURE, "X-GitHub-Delivery": "d-9"}
        started = await hooks.post(f"/hooks/agents/{agent_id}", content=GITHUB_PAYLOAD, headers=good)
        assert started.status_code == 200  # a valid signature is never throttled
    await wait_run(live_client, agent_id, started.json()["runId"])


async def test_a_delivery_id_is_forgotten_after_its_memory(server: Server, client: httpx.AsyncClient):
    agent_id, _ = await agent_with_secret(client)
    runs = server.store.runs
    t0 = server.service.clock()
    first, fresh = await runs.insert_delivered("run_a", agent_id, t0, "srv_x", None, ["standard:m"], 0)
    assert (first, fresh) == ("run_a", True)
    assert await runs.insert_delivered("run_b", agent_id, t0 + 1, "srv_x", None, ["standard:m"], 0) == (
        "run_a",
        False,
    )
    later = t0 + DELIVERY_MEMORY_MS + 1
    assert await runs.insert_delivered(
        "run_c", agent_id, later, "srv_x", None, ["standard:m"], later - DELIVERY_MEMORY_MS
    ) == ("run_c", True)
    await server.runner.cancel_agent_runs(agent_id)


async def test_trigger_secret_rules(client: httpx.AsyncClient):
    agent = (await client.post("/api/agents", json=agent_body())).json()["data"]
    url = f"/api/agents/{agent['id']}/trigger-secret"
    short = await client.post(url, json={"secret": "too short"})
    assert short.status_code == 400 and short.json()["data"] == {
        "secret": "must be a text of 16 to 200 characters"
    }
    assert (await client.post(url, json={"other": 1})).json()["data"] == {"other": "unknown field"}
    assert (await client.post("/api/agents/agt_nobody/trigger-secret")).status_code == 404
    assert (await client.delete("/api/agents/agt_nobody/trigger-secret")).status_code == 404


@pytest.mark.slow
async def test_a_webhook_run_that_fails_is_alerted_like_any_other(
    live_client: httpx.AsyncClient, live_url: str
):
    async with webhook_receiver() as receiver:
        channel = await hook_channel(live_client, receiver)
        agent_id, secret = await agent_with_secret(
            live_client, prompt=FAILING, maxTurns=1, allowedTools=["Bash"], notify={"channels": [channel]}
        )
        body = b'{"ref": "refs/heads/main"}'
        async with httpx.AsyncClient(base_url=live_url, timeout=10) as hooks:
            started = await hooks.post(
                f"/hooks/agents/{agent_id}", content=body, headers=standard_headers(secret, body, "msg_fail")
            )
        run = await wait_run(live_client, agent_id, started.json()["runId"])
        assert (run["status"], run["trigger"]) == ("error", "webhook")
        [got] = await receiver.wait_for(1)
        assert got.verified and got.json["type"] == "run.failed" and got.json["run"]["trigger"] == "webhook"
