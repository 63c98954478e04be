"""An agent's secrets (``env``): write-only in the API, sealed in the database file, in the run's
environment, and redacted from its transcript.

The database's bytes are read from the real files (the main file and its
``-wal``), and the secret reaches a real Claude Code run: the fake Messages API
asks for a ``Bash`` tool call ``echo $GREETING``; the model is sent the value
(the tool's real output), the transcript never holds it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server import Server
from tests.conftest import agent_body
from tests.fake_anthropic import TOOL_DONE_TEXT, FakeAnthropic
from tests.test_api import assert_error
from tests.test_runner import wait_run

SECRET = "s3cr3t-value-Ωmega-4711"
OTHER = "another-secret-value-0815"
MASK = "********"


def database_bytes(server: Server) -> bytes:
    path = Path(server.config.db_path)
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


async def test_secrets_are_write_only_merged_by_name_and_sealed_on_disk(
    client: httpx.AsyncClient, server: Server
):
    answers: list[str] = []

    async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, url, **kwargs)
        answers.append(response.text)
        return response

    async with server.bus.subscribe() as sub:
        created = await call("POST", "/api/agents", json=agent_body(env={"GREETING": SECRET, "B_KEY": OTHER}))
        assert created.status_code == 200, created.text
        agent = created.json()["data"]
        events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    assert agent["env"] == {"B_KEY": MASK, "GREETING": MASK}
    url = f"/api/agents/{agent['id']}"
    await call("GET", url)
    await call("GET", "/api/agents")
    # A client sending back what it read keeps the values; null deletes; other names are kept.
    sent_back = await call(
        "PATCH", url, json={"env": {"GREETING": MASK, "B_KEY": None, "NEW": "fresh-value"}}
    )
    assert sent_back.json()["data"]["env"] == {"GREETING": MASK, "NEW": MASK}
    unknown_mask = await call("PATCH", url, json={"env": {"OTHER": MASK}})
    assert assert_error(unknown_mask, 400)["data"] == {
        "env": f"OTHER: {MASK} is how a value is shown: send the value"
    }
    bad = await call("POST", "/api/agents", json=agent_body(env={"NOT-A-NAME": "x", "OK": "y"}))
    assert assert_error(bad, 400)["data"] == {
        "env": "NOT-A-NAME: names are letters, digits and _, not starting with a digit"
    }
    for text in [*answers, json.dumps(events)]:
        assert SECRET not in text and OTHER not in text
    # Sealed in the database, never in the clear, and opened with the server's key.
    on_disk = database_bytes(server)
    assert SECRET.encode() not in on_disk and OTHER.encode() not in on_disk
    assert b"fresh-value" not in on_disk
    row = await server.store.agents.get(agent["id"])
    sealed = json.loads(row["env"])
    assert sorted(sealed) == ["GREETING", "NEW"]
    assert server.secrets.open(sealed["GREETING"]) == SECRET


@pytest.mark.slow
async def test_a_run_gets_the_secret_in_its_environment_and_its_transcript_never_shows_it(
    client: httpx.AsyncClient, server: Server, fake_anthropic: FakeAnthropic, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    # GREETING does not look like a secret's name: it is redacted because the agent declared it one.
    body = agent_body(
        prompt="Greet. [[fake:bash]] [[command:echo The greeting is $GREETING.]]",
        allowedTools=["Bash"],
        env={"GREETING": SECRET},
        enabled=False,
    )
    agent = (await client.post("/api/agents", json=body)).json()["data"]
    started = await client.post(f"/api/agents/{agent['id']}/run")
    run = await wait_run(client, agent["id"], started.json()["runId"])
    assert run["status"] == "success", run["output"]
    assert run["output"] == TOOL_DONE_TEXT
    # The model was sent the tool's real output: the CLI had the secret in its environment.
    sent = json.dumps([r.body for r in fake_anthropic.messages_requests("bash")], ensure_ascii=False)
    assert f"The greeting is {SECRET}." in sent
    [result] = [e for e in run["events"] if e["type"] == "tool_result"]
    assert result["content"].strip() == "The greeting is [REDACTED]."
    transcript = json.dumps(run, ensure_ascii=False)
    assert SECRET not in transcript
    assert SECRET.encode() not in database_bytes(server)
    assert all(SECRET not in record.getMessage() for record in caplog.records)
