"""Pilot tests of unattended operations in the dashboard, against the real server over a real socket.

The Cost column from one ``costByAgent`` call per period; spend against the caps in the
table, the detail line and the header; a paused agent's reason; the editor's
notifications (channels picked by name), retries, auto-pause and caps; the settings
dialog; a run's alerts and its retry.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import Static

from app.client import ApiClient
from app.demo_data import add_deliveries, add_run, pause_agent
from app.server import Server
from app.tui import messages as server_messages
from app.tui.app import build_app
from app.tui.screens.editor import EditorScreen
from app.tui.screens.run_detail import RunScreen
from app.tui.screens.settings import SettingsScreen
from tests.conftest import agent_body
from tests.tui.conftest import ready, wait_until
from widgets.choice_list import ChoiceList
from widgets.delivery_table import DeliveryTable
from widgets.formatting import money
from widgets.stats_header import StatsHeader

SIZE = (120, 36)


class CountingClient(ApiClient):
    """The real client, counting the per-agent stats reads; the agent list may come late."""

    def __init__(self, *args: Any, slow_list: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slow_list = slow_list
        self.stats_of: list[str] = []

    async def list_agents(self) -> list[dict[str, Any]]:
        if self.slow_list:
            await asyncio.sleep(0.5)
        return await super().list_agents()

    async def agent_stats(self, agent_id: str, period: str) -> dict[str, Any]:
        self.stats_of.append(agent_id)
        return await super().agent_stats(agent_id, period)


def column(table: Any, key: str) -> list[str]:
    return [table.get_cell(row.key, key).plain for row in table.ordered_rows]


@pytest.mark.parametrize("slow_list", [False, True], ids=["list-first", "stats-first"])
async def test_the_cost_column_is_cost_by_agent_from_one_call_per_period(
    api: ApiClient, server: Server, live_url: str, token: str, slow_list: bool
) -> None:
    spender = await api.create_agent(agent_body(name="Spender"))
    thrifty = await api.create_agent(agent_body(name="Thrifty"))
    await api.create_agent(agent_body(name="Unused"))
    now = datetime.now(UTC)
    await add_run(server, spender["id"], "success", now - timedelta(minutes=5), cost=0.25)
    await add_run(server, spender["id"], "error", now - timedelta(days=10), cost=2.0)
    await add_run(server, thrifty["id"], "success", now - timedelta(days=3), cost=0.04)
    client = CountingClient(live_url, token, timeout=10, slow_list=slow_list)
    app = build_app(client, default_timezone="UTC")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot, agents=3)
            table = app.main_screen.table

            async def expected(period: str) -> list[str]:
                by_id = {a["agentId"]: a["costUsd"] for a in (await api.global_stats(period))["costByAgent"]}
                return [money(by_id.get(str(row.key.value), 0.0)) for row in table.ordered_rows]

            shown = {}
            for period in ("7d", "30d", "24h"):
                want = await expected(period)
                await wait_until(pilot, lambda w=want: column(table, "cost") == w, what=f"{period} costs")
                shown[period] = want
                await pilot.press("p")
            assert shown == {
                "7d": ["$0.250", "$0.040", "$0.00"],
                "30d": ["$2.25", "$0.040", "$0.00"],  # the run ten days ago
                "24h": ["$0.250", "$0.00", "$0.00"],
            }
            # Only the agent the detail shows has its stats read: the column costs no call per agent.
            assert set(client.stats_of) <= {spender["id"]}
    finally:
        await client.aclose()


async def test_a_paused_agent_says_why_and_enabling_it_clears_the_reason(
    make_app: Any, api: ApiClient, server: Server
) -> None:
    agent = await api.create_agent(agent_body(name="Flaky", pauseAfterFailures=3))
    await pause_agent(server, agent["id"], "paused after 3 consecutive failures")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        table = app.main_screen.table
        assert column(table, "next") == ["paused: 3 failures"]
        title = app.main_screen.query_one("#detail-title", Static)
        await wait_until(pilot, lambda: "consecutive" in str(title.render()), what="the detail line")
        assert "paused after 3 consecutive failures" in str(title.render())
        await pilot.press("space")
        await wait_until(pilot, lambda: column(table, "next")[0].startswith("in "), what="enabled")
        await wait_until(pilot, lambda: "consecutive" not in str(title.render()))
    assert (await api.get_agent(agent["id"]))["pausedReason"] is None


async def test_spend_against_the_agent_s_cap_and_the_global_caps(
    make_app: Any, api: ApiClient, server: Server
) -> None:
    capped = await api.create_agent(agent_body(name="Capped", dailyBudgetUsd=5, monthlyBudgetUsd=50))
    await api.create_agent(agent_body(name="Free"))
    await add_run(server, capped["id"], "success", datetime.now(UTC) - timedelta(seconds=40), cost=1.2)
    await api.update_settings({"dailyBudgetUsd": 20, "monthlyBudgetUsd": 400})
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=2)
        table = app.main_screen.table
        await wait_until(pilot, lambda: column(table, "today") == ["$1.20/$5.00", "$0.00"], what="today")
        header = app.main_screen.query_one(StatsHeader)
        rendered = header.render().plain
        assert "today $1.20/$20.00" in rendered and "month $1.20/$400.00" in rendered
        title = app.main_screen.query_one("#detail-title", Static)
        await wait_until(pilot, lambda: "today $1.20/$5.00" in str(title.render()), what="the detail line")
        assert "month $1.20/$50.00" in str(title.render())


async def test_the_editor_picks_notify_channels_by_name_and_sets_retries_pause_and_caps(
    make_app: Any, api: ApiClient
) -> None:
    pager = await api.create_channel({"name": "Pager", "type": "webhook", "url": "http://127.0.0.1:9/x"})
    await api.create_channel({"name": "Mail", "type": "email", "to": ["ops@example.com"]})
    agent = await api.create_agent(agent_body(name="Digest"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        picker = app.screen.query_one("#input-notify-channels", ChoiceList)
        await wait_until(pilot, lambda: picker.option_count == 2, what="the channels")
        labels = [Text.from_markup(str(picker.get_option_at_index(i).prompt)).plain for i in range(2)]
        assert labels == ["Mail  (email)", "Pager  (webhook)"]  # by name: no ids to type
        picker.focus()
        await pilot.press("down", "space")  # Pager
        assert picker.value == [pager["id"]]
        events = app.screen.query_one("#input-notify-on", ChoiceList)
        events.focus()
        await pilot.press("down", "down", "space")  # success: off by default
        for wid, text in (
            ("retry-attempts", "2"),
            ("pauseAfterFailures", "3"),
            ("dailyBudgetUsd", "5"),
            ("monthlyBudgetUsd", "80"),
        ):
            field = app.screen.query_one(f"#input-{wid}")
            field.focus()
            field.value = ""  # type: ignore[attr-defined]
            await pilot.press(*text)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: not isinstance(app.screen, EditorScreen), what="saved")
    saved = await api.get_agent(agent["id"])
    assert saved["notify"]["channels"] == [pager["id"]]
    assert "success" in saved["notify"]["on"] and "failure" in saved["notify"]["on"]
    assert saved["retry"]["attempts"] == 2 and saved["pauseAfterFailures"] == 3
    assert saved["dailyBudgetUsd"] == 5 and saved["monthlyBudgetUsd"] == 80


async def test_an_agent_s_notifications_load_unchanged_when_the_channels_arrive(
    make_app: Any, api: ApiClient
) -> None:
    """The channels come after the form is filled: the picks stay, in their order, and nothing is dirty."""
    first = await api.create_channel({"name": "Zulu", "type": "webhook", "url": "http://127.0.0.1:9/z"})
    second = await api.create_channel({"name": "Alpha", "type": "webhook", "url": "http://127.0.0.1:9/a"})
    picked = [first["id"], second["id"]]  # not the order the picker lists them in (by name)
    await api.create_agent(agent_body(name="Digest", notify={"channels": picked}))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen))
        picker = app.screen.query_one("#input-notify-channels", ChoiceList)
        await wait_until(pilot, lambda: picker.option_count == 2, what="the channels")
        assert picker.value == picked and set(picker.selected) == set(picked)
        assert app.screen.form.body(for_update=True) == {}
        await pilot.press("escape")  # nothing changed: closes without asking
        await wait_until(pilot, lambda: app.screen is app.main_screen)


async def test_the_settings_dialog_saves_caps_and_default_channels(make_app: Any, api: ApiClient) -> None:
    pager = await api.create_channel({"name": "Pager", "type": "webhook", "url": "http://127.0.0.1:9/x"})
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        dialog = app.screen
        picker = dialog.query_one("#input-notifyChannels", ChoiceList)
        await wait_until(pilot, lambda: picker.option_count == 1 and not dialog.form.disabled)
        daily = dialog.query_one("#input-dailyBudgetUsd")
        daily.focus()
        await pilot.press(*"-1", "ctrl+s")
        await wait_until(pilot, lambda: dialog.form.errors, what="the cap's error")
        assert dialog.form.errors == {"dailyBudgetUsd": "must be greater than 0, or null for no cap"}
        assert dialog.query_one("#error-dailyBudgetUsd").display
        daily.value = ""  # type: ignore[attr-defined]
        daily.focus()
        await pilot.press(*"12.5")
        picker.focus()
        await pilot.press("space")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is app.main_screen, what="saved")
        header = app.main_screen.query_one(StatsHeader)
        await wait_until(pilot, lambda: "today $0.00/$12.50" in header.render().plain, what="the header")
    assert await api.get_settings() == {
        "dailyBudgetUsd": 12.5,
        "monthlyBudgetUsd": None,
        "notifyChannels": [pager["id"]],
        "maxConcurrentRuns": None,
    }


async def test_run_detail_lists_the_alerts_and_the_runs_tab_marks_the_retry(
    make_app: Any, api: ApiClient, server: Server
) -> None:
    pager = await api.create_channel({"name": "Pager", "type": "webhook", "url": "http://127.0.0.1:9/x"})
    agent = await api.create_agent(agent_body(name="Digest"))
    now = datetime.now(UTC)
    failed = await add_run(server, agent["id"], "error", now - timedelta(minutes=10), cost=0.01)
    await add_deliveries(
        server,
        agent["id"],
        failed,
        now - timedelta(minutes=9),
        [(pager["id"], "run.failed", "failed", 4, "HTTP 500")],
    )
    await add_run(
        server,
        agent["id"],
        "success",
        now - timedelta(minutes=5),
        cost=0.02,
        trigger="retry",
        retry_of=(failed, 2),
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        history = app.main_screen.history
        await wait_until(pilot, lambda: history.row_count == 2, what="the runs")
        assert history.get_row_at(0)[2].plain == "↻ retry 2"
        assert history.get_row_at(1)[2].plain == "schedule"
        history.focus()
        await pilot.press("down", "enter")  # the failed run
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run")
        table = app.screen.query_one(DeliveryTable)
        await wait_until(pilot, lambda: table.row_count == 1 and table.names, what="the alerts")
        row = [cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(0)]
        assert row[:4] == ["Pager", "run.failed", "failed", "4"] and row[-1] == "HTTP 500"
        assert "1 alert (1 failed)" in str(app.screen.query_one("#run-alerts").render())
        await pilot.press("escape")
        history.focus()
        await pilot.press("up", "enter")  # its retry
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run is not None)
        title = str(app.screen.query_one("#run-title").render())
        assert f"retry, attempt 2 of run {failed}" in title
        assert not app.screen.query_one(DeliveryTable).display  # no alerts


async def test_a_run_that_ends_while_shown_gets_its_alerts(
    make_app: Any, api: ApiClient, server: Server
) -> None:
    pager = await api.create_channel({"name": "Pager", "type": "webhook", "url": "http://127.0.0.1:9/x"})
    agent = await api.create_agent(agent_body(name="Digest"))
    run_id = await add_run(server, agent["id"], "running", datetime.now(UTC) - timedelta(seconds=30))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, agents=1)
        app.push_screen(RunScreen(agent["id"], run_id, agent_name="Digest"))
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run is not None)
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert not screen.query_one(DeliveryTable).display
        now = datetime.now(UTC)
        await add_deliveries(server, agent["id"], run_id, now, [(pager["id"], "run.failed", "sent", 1, None)])
        # As the event stream says it (the run was written straight into storage, not by a runner).
        screen.post_message(
            server_messages.RunFinished(agent["id"], run_id, {**screen.run, "status": "error"})
        )
        table = screen.query_one(DeliveryTable)
        await wait_until(pilot, lambda: table.row_count == 1, what="the alert, read again")
        assert table.display and table.get_row_at(0)[0].plain == "Pager"
