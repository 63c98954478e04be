"""A run's input and the prompt's placeholders: the rules, and what the model is really sent.

The placeholders are checked through the API; what a run renders is read off
the requests the real Claude Code CLI sends to the fake Messages API.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.templates import INPUT_HEADING, LAST_OUTPUT_BYTES, input_text, render, unknown_placeholders
from tests.conftest import agent_body
from tests.fake_anthropic import PLAIN_TEXT, FakeAnthropic
from tests.test_api import assert_error
from tests.test_runner import wait_run

# -- the templates ------------------------------------------------------------------


def test_render_fills_each_placeholder_once_and_appends_input_it_does_not_place():
    values = {"input": "{{now}} stays", "now": "2026-01-05T10:00:00+01:00", "agent.name": "Digest"}
    assert render("At {{ now }}, {{agent.name}} got: {{input}}", values) == (
        "At 2026-01-05T10:00:00+01:00, Digest got: {{now}} stays"
    )
    assert render("Summarize.", {"input": "the alert"}) == f"Summarize.\n\n{INPUT_HEADING}\n\nthe alert"
    assert render("Summarize. {{lastOutput}}", {}) == "Summarize. "
    assert render("Keep {{ .Values }} and {{#each}}", {}) == "Keep {{ .Values }} and {{#each}}"


def test_last_output_is_cut_to_8_kb():
    rendered = render("{{lastOutput}}", {"lastOutput": "é" * LAST_OUTPUT_BYTES})
    assert rendered.startswith("é" * (LAST_OUTPUT_BYTES // 2))
    assert rendered.endswith(f"[… output cut: {LAST_OUTPUT_BYTES} more bytes]")


def test_input_json_is_indented_text():
    assert input_text({"alert": {"level": "high"}}) == '{\n  "alert": {\n    "level": "high"\n  }\n}'
    assert input_text("plain") == "plain"
    assert input_text([1, "ü"]) == '[\n  1,\n  "ü"\n]'
    assert input_text(None) is None
    assert unknown_placeholders("{{input}} {{nmae}} {{agent.id}} {{nmae}}") == ["nmae", "agent.id"]


# -- through the API -------------------------------------------------------------------


async def test_an_unknown_placeholder_is_refused_on_create_and_update(client: httpx.AsyncClient):
    body = assert_error(await client.post("/api/agents", json=agent_body(prompt="Hi {{user}}")), 400)
    assert body["data"] == {
        "prompt": "unknown placeholder {{user}}: the placeholders are {{input}}, {{now}}, "
        "{{lastOutput}}, {{agent.name}}"
    }
    agent = (await client.post("/api/agents", json=agent_body(prompt="At {{now}}: {{ input }}"))).json()
    patch = await client.patch(f"/api/agents/{agent['data']['id']}", json={"prompt": "{{a}} {{b}}"})
    assert "placeholders {{a}}, {{b}}:" in assert_error(patch, 400)["data"]["prompt"]


async def test_a_run_body_holds_only_input(client: httpx.AsyncClient):
    agent = (await client.post("/api/agents", json=agent_body(enabled=False))).json()["data"]
    run = f"/api/agents/{agent['id']}/run"
    assert assert_error(await client.post(run, json={"inptu": 1}), 400)["data"] == {"inptu": "unknown field"}
    assert assert_error(await client.post(run, json=["x"]), 400)["data"] == {"body": "must be a JSON object"}
    assert assert_error(await client.post(run, content=b"null", headers=JSON), 400)["data"] == {
        "body": "must be a JSON object"
    }
    assert assert_error(await client.post(run, content=b"{", headers=JSON), 400)["message"].startswith(
        "Request body is not valid JSON"
    )
    assert (
        await client.post(run, content=b"text", headers={"content-type": "text/plain"})
    ).status_code == 415


JSON = {"content-type": "application/json"}


# -- real runs -------------------------------------------------------------------------


def prompt_sent(fake: FakeAnthropic, marker: str) -> str:
    """The first user message of the latest request whose messages hold ``marker``."""
    for request in reversed(fake.messages_requests()):
        text = json.dumps(request.body["messages"][0]["content"], ensure_ascii=False)
        if marker in text:
            content = request.body["messages"][0]["content"]
            return content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content)
    raise AssertionError(f"no request holds {marker}")


async def run(client: httpx.AsyncClient, agent_id: str, body: Any = None) -> dict[str, Any]:
    response = await client.post(f"/api/agents/{agent_id}/run", json=body) if body else None
    if response is None:
        response = await client.post(f"/api/agents/{agent_id}/run")
    assert response.status_code == 200, response.text
    return await wait_run(client, agent_id, response.json()["runId"])


@pytest.mark.slow
async def test_a_run_gets_its_input_the_time_its_name_and_the_last_output(
    client: httpx.AsyncClient, fake_anthropic: FakeAnthropic
):
    prompt = "[[fake:plain]] T1 {{agent.name}} at {{now}}; input={{input}}; before={{lastOutput}}."
    agent = (
        await client.post(
            "/api/agents", json=agent_body(name="Memo", prompt=prompt, timezone="Asia/Kolkata", enabled=False)
        )
    ).json()["data"]
    first = await run(client, agent["id"], {"input": {"alert": "disk full", "host": "db1"}})
    assert first["status"] == "success", first["output"]
    assert first["input"] == '{\n  "alert": "disk full",\n  "host": "db1"\n}'
    sent = prompt_sent(fake_anthropic, "T1 Memo")
    assert f"input={first['input']}; before=." in sent  # no earlier success: empty
    assert "+05:30;" in sent.split(" at ", 1)[1]  # {{now}} in the agent's zone
    second = await run(client, agent["id"])
    assert second["input"] is None
    assert f"input=; before={PLAIN_TEXT}." in prompt_sent(fake_anthropic, "T1 Memo")


@pytest.mark.slow
async def test_input_for_a_prompt_without_the_placeholder_follows_it_under_a_heading(
    client: httpx.AsyncClient, fake_anthropic: FakeAnthropic
):
    agent = (
        await client.post("/api/agents", json=agent_body(prompt="[[fake:plain]] T2 Triage.", enabled=False))
    ).json()["data"]
    done = await run(client, agent["id"], {"input": "CPU at 99 % on web-3"})
    assert done["status"] == "success", done["output"]
    assert prompt_sent(fake_anthropic, "T2 Triage").endswith(
        f"T2 Triage.\n\n{INPUT_HEADING}\n\nCPU at 99 % on web-3"
    )
