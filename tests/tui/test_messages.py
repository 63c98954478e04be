"""Server events reach the open screens as typed messages (``app.tui.messages``).

The unit tests pin the mapping from the stream's JSON to messages and the merging of
run output; the Pilot tests feed a scripted stream and look at the messages the
screens were handed (``message_hook`` sees every message as it is dispatched).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from textual.message import Message

from app.tui.app import CronAgentsApp, build_app
from app.tui.messages import (
    AgentChanged,
    AgentDeleted,
    AgentScheduled,
    ConnectionLost,
    ConnectionRestored,
    RunEvents,
    RunFinished,
    RunQueued,
    RunStarted,
    ServerMessage,
    server_message,
)
from app.tui.screens.run_detail import RunScreen
from tests.tui.conftest import wait_until
from tests.tui.fake_client import AGENTS, FakeClient, frozen_clock
from widgets.run_log import RunLog

DIGEST = str(AGENTS[0]["id"])
RUN = "run_stream000001"


def test_each_event_kind_becomes_its_message() -> None:
    agent = {"id": DIGEST, "name": "Daily digest"}
    run = {"id": RUN, "status": "running"}
    changed = server_message({"type": "agent.updated", "agentId": DIGEST, "agent": agent})
    assert isinstance(changed, AgentChanged) and changed.agent == agent and changed.agent_id == DIGEST
    assert isinstance(server_message({"type": "agent.created", "agentId": DIGEST}), AgentChanged)
    deleted = server_message({"type": "agent.deleted", "agentId": DIGEST})
    assert isinstance(deleted, AgentDeleted) and deleted.agent_id == DIGEST
    scheduled = server_message(
        {"type": "agent.scheduled", "agentId": DIGEST, "nextRunAt": "2025-01-08T08:00:00.000Z"}
    )
    assert isinstance(scheduled, AgentScheduled) and scheduled.next_run_at == "2025-01-08T08:00:00.000Z"
    for kind, cls in (("run.queued", RunQueued), ("run.started", RunStarted), ("run.finished", RunFinished)):
        message = server_message({"type": kind, "agentId": DIGEST, "runId": RUN, "run": run})
        assert type(message) is cls and message.run == run and message.run_id == RUN
    events = server_message({"type": "run.event", "agentId": DIGEST, "runId": RUN, "event": {"seq": 1}})
    assert isinstance(events, RunEvents) and events.events == [{"seq": 1}] and events.run_id == RUN
    assert server_message({"type": "something.new"}) is None


def test_run_events_of_one_run_merge_in_order() -> None:
    first = RunEvents(DIGEST, RUN, [{"seq": 1}, {"seq": 2}])
    second = RunEvents(DIGEST, RUN, [{"seq": 3}])
    other_run = RunEvents(DIGEST, "run_other", [{"seq": 1}])
    assert not second.can_replace(other_run)
    assert other_run.events == [{"seq": 1}]
    assert first.can_replace(second)  # the second, next in the queue, is handled in its place
    assert second.events == [{"seq": 1}, {"seq": 2}, {"seq": 3}]
    assert not first.can_replace(RunFinished(DIGEST, RUN, {}))


class ScriptedStream(FakeClient):
    """The canned client, with an event stream the test writes to (``None`` ends it)."""

    def __init__(self) -> None:
        super().__init__()
        self.script: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def events(self, agent_id: str | None = None) -> AsyncIterator[dict[str, Any]]:
        yield {"type": "stream.open"}
        while (event := await self.script.get()) is not None:
            yield event


def dashboard(client: FakeClient) -> CronAgentsApp:
    return build_app(client, clock=frozen_clock, default_timezone="UTC", reconnect_delays=(0.05,))


async def loaded(pilot: Any, app: CronAgentsApp) -> None:
    await wait_until(pilot, lambda: app.main_screen is not None and app.main_screen.live.run_id is not None)


def recorder(*kinds: type[Message]) -> tuple[list[Any], Callable[[Message], None]]:
    """A list and the ``message_hook`` that fills it with the messages of ``kinds`` handled."""
    seen: list[Any] = []

    def hook(message: Message) -> None:
        if isinstance(message, kinds):
            seen.append(message)

    return seen, hook


def run_event(seq: int, run_id: str = RUN) -> dict[str, Any]:
    event = {"seq": seq, "at": "2025-01-07T09:59:00.000Z", "type": "assistant_text", "text": f"line {seq}"}
    return {"type": "run.event", "agentId": DIGEST, "runId": run_id, "event": event}


async def test_the_stream_hands_the_main_screen_typed_messages() -> None:
    client = ScriptedStream()
    seen, hook = recorder(ServerMessage)
    app = dashboard(client)
    async with app.run_test(size=(120, 36), message_hook=hook) as pilot:
        await loaded(pilot, app)
        main = app.main_screen
        assert main is not None
        run = {
            "id": RUN,
            "agentId": DIGEST,
            "status": "running",
            "trigger": "manual",
            "startedAt": "2025-01-07T09:59:00.000Z",
        }
        await client.script.put({"type": "run.started", "agentId": DIGEST, "runId": RUN, "run": run})
        await wait_until(pilot, lambda: main.live.run_id == RUN, what="run.started")
        base = main.live.written
        for seq in (1, 2, 3):
            await client.script.put(run_event(seq))
        await client.script.put(
            {"type": "run.finished", "agentId": DIGEST, "runId": RUN, "run": {**run, "status": "success"}}
        )
        await wait_until(pilot, lambda: any(isinstance(m, RunFinished) for m in seen), what="run.finished")
        kinds = [type(m) for m in seen]
        assert kinds[0] is ConnectionRestored and not seen[0].after_gap
        assert kinds[1] is RunStarted and kinds[-1] is RunFinished
        lines = [e["text"] for m in seen if isinstance(m, RunEvents) for e in m.events]
        assert lines == ["line 1", "line 2", "line 3"]
        await wait_until(pilot, lambda: main.live.written == base + 3)
        assert main.history.runs[0]["status"] == "success"


async def test_a_burst_of_run_output_is_merged_and_nothing_is_lost() -> None:
    client = ScriptedStream()
    handled, hook = recorder(RunEvents)
    app = dashboard(client)
    async with app.run_test(size=(120, 36), message_hook=hook) as pilot:
        await loaded(pilot, app)
        main = app.main_screen
        assert main is not None
        running = main.live.run_id
        assert running is not None
        await pilot.press("2")  # the Live tab: its lines are drawn once it is shown
        base = main.live.written
        for seq in range(1, 501):
            client.script.put_nowait(run_event(seq, running))
        await wait_until(pilot, lambda: main.live.written - base == 500, what="500 lines")
        assert sum(len(m.events) for m in handled) == 500
        assert len(handled) < 500  # merged while the screen was busy
        texts = [line.text for line in main.live.lines][-500:]
        assert texts[0].endswith("line 1") and texts[-1].endswith("line 500")


async def test_every_open_dashboard_screen_gets_its_own_copy() -> None:
    client = ScriptedStream()
    app = dashboard(client)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot, app)
        main = app.main_screen
        assert main is not None
        running = main.live.run_id
        assert running is not None
        screen = RunScreen(DIGEST, running, agent_name="Daily digest")
        await app.push_screen(screen)
        await wait_until(pilot, lambda: screen.run is not None, what="transcript")
        log = screen.query_one(RunLog)
        shown, live = log.written, main.live.written
        await client.script.put(run_event(99, running))
        await wait_until(pilot, lambda: log.written == shown + 1 and main.live.written == live + 1)
        renamed = {**AGENTS[0], "name": "Morning digest"}
        await client.script.put({"type": "agent.updated", "agentId": DIGEST, "agent": renamed})
        await wait_until(pilot, lambda: "Morning digest" in str(screen.query_one("#run-title").render()))
        assert main.table.agents[DIGEST]["name"] == "Morning digest"


async def test_a_dropped_stream_is_announced_then_restored() -> None:
    client = ScriptedStream()
    seen, hook = recorder(ConnectionLost, ConnectionRestored)
    app = dashboard(client)
    async with app.run_test(size=(120, 36), message_hook=hook) as pilot:
        await loaded(pilot, app)
        await client.script.put(None)  # the server ends the stream; the client reconnects
        await wait_until(pilot, lambda: len(seen) >= 3, what="lost and back")
        lost, back = seen[1], seen[2]
        assert isinstance(lost, ConnectionLost) and lost.attempt == 1 and lost.retry_in == pytest.approx(0.05)
        assert "reconnecting in 0.05s" in lost.explanation
        assert isinstance(back, ConnectionRestored) and back.after_gap
