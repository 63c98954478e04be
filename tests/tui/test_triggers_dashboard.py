"""Pilot tests of the triggers' dashboard (issue 12, item 7) against the real server over a real socket.

``R`` runs an agent with input; ``W`` creates, rotates or removes its trigger secret (shown once, with
the hook URL a signed webhook then reaches); chained and webhook runs are marked in the Runs
tab, and a run's page shows its input, its trigger and the run it came from (``P`` opens it);
a one-shot agent shows its time in the table; the editor picks chain targets by name, checks
the MCP servers' JSON, keeps secrets write-only and chooses between a schedule and one time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import Input, Select, TextArea

from app.client import ApiClient
from app.server import Server
from app.tui.screens.editor import EditorScreen
from app.tui.screens.help import HelpScreen
from app.tui.screens.run_detail import RunScreen
from app.tui.screens.run_input import RunInputScreen, run_input
from app.tui.screens.secret import SecretScreen
from app.tui.screens.trigger_choice import TriggerChoiceScreen
from app.tui_demo import add_run
from tests.conftest import agent_body
from tests.tui.conftest import ready, wait_until
from tests.tui.test_dashboard import type_into
from widgets.agent_form import AgentForm
from widgets.choice_list import ChoiceList
from widgets.secret_env import SecretEnv

SIZE = (120, 36)


def signed(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    """GitHub's headers for ``body``: X-Hub-Signature-256 (HMAC-SHA256 keyed with the secret)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Delivery": delivery,
        "Content-Type": "application/json",
    }


async def finished_runs(
    api: ApiClient, agent_id: str, count: int, timeout: float = 60
) -> list[dict[str, Any]]:
    """The agent's runs once ``count`` of them have ended (real CLI runs against the fake API)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = await api.list_runs(agent_id)
        if sum(1 for r in runs if r["status"] not in ("queued", "running")) >= count:
            return runs
        assert time.monotonic() < deadline, f"runs of {agent_id}: {[r['status'] for r in runs]}"
        await asyncio.sleep(0.1)


def test_what_the_input_is_sent_as() -> None:
    assert run_input("") is None and run_input("  \n") is None
    assert run_input('{"alert": "disk full"}') == {"alert": "disk full"}
    assert run_input("[1, 2]") == [1, 2]
    assert run_input("the release moved to Friday") == "the release moved to Friday"
    assert run_input("{not json") == "{not json"  # sent as the text typed
    assert run_input("42") == "42"  # only an object or array is JSON: a number stays text


@pytest.mark.slow
async def test_R_runs_the_agent_with_json_input(make_app: Any, api: ApiClient) -> None:
    agent = await api.create_agent(agent_body(name="Triage", prompt="[[fake:plain]] Triage: {{input}}"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, RunInputScreen), what="input dialog")
        dialog = app.screen
        area = dialog.query_one(TextArea)
        assert area.has_focus
        area.text = '{"alert": "disk full", "host": "db1"}'
        await pilot.pause()
        assert "Sent as JSON (an object)" in str(dialog.query_one("#run-input-kind").render())
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is app.main_screen, what="dialog closed")
        [run] = await api.list_runs(agent["id"])
        assert run["trigger"] == "manual"
        assert json.loads(run["input"]) == {"alert": "disk full", "host": "db1"}
        assert any(run["id"] in n.message for n in app._notifications), "the run id is shown"
    [run] = await finished_runs(api, agent["id"], 1)
    assert run["status"] == "success"


async def test_R_shows_the_api_refusal_and_stays_open(make_app: Any, api: ApiClient, server: Server) -> None:
    agent = await api.create_agent(agent_body(name="Capped", dailyBudgetUsd=0.01))
    await add_run(server, agent["id"], "success", datetime.now(UTC) - timedelta(minutes=1), cost=0.5)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, RunInputScreen))
        dialog = app.screen
        await pilot.press(*"hello")
        assert "Sent as text (5 characters)" in str(dialog.query_one("#run-input-kind").render())
        await pilot.press("ctrl+s")
        message = dialog.query_one("#run-input-message")
        await wait_until(pilot, lambda: "✗" in str(message.render()), what="the refusal")
        assert "409" in str(message.render()) and "daily cap" in str(message.render())
        assert app.screen is dialog  # still open: fix the cap elsewhere, or close
        await pilot.press("escape")
        assert app.screen is app.main_screen
    assert len(await api.list_runs(agent["id"])) == 1  # nothing started


@pytest.mark.slow
async def test_W_shows_the_trigger_secret_once_with_the_url_then_rotates_or_removes_it(
    make_app: Any, api: ApiClient, live_url: str
) -> None:
    agent = await api.create_agent(
        agent_body(name="Hooked", prompt="[[fake:plain]] {{input}}", enabled=False)
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("W")
        await wait_until(pilot, lambda: isinstance(app.screen, SecretScreen), what="the secret")
        shown = app.screen
        assert isinstance(shown, SecretScreen)
        first = shown.secret
        assert first.startswith("whsec_")
        assert shown.url == f"{live_url}/hooks/agents/{agent['id']}"
        assert shown.url in str(shown.query_one("#secret-url").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main_screen)
        assert (await api.get_agent(agent["id"]))["triggerUrl"] == f"/hooks/agents/{agent['id']}"
        assert "↯ webhook" in str(app.main_screen.query_one("#detail-title").render())

        # A delivery signed with the secret shown starts the agent (no token).
        body = json.dumps({"alert": "disk full"}).encode()
        async with httpx.AsyncClient(base_url=live_url, timeout=10) as hooks:
            answer = await hooks.post(shown.url, content=body, headers=signed(first, body, "d-1"))
            assert answer.status_code == 200, answer.text

            # W again: asks first (rotate or remove), then a new secret; the old one is refused.
            await pilot.press("W")
            await wait_until(pilot, lambda: isinstance(app.screen, TriggerChoiceScreen), what="the question")
            assert shown.url in str(app.screen.query_one("#trigger-question").render())
            await pilot.press("r")
            await wait_until(pilot, lambda: isinstance(app.screen, SecretScreen), what="the new secret")
            second = app.screen.secret
            assert second != first
            await pilot.press("escape")
            refused = await hooks.post(shown.url, content=body, headers=signed(first, body, "d-2"))
            assert refused.status_code == 401
            # W once more: remove it; no webhook starts the agent any more (404), escape changes nothing.
            await pilot.press("W")
            await wait_until(pilot, lambda: isinstance(app.screen, TriggerChoiceScreen))
            await pilot.press("escape")
            assert (await api.get_agent(agent["id"]))["triggerUrl"] is not None
            await pilot.press("W")
            await wait_until(pilot, lambda: isinstance(app.screen, TriggerChoiceScreen))
            await pilot.press("x")
            await wait_until(pilot, lambda: app.screen is app.main_screen)
            detail = app.main_screen.query_one("#detail-title")
            await wait_until(pilot, lambda: "webhook" not in str(detail.render()), what="the mark gone")
            assert (await api.get_agent(agent["id"]))["triggerUrl"] is None
            gone = await hooks.post(shown.url, content=body, headers=signed(second, body, "d-3"))
            assert gone.status_code == 404
    [run] = await finished_runs(api, agent["id"], 1)
    assert run["trigger"] == "webhook"


@pytest.mark.slow
async def test_chained_and_webhook_runs_are_marked_and_a_run_shows_its_input_and_parent(
    make_app: Any, api: ApiClient, live_url: str
) -> None:
    """A webhook starts "Triage", whose success chains to "Notes": both marked; P goes up the chain."""
    notes = await api.create_agent(
        agent_body(name="Notes", prompt="[[fake:plain]] Note: {{input}}", enabled=False)
    )
    triage = await api.create_agent(
        agent_body(name="Triage", prompt="[[fake:plain]] {{input}}", enabled=False, onSuccess=[notes["id"]])
    )
    secret = (await api.set_trigger_secret(triage["id"]))["secret"]
    body = json.dumps({"alert": "disk full"}).encode()
    async with httpx.AsyncClient(base_url=live_url, timeout=10) as hooks:
        answer = await hooks.post(
            f"/hooks/agents/{triage['id']}", content=body, headers=signed(secret, body, "d-1")
        )
        assert answer.status_code == 200, answer.text
    [parent] = await finished_runs(api, triage["id"], 1)
    [chained] = await finished_runs(api, notes["id"], 1)
    assert chained["parentRunId"] == parent["id"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=2)
        main = app.main_screen
        await wait_until(pilot, lambda: main.detail_agent_id == notes["id"] and main.history.row_count == 1)
        assert main.history.get_row_at(0)[2].plain == "↳ chain"
        main.history.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), what="the chained run")
        page = app.screen
        origin = page.query_one("#run-origin")
        await wait_until(pilot, lambda: "of Triage" in str(origin.render()), what="the parent's agent")
        assert "↳ chain" in str(origin.render()) and parent["id"] in str(origin.render())
        assert "Hello from the fake API." in str(page.query_one("#run-input").render())  # its output
        await pilot.press("P")
        await wait_until(pilot, lambda: app.screen is not page and isinstance(app.screen, RunScreen))
        up = app.screen
        await wait_until(pilot, lambda: "↯ webhook" in str(up.query_one("#run-origin").render()))
        assert '"alert": "disk full"' in str(up.query_one("#run-input").render())
        await pilot.press("P")  # a webhook run came from no run
        assert app.screen is up
        await pilot.press("escape", "escape")
        assert app.screen is main
        main.table.focus()
        await pilot.press("down")
        await wait_until(pilot, lambda: [r["id"] for r in main.history.runs] == [parent["id"]])
        assert main.history.get_row_at(0)[2].plain == "↯ webhook"


async def test_a_one_shot_agent_shows_its_time_in_its_zone(make_app: Any, api: ApiClient) -> None:
    await api.create_agent(
        agent_body(name="Once", schedule=None, runAt="2030-01-04T15:00:00Z", timezone="Europe/Berlin")
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        table = app.main_screen.table
        assert table.get_row_at(0)[2].plain == "once, Fri 04 Jan 16:00"
        await wait_until(pilot, lambda: app.main_screen.detail_agent_id is not None)
        assert "once, Fri 04 Jan 16:00" in str(app.main_screen.query_one("#detail-title").render())
    async with make_app().run_test(size=(80, 24)) as pilot:
        await ready(pilot, agents=1)
        assert pilot.app.main_screen.table.get_row_at(0)[1].plain == "once 04 Jan"


# -- the editor ----------------------------------------------------------------------------


async def open_editor(pilot: Any, key: str = "e") -> AgentForm:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, EditorScreen), what="the editor")
    return pilot.app.screen.query_one(AgentForm)


async def save(pilot: Any) -> None:
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: not isinstance(pilot.app.screen, EditorScreen), what="saved")


async def test_chain_targets_are_picked_by_name_among_the_other_agents(make_app: Any, api: ApiClient) -> None:
    digest = await api.create_agent(agent_body(name="Digest"))
    notes = await api.create_agent(agent_body(name="Notes", enabled=False))
    triage = await api.create_agent(agent_body(name="Triage"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=3)
        form = await open_editor(pilot)  # Digest, first by name
        picker = form.query_one("#input-onSuccess", ChoiceList)
        await wait_until(pilot, lambda: picker.option_count == 2, what="the agents offered")
        labels = [str(picker.get_option_at_index(i).prompt) for i in range(2)]
        assert labels == ["Notes  (off)", "Triage"]  # by name, not itself, a disabled one marked
        picker.focus()
        await pilot.press("down", "space")  # Triage
        failure = form.query_one("#input-onFailure", ChoiceList)
        failure.focus()
        await pilot.press("space")  # Notes
        assert form.body(for_update=True) == {"onSuccess": [triage["id"]], "onFailure": [notes["id"]]}
        await save(pilot)
    saved = await api.get_agent(digest["id"])
    assert (saved["onSuccess"], saved["onFailure"]) == ([triage["id"]], [notes["id"]])


async def test_runs_once_at_a_time_instead_of_a_schedule(make_app: Any, api: ApiClient) -> None:
    fixed = datetime(2029, 12, 30, 12, 0, tzinfo=UTC)
    app = make_app(clock=lambda: fixed)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=0)
        form = await open_editor(pilot, "n")
        assert form.query_one("#field-schedule").display and not form.query_one("#field-runAt").display
        form.query_one("#input-when", Select).value = "once"
        await wait_until(pilot, lambda: form.query_one("#field-runAt").display, what="the one time")
        assert not form.query_one("#field-schedule").display
        await type_into(pilot, "#input-name", "Quarterly report")
        await type_into(pilot, "#input-prompt", "Draft it.")
        await type_into(pilot, "#input-timezone", "Europe/Berlin")
        await pilot.press("ctrl+s")  # no time yet: the API's "is required" is said at the time
        await wait_until(pilot, lambda: "runAt" in form.errors, what="the missing time")
        assert form.errors["runAt"].startswith("is required") and form.query_one("#input-runAt").has_focus
        await type_into(pilot, "#input-runAt", "2030-01-04T15:00")
        assert form.run_at_text().startswith("✗ give its offset")
        await type_into(pilot, "#input-runAt", "2029-12-01T15:00:00Z")
        assert "has passed" in form.run_at_text()
        await type_into(pilot, "#input-runAt", "2030-01-04T15:00:00Z")
        assert form.run_at_text() == (
            "Runs once, Fri 04 Jan 2030 16:00 (Europe/Berlin), in 5d 3h; then disables itself"
        )
        await save(pilot)
        [agent] = await api.list_agents()
        assert agent["schedule"] is None and agent["runAt"] == "2030-01-04T15:00:00.000Z"
        assert app.main_screen.table.get_row_at(0)[2].plain == "once, Fri 04 Jan 16:00"
        # Back to a schedule: the time goes (sent as null), the schedule comes.
        form = await open_editor(pilot)
        assert form.query_one("#input-when", Select).value == "once"
        assert form.body(for_update=True) == {}
        form.query_one("#input-when", Select).value = "schedule"
        await wait_until(pilot, lambda: form.query_one("#field-schedule").display)
        await type_into(pilot, "#input-schedule", "@daily")
        assert form.body(for_update=True) == {"schedule": "@daily", "runAt": None}
        await save(pilot)
    agent = await api.get_agent(agent["id"])
    assert (agent["schedule"], agent["runAt"]) == ("@daily", None)


async def test_mcp_servers_json_is_checked_as_typed_and_the_api_s_errors_shown_at_the_field(
    make_app: Any, api: ApiClient
) -> None:
    agent = await api.create_agent(agent_body(name="Tracker"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        form = await open_editor(pilot)
        area = form.query_one("#input-mcpServers", TextArea)
        error = form.query_one("#error-mcpServers")
        area.text = '{"tracker": {"command": "npx",}}'
        await wait_until(pilot, lambda: error.display, what="the JSON error")
        assert "not valid JSON" in str(error.render()) and "line 1" in str(error.render())
        await pilot.press("ctrl+s")  # nothing sent: said at the field and above the buttons
        await pilot.pause()
        assert isinstance(app.screen, EditorScreen)
        assert "Fix the marked field" in str(app.screen.query_one("#editor-message").render())
        area.text = '{"tracker": {"args": ["-y"]}}'  # JSON, but the API refuses its shape
        await wait_until(pilot, lambda: not error.display, what="the JSON error gone")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "mcpServers" in form.errors, what="the API's error")
        assert "tracker: command: is required" in str(error.render())
        area.text = '{"tracker": {"command": "npx", "args": ["-y", "@acme/tracker-mcp"]}}'
        await save(pilot)
    saved = await api.get_agent(agent["id"])
    assert saved["mcpServers"]["tracker"]["command"] == "npx"


async def test_secrets_are_masked_inputs_set_kept_replaced_added_and_deleted(
    make_app: Any, api: ApiClient
) -> None:
    agent = await api.create_agent(
        agent_body(name="Secretive", env={"TRACKER_TOKEN": "tok_plain_1", "OLD_TOKEN": "tok_old"})
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        form = await open_editor(pilot)
        secrets = form.query_one("#input-env", SecretEnv)
        await wait_until(pilot, lambda: len(secrets.query(".secret-entry")) == 2, what="the rows")
        names = [str(s.render()) for s in secrets.query(".secret-name")]
        assert names == ["OLD_TOKEN", "TRACKER_TOKEN"]
        assert all("set" in str(s.render()) for s in secrets.query(".secret-state"))
        inputs = list(secrets.query(".secret-value").results(Input))
        assert all(i.password and i.value == "" for i in inputs)  # the value is never there to show
        assert form.body(for_update=True) == {}  # blank keeps
        await type_into(pilot, "#input-description", "Changed")
        assert form.body(for_update=True) == {"description": "Changed"}  # secrets untouched: not sent
        # Delete OLD_TOKEN, replace TRACKER_TOKEN, add DOCS_TOKEN.
        secrets.query(".secret-delete").first().focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "Keep" in str(secrets.query(".secret-delete").first().label))
        replace = list(secrets.query(".secret-value").results(Input))[1]
        replace.focus()
        await pilot.press(*"tok_new_2")
        assert replace.password
        await type_into(pilot, "#secret-new-name", "DOCS_TOKEN")
        await type_into(pilot, "#secret-new-value", "tok_docs_3")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(secrets.query(".secret-entry")) == 3, what="the new row")
        assert form.body(for_update=True)["env"] == {
            "OLD_TOKEN": None,
            "TRACKER_TOKEN": "tok_new_2",
            "DOCS_TOKEN": "tok_docs_3",
        }
        await save(pilot)
    saved = await api.get_agent(agent["id"])
    assert saved["env"] == {"DOCS_TOKEN": "********", "TRACKER_TOKEN": "********"}
    assert saved["description"] == "Changed"


async def test_the_new_keys_are_in_the_help_and_the_readme(make_app: Any) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for binding_id in ("agent.run_input", "agent.trigger_secret", "run.parent"):
        assert f"`{binding_id}`" in readme
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        ids = {active.binding.id for active in app.screen.bindings.values()}
        assert {"agent.run_input", "agent.trigger_secret"} <= ids


async def test_a_bad_secret_name_is_refused_at_the_field(make_app: Any, api: ApiClient) -> None:
    agent = await api.create_agent(agent_body(name="Secretive"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        form = await open_editor(pilot)
        secrets = form.query_one("#input-env", SecretEnv)
        assert str(secrets.query_one("#secret-none").render()) == "No secrets yet."
        await type_into(pilot, "#secret-new-name", "1TOKEN")
        await type_into(pilot, "#secret-new-value", "tok_1")  # not added with Add: saved as typed
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "env" in form.errors, what="the API's error")
        assert "1TOKEN: names are letters, digits and _" in str(form.query_one("#error-env").render())
        assert isinstance(app.screen, EditorScreen)
        await type_into(pilot, "#secret-new-name", "TOKEN_1")
        await save(pilot)
    assert (await api.get_agent(agent["id"]))["env"] == {"TOKEN_1": "********"}
