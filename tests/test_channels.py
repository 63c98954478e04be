"""Channels and settings through the API: validation per field, secrets shown once and kept encrypted."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server import Server
from tests.conftest import agent_body
from tests.receivers import webhook_receiver


async def create_channel(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/channels", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def test_a_webhook_channel_gets_a_secret_shown_once(client: httpx.AsyncClient, server: Server):
    created = await create_channel(client, name="On-call", type="webhook", url="https://example.com/hook")
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert created["enabled"] is True and created["to"] is None
    assert created["id"].startswith("chn_")
    again = (await client.get(f"/api/channels/{created['id']}")).json()["data"]
    assert "secret" not in again and again["url"] == "https://example.com/hook"
    listed = (await client.get("/api/channels")).json()["data"]
    assert [c["id"] for c in listed] == [created["id"]] and "secret" not in listed[0]
    patched = (await client.patch(f"/api/channels/{created['id']}", json={"name": "Pager"})).json()["data"]
    assert patched["name"] == "Pager" and "secret" not in patched
    # Encrypted at rest: neither the database nor its WAL holds the secret.
    stored = b"".join(p.read_bytes() for p in Path(server.db.path).parent.glob("cronagents.db*"))
    assert secret.encode() not in stored and secret[6:].encode() not in stored


async def test_a_given_secret_is_kept_and_a_bad_one_refused(client: httpx.AsyncClient):
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    created = await create_channel(
        client, name="Mine", type="webhook", url="http://127.0.0.1:9/h", secret=secret
    )
    assert created["secret"] == secret
    for bad, problem in [
        ("abc", "must start with whsec_"),
        ("whsec_###", "base64"),
        ("whsec_" + base64.b64encode(b"k" * 8).decode(), "24 to 64 bytes"),
    ]:
        resp = await client.post(
            "/api/channels", json={"name": "x", "type": "webhook", "url": "https://e.com/h", "secret": bad}
        )
        assert resp.status_code == 400 and problem in resp.json()["data"]["secret"], resp.text


async def test_a_slack_url_is_shown_only_in_part(client: httpx.AsyncClient, server: Server):
    url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXSECRET"
    created = await create_channel(client, name="Team", type="slack", url=url)
    assert created["url"] == "https://hooks.slack.com/services/…" and created["secret"] is None
    stored = b"".join(p.read_bytes() for p in Path(server.db.path).parent.glob("cronagents.db*"))
    assert b"XXXXXXXXSECRET" not in stored


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        ({"name": "x", "type": "pager"}, {"type": "must be one of webhook, slack, email"}),
        ({"name": "x", "type": "webhook"}, {"url": "is required for a webhook channel"}),
        ({"name": "x", "type": "webhook", "url": "ftp://example.com"}, {"url": "http:// or https://"}),
        ({"name": "x", "type": "webhook", "url": "https://"}, {"url": "with a host"}),
        ({"name": "x", "type": "webhook", "url": "https://ex ample.com/h"}, {"url": "spaces"}),
        ({"name": "x", "type": "slack", "url": 3}, {"url": "must be a URL"}),
        ({"name": "x", "type": "email"}, {"to": "is required for an email channel"}),
        ({"name": "x", "type": "email", "to": []}, {"to": "must not be empty"}),
        ({"name": "x", "type": "email", "to": ["not-an-address"]}, {"to": "is not an email address"}),
        ({"name": "x", "type": "email", "to": ["a@b.com"], "url": "https://e.com"}, {"url": "not used"}),
        ({"name": "x", "type": "slack", "url": "https://e.com", "to": ["a@b.com"]}, {"to": "not used"}),
        ({"name": "", "type": "slack", "url": "https://e.com"}, {"name": "must not be empty"}),
        ({"type": "slack", "url": "https://e.com"}, {"name": "is required"}),
        ({"name": "x", "type": "slack", "url": "https://e.com", "colour": 1}, {"colour": "unknown field"}),
    ],
)
async def test_bad_channels_are_refused_per_field(
    client: httpx.AsyncClient, body: dict[str, Any], problems: dict[str, str]
):
    resp = await client.post("/api/channels", json=body)
    assert resp.status_code == 400, resp.text
    data = resp.json()["data"]
    assert set(data) == set(problems), data
    for key, words in problems.items():
        assert words in data[key], (key, data[key])
    assert (await client.get("/api/channels")).json()["data"] == []


async def test_a_channel_s_type_is_fixed_and_its_fields_follow_it(client: httpx.AsyncClient):
    created = await create_channel(client, name="Ops", type="email", to=["ops@example.com"])
    cid = created["id"]
    resp = await client.patch(f"/api/channels/{cid}", json={"type": "webhook"})
    assert resp.status_code == 400 and "cannot be changed" in resp.json()["data"]["type"]
    resp = await client.patch(f"/api/channels/{cid}", json={"url": "https://e.com/h"})
    assert resp.status_code == 400 and "not used" in resp.json()["data"]["url"]
    resp = await client.patch(f"/api/channels/{cid}", json={"to": None})
    assert resp.status_code == 400 and "is required" in resp.json()["data"]["to"]
    resp = await client.patch(
        f"/api/channels/{cid}", json={"to": ["a@example.com", "a@example.com", "b@x.io"]}
    )
    assert resp.status_code == 200 and resp.json()["data"]["to"] == ["a@example.com", "b@x.io"]
    same = await client.patch(f"/api/channels/{cid}", json={**resp.json()["data"], "enabled": False})
    assert same.status_code == 200 and same.json()["data"]["enabled"] is False


async def test_agents_and_settings_may_name_only_existing_channels(client: httpx.AsyncClient):
    resp = await client.post("/api/agents", json=agent_body(notify={"channels": ["chn_nope"]}))
    assert resp.status_code == 400
    assert resp.json()["data"] == {"notify": "channels: no such channel: chn_nope"}
    resp = await client.patch("/api/settings", json={"notifyChannels": ["chn_nope"]})
    assert resp.status_code == 400 and resp.json()["data"] == {"notifyChannels": "no such channel: chn_nope"}
    channel = await create_channel(client, name="Ops", type="email", to=["ops@example.com"])
    agent = (await client.post("/api/agents", json=agent_body(notify={"channels": [channel["id"]]}))).json()[
        "data"
    ]
    assert agent["notify"] == {
        "channels": [channel["id"]],
        "on": ["failure", "recovery", "budget", "missed", "paused"],
        "onlyOnChange": True,
    }
    settings = (await client.patch("/api/settings", json={"notifyChannels": [channel["id"]]})).json()["data"]
    assert settings == {
        "dailyBudgetUsd": None,
        "monthlyBudgetUsd": None,
        "notifyChannels": [channel["id"]],
        "maxConcurrentRuns": None,
    }
    # Deleting the channel takes it out of both lists.
    assert (await client.delete(f"/api/channels/{channel['id']}")).status_code == 200
    assert (await client.get(f"/api/channels/{channel['id']}")).status_code == 404
    assert (await client.get(f"/api/agents/{agent['id']}")).json()["data"]["notify"]["channels"] == []
    assert (await client.get("/api/settings")).json()["data"]["notifyChannels"] == []


async def test_an_update_of_a_group_keeps_the_keys_not_sent(client: httpx.AsyncClient):
    agent = (
        await client.post("/api/agents", json=agent_body(retry={"attempts": 2, "backoffSeconds": 5}))
    ).json()["data"]
    assert agent["retry"] == {"attempts": 2, "backoffSeconds": 5, "maxBackoffSeconds": 3600}
    resp = await client.patch(f"/api/agents/{agent['id']}", json={"retry": {"maxBackoffSeconds": 60}})
    assert resp.json()["data"]["retry"] == {"attempts": 2, "backoffSeconds": 5, "maxBackoffSeconds": 60}
    resp = await client.patch(f"/api/agents/{agent['id']}", json={"notify": {"on": ["success", "success"]}})
    assert resp.json()["data"]["notify"]["on"] == ["success"]
    resp = await client.patch(f"/api/agents/{agent['id']}", json={"retry": {"attempts": 11}})
    assert resp.status_code == 400
    assert resp.json()["data"] == {"retry": "attempts: must be an integer from 0 to 10"}


async def test_settings_hold_global_caps(client: httpx.AsyncClient):
    resp = await client.patch("/api/settings", json={"dailyBudgetUsd": 5, "monthlyBudgetUsd": 100.5})
    assert resp.json()["data"] == {
        "dailyBudgetUsd": 5,
        "monthlyBudgetUsd": 100.5,
        "notifyChannels": [],
        "maxConcurrentRuns": None,
    }
    resp = await client.patch("/api/settings", json={"dailyBudgetUsd": None})
    assert resp.json()["data"]["dailyBudgetUsd"] is None and resp.json()["data"]["monthlyBudgetUsd"] == 100.5
    for bad in (
        {"dailyBudgetUsd": 0},
        {"monthlyBudgetUsd": "a lot"},
        {"colour": "red"},
        {"notifyChannels": "x"},
    ):
        assert (await client.patch("/api/settings", json=bad)).status_code == 400, bad


async def test_a_test_message_is_signed_and_reported(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    async with webhook_receiver() as receiver:
        created = await create_channel(client, name="Hook", type="webhook", url=receiver.url("/hook"))
        receiver.secrets["/hook"] = created["secret"]
        resp = await client.post(f"/api/channels/{created['id']}/test")
        assert resp.status_code == 200, resp.text
        delivery = resp.json()["data"]
        assert (
            delivery["status"] == "sent" and delivery["attempts"] == 1 and delivery["type"] == "channel.test"
        )
        [got] = receiver.received
        assert got.verified is True  # the standardwebhooks library accepts the signature
        assert got.headers["webhook-id"] == delivery["id"]
        assert got.json["type"] == "channel.test" and got.json["channel"]["name"] == "Hook"
        receiver.failures = 1
        failed = (await client.post(f"/api/channels/{created['id']}/test")).json()["data"]
        assert failed["status"] == "failed" and failed["lastError"].startswith("HTTP 503")
    down = (await client.post(f"/api/channels/{created['id']}/test")).json()["data"]
    assert down["status"] == "failed" and "could not connect" in down["lastError"]
    assert created["secret"] not in caplog.text  # never logged
