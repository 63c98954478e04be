"""Chains (``onSuccess`` / ``onFailure``): the rules on a real database, then A → B through real CLI runs.

The rules are decided when a run's end is settled (app.settle, app.chains); the
first tests settle runs recorded as the runner records them (the fixtures of
tests/test_unattended.py, an injected clock); the last ones run the real CLI
against the fake Messages API and read what the chained run was sent.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx
import pytest

from app.chains import MAX_CHAIN_DEPTH
from app.errors import ValidationError
from storage.interface import RunOutcome
from tests.conftest import agent_body
from tests.fake_anthropic import PLAIN_TEXT, FakeAnthropic
from tests.receivers import webhook_receiver
from tests.test_alerts import hook_channel
from tests.test_input_templates import prompt_sent
from tests.test_runner import wait_run
from tests.test_unattended import Env
from tests.test_unattended import env as env  # the fixture

pytestmark = pytest.mark.both_backends


async def chain_rows(env: Env, agent_id: str) -> list[Any]:
    return [r for r in await env.store.runs.history(agent_id, 100, None) if r["trigger"] == "chain"]


async def test_targets_must_exist_and_leave_the_lists_when_deleted(env: Env):
    service = env.server.service
    with pytest.raises(ValidationError) as caught:
        await env.agent(onSuccess=["agt_nobody"], onFailure=["agt_nobody", "agt_x"])
    assert caught.value.data == {
        "onSuccess": "no such agent: agt_nobody",
        "onFailure": "no such agent: agt_nobody, agt_x",
    }
    b, c = await env.agent(name="B"), await env.agent(name="C")
    a = await env.agent(name="A", onSuccess=[b["id"], c["id"], b["id"]], onFailure=[c["id"]])
    assert (a["onSuccess"], a["onFailure"]) == ([b["id"], c["id"]], [c["id"]])
    with pytest.raises(ValidationError):
        await service.update_agent(a["id"], {"onFailure": ["agt_gone"]})
    async with service.bus.subscribe() as sub:
        await service.delete_agent(c["id"])
        await asyncio.wait_for(_until(lambda: _updated(sub, a["id"])), 5)  # via the change feed
    after = await service.get_agent(a["id"])
    assert (after["onSuccess"], after["onFailure"]) == ([b["id"]], [])


def _updated(sub: Any, agent_id: str) -> bool:
    while not sub.queue.empty():
        event = sub.queue.get_nowait()
        if event["type"] == "agent.updated" and event["agentId"] == agent_id:
            return True
    return False


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.02)


async def test_a_success_starts_on_success_with_its_output_and_a_failure_after_retries_on_failure(env: Env):
    ok, ko = await env.agent(name="OK"), await env.agent(name="KO")
    a = await env.agent(name="A", onSuccess=[ok["id"]], onFailure=[ko["id"]], retry={"attempts": 1})
    first = await env.finished_run(a["id"], "success")
    settled = await env.server.settler.settle(first)
    assert settled is not None
    [chained] = await chain_rows(env, ok["id"])
    assert (chained["status"], chained["parent_run_id"]) == ("queued", first)
    assert chained["input"] == "it ended success"  # the finished run's output
    # An error with an attempt left is retried, not yet chained; its last attempt chains.
    failed = await env.finished_run(a["id"], "error")
    retry = (await env.server.settler.settle(failed)).retry  # type: ignore[union-attr]
    assert retry is not None and await chain_rows(env, ko["id"]) == []
    await env.server.runner.cancel_agent_runs(a["id"])
    last = await env.finished_run(a["id"], "error", attempt=2, retry_of=failed)
    await env.server.settler.settle(last)
    [on_failure] = await chain_rows(env, ko["id"])
    assert (on_failure["parent_run_id"], on_failure["input"]) == (last, "it ended error")
    # Cancelled runs chain nothing; settling twice chains once.
    await env.server.settler.settle(await env.finished_run(a["id"], "cancelled"))
    await env.server.settler.settle(first)
    assert len(await chain_rows(env, ok["id"])) == 1 and len(await chain_rows(env, ko["id"])) == 1


async def test_a_chain_never_loops(env: Env):
    b = await env.agent(name="B")
    a = await env.agent(name="A", onSuccess=[b["id"]])
    await env.server.service.update_agent(b["id"], {"onSuccess": [a["id"], b["id"]]})  # back to A, and itself
    first = await env.finished_run(a["id"], "success")
    await env.server.settler.settle(first)
    [b_run] = await chain_rows(env, b["id"])
    await _finish(env, b_run["id"], "success")
    await env.server.settler.settle(b_run["id"])
    [back_to_a] = await chain_rows(env, a["id"])
    assert (back_to_a["status"], back_to_a["parent_run_id"]) == ("skipped", b_run["id"])
    assert back_to_a["output"] == (
        f"skipped: {a['id']} already ran in this chain ({a['id']} → {b['id']}); a chain never loops"
    )
    [b_again] = [r for r in await chain_rows(env, b["id"]) if r["id"] != b_run["id"]]
    assert b_again["status"] == "skipped" and f"{b['id']} already ran" in b_again["output"]
    stats = await env.server.service.agent_stats(a["id"], "7d")
    assert stats["skippedRuns"] == 1  # a skipped chain step is counted as a skipped slot, not a run


async def test_a_chain_stops_past_its_depth(env: Env):
    agents = [await env.agent(name=f"N{i}") for i in range(MAX_CHAIN_DEPTH + 2)]
    for here, there in itertools.pairwise(agents):
        await env.server.service.update_agent(here["id"], {"onSuccess": [there["id"]]})
    run_id = await env.finished_run(agents[0]["id"], "success")
    await env.server.settler.settle(run_id)
    for agent in agents[1:]:
        [row] = await chain_rows(env, agent["id"])
        if row["status"] == "skipped":
            assert agent is agents[-1], agent["name"]
            assert f"already {MAX_CHAIN_DEPTH} runs deep after its first" in row["output"]
            break
        await _finish(env, row["id"], "success")
        await env.server.settler.settle(row["id"])
    else:
        raise AssertionError("the chain never stopped")


async def _finish(env: Env, run_id: str, status: str) -> None:
    await env.store.runs.mark_running(
        run_id, (await env.store.runs.get(run_id))["agent_id"], env.clock.now_ms()
    )
    outcome = RunOutcome(status, f"it ended {status}", env.clock.now_ms() + 1000)
    await env.store.runs.finish(run_id, outcome, env.server.service.day_of)


# -- real runs -------------------------------------------------------------------------


async def _wait_chained(client: httpx.AsyncClient, agent_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        runs = (await client.get(f"/api/agents/{agent_id}/runs")).json()["data"]
        if runs:
            return await wait_run(client, agent_id, runs[0]["id"])
        assert time.monotonic() < deadline, "no chained run"
        await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_a_to_b_through_real_runs_and_the_chained_failure_is_alerted(
    client: httpx.AsyncClient, fake_anthropic: FakeAnthropic
):
    async with webhook_receiver() as receiver:
        channel = await hook_channel(client, receiver)
        c = (
            await client.post(
                "/api/agents",
                json=agent_body(
                    name="C",
                    prompt="[[fake:endless_tools]] C",
                    maxTurns=1,
                    enabled=False,
                    notify={"channels": [channel]},
                ),
            )
        ).json()["data"]
        b_body = agent_body(
            name="B", prompt="[[fake:plain]] B got: {{input}}", enabled=False, onSuccess=[c["id"]]
        )
        b = (await client.post("/api/agents", json=b_body)).json()["data"]
        a_body = agent_body(name="A", prompt="[[fake:plain]] A", enabled=False, onSuccess=[b["id"]])
        a = (await client.post("/api/agents", json=a_body)).json()["data"]
        started = await client.post(f"/api/agents/{a['id']}/run", json={"input": "go"})
        a_run = await wait_run(client, a["id"], started.json()["runId"])
        assert a_run["status"] == "success"
        b_run = await _wait_chained(client, b["id"])
        assert b_run["status"] == "success", b_run["output"]
        assert (b_run["trigger"], b_run["parentRunId"], b_run["input"]) == ("chain", a_run["id"], PLAIN_TEXT)
        assert prompt_sent(fake_anthropic, "B got:").endswith(f"B got: {PLAIN_TEXT}")
        c_run = await _wait_chained(client, c["id"])
        assert (c_run["status"], c_run["trigger"], c_run["parentRunId"]) == ("error", "chain", b_run["id"])
        [got] = await receiver.wait_for(1)  # a chained run is alerted like any other
        assert got.verified and got.json["type"] == "run.failed"
        assert got.json["run"]["id"] == c_run["id"] and got.json["run"]["trigger"] == "chain"
