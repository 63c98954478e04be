"""Pilot tests of every dashboard flow against the real server over a real socket."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from textual.widgets import Input, TabbedContent, TextArea

from app.client import ApiClient
from app.server import Server, free_port, uvicorn_server, wait_until_started
from app.tui.screens.confirm import ConfirmScreen
from app.tui.screens.editor import EditorScreen
from app.tui.screens.global_stats import GlobalStatsScreen
from app.tui.screens.help import HelpScreen
from app.tui.screens.run_detail import RunScreen
from app.tui_demo import TRANSCRIPT, add_run
from tests.conftest import agent_body
from tests.processes import tagged_processes
from tests.tui.conftest import ready, wait_until
from widgets.agent_form import AgentForm
from widgets.run_log import RunLog
from widgets.stats_chart import RunsChart
from widgets.stats_header import StatsHeader

SIZE = (120, 36)


async def type_into(pilot: Any, selector: str, text: str) -> None:
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    if isinstance(widget, Input):
        widget.value = ""
    elif isinstance(widget, TextArea):
        widget.text = ""
    await pilot.press(*text)


async def test_main_screen_lists_agents_with_header_stats(make_app: Any, api: ApiClient) -> None:
    await api.create_agent(agent_body(name="Beta", schedule="*/5 * * * *"))
    await api.create_agent(agent_body(name="Alpha", enabled=False))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=2)
        table = app.main_screen.table
        names = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        assert names == ["Alpha", "Beta"]
        assert table.get_row_at(1)[2].plain == "Every 5 minutes"
        assert table.get_row_at(0)[3].plain == "paused"
        assert table.get_row_at(1)[3].plain.startswith("in ")
        header = app.main_screen.query_one(StatsHeader)
        await wait_until(pilot, lambda: header.stats is not None)
        rendered = header.render().plain
        assert "agents 2" in rendered and "active 1" in rendered and "runs/7d 0" in rendered


async def test_create_agent_shows_api_field_errors_then_saves(make_app: Any, api: ApiClient) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=0)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        form = app.screen.query_one(AgentForm)
        await type_into(pilot, "#input-name", "Nightly report")
        await type_into(pilot, "#input-schedule", "0 9 31 2 *")
        assert form.preview_text().startswith("✗ never fires")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: form.errors, what="field errors")
        assert set(form.errors) == {"schedule", "prompt"}
        assert "February" in form.errors["schedule"]
        assert form.errors["prompt"]
        assert app.screen.query_one("#error-schedule").display
        # Fix both; the complaints go as the fields change, and the save goes through.
        await type_into(pilot, "#input-schedule", "0 9 * * 1-5")
        assert "schedule" not in form.errors
        await type_into(pilot, "#input-prompt", "Write the report")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, EditorScreen), what="editor closed")
        await wait_until(pilot, lambda: app.main_screen.table.row_count == 1)
    [agent] = await api.list_agents()
    assert agent["name"] == "Nightly report"
    assert agent["schedule"] == "0 9 * * 1-5"
    assert agent["prompt"] == "Write the report"
    assert agent["timezone"] == "UTC"


async def test_schedule_preview_plain_english_and_next_five_in_zone(make_app: Any) -> None:
    fixed = datetime(2025, 3, 28, 12, 0, tzinfo=UTC)  # the Friday before DST starts in Berlin
    app = make_app(clock=lambda: fixed)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        form = app.screen.query_one(AgentForm)
        await type_into(pilot, "#input-schedule", "0 9 * * 1-5")
        await type_into(pilot, "#input-timezone", "Europe/Berlin")
        text = form.preview_text()
        assert "At 09:00, Monday through Friday (Europe/Berlin)" in text
        assert (
            "Next: Mon 31 Mar 09:00 · Tue 01 Apr 09:00 · Wed 02 Apr 09:00 · Thu 03 Apr 09:00 · "
            "Fri 04 Apr 09:00" in text
        )
        await type_into(pilot, "#input-timezone", "Mars/Base")
        assert "unknown time zone" in form.preview_text()


async def test_edit_agent_sends_only_changed_fields(make_app: Any, api: ApiClient) -> None:
    created = await api.create_agent(agent_body(name="Digest", maxBudgetUsd=0.5))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("enter")  # Enter on a row edits, like e
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        form = app.screen.query_one(AgentForm)
        assert form.body(for_update=True) == {}
        await type_into(pilot, "#input-name", "Digest v2")
        await type_into(pilot, "#input-maxBudgetUsd", "")
        assert form.body(for_update=True) == {"name": "Digest v2", "maxBudgetUsd": None}
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, EditorScreen))
        await wait_until(pilot, lambda: app.main_screen.table.get_row_at(0)[0].plain == "Digest v2")
    agent = await api.get_agent(created["id"])
    assert agent["name"] == "Digest v2" and agent["maxBudgetUsd"] is None


async def test_escape_asks_before_discarding_changes(make_app: Any, api: ApiClient) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        await pilot.press("escape")  # nothing changed: closes at once
        await wait_until(pilot, lambda: app.screen is app.main_screen)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        await type_into(pilot, "#input-name", "Half done")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # keep editing
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        assert app.screen.query_one("#input-name", Input).value == "Half done"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is app.main_screen)
    assert await api.list_agents() == []


async def test_delete_confirm_names_agent_and_run_count(
    make_app: Any, api: ApiClient, server: Server
) -> None:
    agent = await api.create_agent(agent_body(name="Doomed"))
    now = datetime.now(UTC)
    for i in range(3):
        await add_run(server, agent["id"], "success", now - timedelta(hours=i + 1), cost=0.01)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question.startswith("Delete “Doomed” and its 3 runs?")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.main_screen.table.row_count == 0)
    assert await api.list_agents() == []


async def test_space_toggles_enabled(make_app: Any, api: ApiClient) -> None:
    agent = await api.create_agent(agent_body(name="Toggle me"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("space")
        table = app.main_screen.table
        await wait_until(pilot, lambda: table.get_row_at(0)[3].plain == "paused")
        assert (await api.get_agent(agent["id"]))["enabled"] is False
        await pilot.press("space")
        await wait_until(pilot, lambda: table.get_row_at(0)[3].plain.startswith("in "))
    assert (await api.get_agent(agent["id"]))["enabled"] is True


async def test_filter_by_name(make_app: Any, api: ApiClient) -> None:
    for name in ("Daily digest", "Weekly digest", "Audit"):
        await api.create_agent(agent_body(name=name))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=3)
        await pilot.press("slash", *"DIGEST")
        table = app.main_screen.table
        assert table.row_count == 2
        await pilot.press("enter")  # keeps the filter, back to the table
        assert table.has_focus and table.row_count == 2
        await pilot.press("escape")
        assert table.row_count == 3


async def test_period_cycles_and_global_view(make_app: Any, api: ApiClient) -> None:
    await api.create_agent(agent_body())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        header = app.main_screen.query_one(StatsHeader)
        await pilot.press("p")
        assert app.period == "30d"
        await wait_until(pilot, lambda: header.stats and header.stats["period"] == "30d")
        await pilot.press("p")
        await wait_until(pilot, lambda: header.stats and header.stats["period"] == "24h")
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, GlobalStatsScreen))
        chart = app.screen.query_one(RunsChart)
        await wait_until(pilot, lambda: len(chart.days) == 2, what="24h buckets")
        await pilot.press("p")  # 7d here too
        await wait_until(pilot, lambda: len(chart.days) == 7, what="7d buckets")
        await pilot.press("escape")
        assert app.screen is app.main_screen


async def test_stats_tab_charts_the_agents_days(make_app: Any, api: ApiClient, server: Server) -> None:
    agent = await api.create_agent(agent_body())
    now = datetime.now(UTC)
    await add_run(server, agent["id"], "success", now - timedelta(minutes=5), cost=0.25)
    await add_run(server, agent["id"], "error", now - timedelta(minutes=9), cost=0.05)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("3")
        assert app.main_screen.query_one(TabbedContent).active == "tab-stats"
        chart = app.main_screen.query_one("#runs-chart", RunsChart)
        await wait_until(pilot, lambda: len(chart.days) == 7)
        today = chart.days[-1]
        assert (today["success"], today["error"]) == (1, 1)
        assert today["costUsd"] == pytest.approx(0.30)


async def test_help_lists_keys_with_binding_ids(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        ids = {active.binding.id for active in app.screen.bindings.values()}
        assert {
            "agent.new",
            "agent.edit",
            "agent.delete",
            "agent.run",
            "agent.cancel",
            "agent.toggle",
            "agents.filter",
            "stats.period",
            "stats.global",
            "channels.open",
            "settings.open",
            "app.quit",
        } <= ids
        await pilot.press("escape")
        assert app.screen is app.main_screen


async def test_keymap_overrides_a_binding(make_app: Any) -> None:
    app = make_app(keymap={"agent.new": "ctrl+n"})
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert app.screen is app.main_screen
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))


async def test_command_palette_offers_the_actions(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"new agent")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen), what="editor from palette")


async def test_cancel_with_nothing_running_says_so(make_app: Any, api: ApiClient) -> None:
    await api.create_agent(agent_body(name="Idle"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("c")
        await wait_until(pilot, lambda: any("nothing running" in str(n.message) for n in app._notifications))


async def test_agents_changed_elsewhere_arrive_through_the_stream(make_app: Any, api: ApiClient) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=0)
        created = await api.create_agent(agent_body(name="From curl"))
        table = app.main_screen.table
        await wait_until(pilot, lambda: table.row_count == 1, what="agent.created")
        await api.update_agent(created["id"], {"name": "Renamed elsewhere"})
        await wait_until(pilot, lambda: table.get_row_at(0)[0].plain == "Renamed elsewhere")
        await api.delete_agent(created["id"])
        await wait_until(pilot, lambda: table.row_count == 0, what="agent.deleted")


async def test_live_tab_follows_run_events(make_app: Any, api: ApiClient, server: Server) -> None:
    agent = await api.create_agent(agent_body(name="Streamer"))
    agent_id = agent["id"]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        main = app.main_screen
        await wait_until(pilot, lambda: main.detail_agent_id == agent_id)
        await pilot.press("2")
        run = {
            "id": "run_live0000001",
            "agentId": agent_id,
            "status": "running",
            "trigger": "manual",
            "startedAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        server.bus.publish("run.started", agentId=agent_id, runId=run["id"], run=run)
        await wait_until(pilot, lambda: main.live.run_id == run["id"])
        assert main.query_one(StatsHeader).running == 1
        for seq, event in enumerate(TRANSCRIPT, 1):
            server.bus.publish(
                "run.event",
                agentId=agent_id,
                runId=run["id"],
                event={"seq": seq, "at": run["startedAt"], **event},
            )
        await wait_until(pilot, lambda: main.live.written == len(TRANSCRIPT), what="events on screen")
        lines = "\n".join(line.text for line in main.live.lines)
        assert "Bash" in lines and "git log --since=yesterday" in lines
        assert "cost $0.041" in lines and "in 5120 tok" in lines
        finished = {**run, "status": "success", "costUsd": 0.0412, "numTurns": 3, "durationMs": 18450}
        server.bus.publish("run.finished", agentId=agent_id, runId=run["id"], run=finished)
        await wait_until(pilot, lambda: main.query_one(StatsHeader).running == 0)
        await wait_until(pilot, lambda: main.history.row_count == 1)
        assert main.history.get_row_at(0)[1].plain == "success"
        assert main.table.get_row_at(0)[5].plain == "success"


async def test_run_transcript_screen(make_app: Any, api: ApiClient, server: Server) -> None:
    agent = await api.create_agent(agent_body(name="Talker"))
    await add_run(
        server,
        agent["id"],
        "success",
        datetime.now(UTC) - timedelta(minutes=3),
        cost=0.04,
        events=TRANSCRIPT,
        output="All done.",
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        main = app.main_screen
        await wait_until(pilot, lambda: main.history.row_count == 1)
        main.history.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen))
        log = app.screen.query_one(RunLog)
        await wait_until(pilot, lambda: log.written == len(TRANSCRIPT))
        assert "Talker" in app.screen.query_one("#run-title").render().plain
        await pilot.press("escape")
        assert app.screen is main


@pytest.mark.slow
async def test_run_now_streams_the_real_run_live(make_app: Any, api: ApiClient) -> None:
    """r starts a real run (the SDK's CLI against the fake Messages API) and the Live tab shows it."""
    agent = await api.create_agent(
        agent_body(name="Real run", prompt="Say hello [[fake:tool_use]]", allowedTools=["Bash"])
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        main = app.main_screen
        await wait_until(pilot, lambda: main.detail_agent_id == agent["id"])
        await pilot.press("r")
        await wait_until(pilot, lambda: main.query_one(TabbedContent).active == "tab-live")
        await wait_until(
            pilot,
            lambda: main.history.row_count == 1 and main.history.runs[0]["status"] == "success",
            timeout=60,
            what="run finished",
        )

        def live_text() -> str:
            return "\n".join(line.text for line in main.live.lines)

        # The run's end may re-open its transcript (read from the API): the lines come back at once.
        await wait_until(pilot, lambda: "■ done" in live_text(), timeout=10, what="the end in Live")
        text = live_text()
        assert "Bash" in text and "The tool ran. Done." in text and "■ done" in text
        header = main.query_one(StatsHeader)
        await wait_until(pilot, lambda: header.stats and header.stats["runsInPeriod"] == 1)


@pytest.mark.slow
async def test_cancel_key_stops_a_real_running_run(make_app: Any, api: ApiClient, run_tag: str) -> None:
    """c cancels the selected agent's running run: it lands as cancelled, no CLI process is left."""
    agent = await api.create_agent(agent_body(name="Slow run", prompt="Take your time [[fake:slow]]"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        main = app.main_screen
        await wait_until(pilot, lambda: main.detail_agent_id == agent["id"])
        await pilot.press("r")
        await wait_until(
            pilot,
            lambda: main.history.row_count == 1 and main.history.runs[0]["status"] == "running",
            timeout=30,
            what="run started",
        )
        await wait_until(pilot, lambda: bool(tagged_processes(run_tag)), timeout=30, what="CLI up")
        await pilot.press("c")
        await wait_until(
            pilot,
            lambda: main.history.row_count == 1 and main.history.runs[0]["status"] == "cancelled",
            timeout=15,
            what="run cancelled",
        )
        # The run's processes end with it (the supervisor's last SIGKILL comes after a short grace).
        await wait_until(pilot, lambda: tagged_processes(run_tag) == [], timeout=10, what="no process left")
        text = "\n".join(line.text for line in main.live.lines)
        assert "cancelled" in text


async def test_lost_connection_shows_banner_and_reconnects(
    api: ApiClient, server: Server, make_app: Any
) -> None:
    """A second socket we can stop and restart: the banner appears, then goes once it is back."""
    port = free_port()

    async def serve() -> tuple[Any, asyncio.Task[None]]:
        web = uvicorn_server(server.app, "127.0.0.1", port, log_to_stderr=False)
        task = asyncio.create_task(web.serve())
        await wait_until_started(web)
        return web, task

    web, task = await serve()
    client = ApiClient(f"http://127.0.0.1:{port}", api.token, timeout=5)
    app = make_app()
    app.client = client
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            banner = app.main_screen.query_one("#banner")
            assert not banner.display
            web.should_exit = True
            server.bus.close()  # ends the open stream, as a dying server would
            await asyncio.wait_for(task, 10)
            await wait_until(pilot, lambda: banner.display, what="banner")
            assert "reconnecting" in str(banner.message)
            web, task = await serve()
            await wait_until(pilot, lambda: not banner.display and app.stream_open, what="reconnect")
            await api.create_agent(agent_body(name="After the gap"))
            await wait_until(pilot, lambda: app.main_screen.table.row_count == 1)
    finally:
        await client.aclose()
        web.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_q_quits(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause(0.1)
    assert app.return_code == 0
