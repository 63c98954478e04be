"""SVG snapshots at 120x36 and 80x24 (canned data, frozen clock: 2025-01-07 10:00 UTC).

Update with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at
the pictures before committing them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import TextArea

from app.credentials import missing_credentials_message
from app.tui.app import CronAgentsApp, build_app
from app.tui.screens.channels import ChannelsScreen
from app.tui.screens.editor import EditorScreen
from app.tui.screens.nodes import NodesScreen
from app.tui.screens.run_detail import RunScreen
from app.tui.screens.run_input import RunInputScreen
from app.tui.screens.secret import SecretScreen
from app.tui.screens.settings import SettingsScreen
from tests.tui.fake_client import AGENTS, FakeClient, frozen_clock
from widgets.agent_form import AgentForm
from widgets.channel_table import ChannelTable
from widgets.choice_list import ChoiceList
from widgets.delivery_table import DeliveryTable
from widgets.node_table import NodeTable

SIZES = [pytest.param((120, 36), id="120x36"), pytest.param((80, 24), id="80x24")]
NO_CREDENTIALS = missing_credentials_message({}, Path("/nonexistent")) or ""


def dashboard() -> CronAgentsApp:
    return build_app(FakeClient(), clock=frozen_clock, default_timezone="UTC", source="local · demo")


async def settle(pilot: Pilot[Any], ready: Any = lambda: True) -> None:
    for _ in range(200):
        if ready():
            break
        await pilot.pause(0.02)
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False  # type: ignore[attr-defined]
    await pilot.pause()


async def main_loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, CronAgentsApp)
    await settle(
        pilot,
        lambda: (
            app.main_screen is not None
            and app.main_screen.history.row_count > 0
            and app.main_screen.live.written > 0
        ),
    )


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    """The header (5 agents, 3 active, runs/7d 109, success 92%, cost $5.27, running 1, then the
    spend against the global caps: today $0.85/$20.00, month $5.27/$400.00, the "Cron Agents" name
    giving way to them; at 80 columns no room for them), the agent table by name with its schedule in plain
    English, relative next/last run ("in 22h", "5m ago"), coloured statuses ("running" cyan for
    Daily digest, error red, budget exceeded magenta), "paused" for the disabled Docs link checker
    and "paused: 3 failures" in yellow for Flaky test hunter, which the server paused ("paused (3)"
    at 80 columns, where the Cost column still fits); at 120
    columns the Today column ($0.25/$0.30 in yellow for Daily digest, near its daily cap; plain
    figures for agents without one), and each agent's 7d cost from costByAgent (summing to the
    header's; $0.00 for the agent never run); the detail line of Daily digest with its cron
    expression and today/month spend against its caps; below, its Runs tab (running run on top,
    then history newest first, the retry of the failed run marked "↻ retry 2" in yellow) and the
    footer with the keys."""
    assert snap_compare(dashboard(), terminal_size=size, run_before=main_loaded)


@pytest.mark.parametrize("size", SIZES)
def test_editor_with_schedule_preview(snap_compare: Any, size: tuple[int, int]) -> None:
    """The editor over the main screen for Daily digest: every field filled from the agent; "Runs:
    on a schedule" above the schedule; under the schedule "At 09:00, Monday through Friday
    (Europe/Berlin)" and the next five fire times in Berlin (Wed 08 Jan 09:00 ... Tue 14 Jan
    09:00); Save / Close buttons."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        pilot.app.push_screen(EditorScreen(AGENTS[0], AGENTS))
        await settle(pilot, lambda: isinstance(pilot.app.screen, EditorScreen))

    assert snap_compare(dashboard(), terminal_size=size, run_before=run_before)


def test_editor_shows_api_field_errors(snap_compare: Any) -> None:
    """A new agent saved with a schedule that never fires and no prompt: the API's messages in red
    beside Schedule ("never fires: day 31 does not exist in February") and Prompt ("is required":
    the form leaves an empty prompt out of the body), their labels red, the summary "Invalid
    fields: prompt, schedule" above the buttons."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(pilot.app.screen, EditorScreen))
        form = pilot.app.screen.query_one(AgentForm)
        await pilot.press(*"Nightly")
        form.query_one("#input-schedule").focus()
        await pilot.press(*"0 9 31 2 *")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: bool(form.errors))
        form.query_one("#input-name").focus()
        form.query_one("#form-scroll").scroll_home(animate=False)
        await settle(pilot)

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_live_log(snap_compare: Any, size: tuple[int, int]) -> None:
    """The Live tab of Daily digest's running run: session init with the model, assistant text,
    a Grep tool call (yellow ▶) and its result (blue ◀), a Bash call refused (red ◀), and the
    closing assistant text, each with its time."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(dashboard(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_stats_tab(snap_compare: Any, size: tuple[int, int]) -> None:
    """The Stats tab: left, runs per day for 7d as stacked green (success) / red (error) bars with a
    legend and MM-DD ticks; right, the cost per day in orange with the 7d total in the title."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(dashboard(), terminal_size=size, run_before=run_before)


def test_global_stats_30d(snap_compare: Any) -> None:
    """`p` (7d → 30d) then `g`: all agents over 30 days — the summary line (488 runs, success 91%, $23.50,
    average duration, skipped), runs per day (stacked) above cost per day, 30 bars each."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        await pilot.press("p", "g")
        await settle(pilot)
        await asyncio.sleep(0.1)

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=run_before)


def test_main_screen_without_credentials(snap_compare: Any) -> None:
    """A yellow line under the header says no Claude credentials were found, and the fix
    (``cronagents login``, or ``ANTHROPIC_API_KEY``, see ``cronagents doctor``); the rest as the
    main screen."""
    app = build_app(
        FakeClient(),
        clock=frozen_clock,
        default_timezone="UTC",
        source="local · demo",
        notice=NO_CREDENTIALS,
    )
    assert snap_compare(app, terminal_size=(120, 36), run_before=main_loaded)


async def channels_loaded(pilot: Pilot[Any]) -> None:
    await main_loaded(pilot)
    await pilot.press("C")
    await settle(pilot, lambda: isinstance(pilot.app.screen, ChannelsScreen))
    table = pilot.app.screen.query_one(ChannelTable)
    await settle(pilot, lambda: table.row_count == 3)


def test_channels_screen(snap_compare: Any) -> None:
    """`C` on the main screen: the alert channels by name — On-call webhook (cyan webhook, green dot,
    its URL), Ops mail (yellow email, disabled: hollow dot, dim, both addresses), Team Slack
    (magenta slack, its URL shown only up to "services/…") — after `t` on the webhook: "✓ sent
    10:00:00" in green in its Last test column and on the status line; the footer with n, e, d,
    t, space and esc."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await channels_loaded(pilot)
        await pilot.press("t")
        table = pilot.app.screen.query_one(ChannelTable)
        await settle(pilot, lambda: bool(table.tests))

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=run_before)


def test_nodes_screen(snap_compare: Any) -> None:
    """`N` on the main screen: "Nodes · 2 alive · 1 lease expired · 3 running · 1 queued" over the
    table — node-a (4121) alive, started 2d 3h ago, heartbeat 3s ago, 1 running (cyan); node-b
    (3876) alive, 8s ago, 2 running, 1 queued; node-c (911) dim, "○ lease expired" in red, its
    heartbeat "1m ago" in red, no runs — and the footer's esc."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        await pilot.press("N")
        await settle(pilot, lambda: isinstance(pilot.app.screen, NodesScreen))
        table = pilot.app.screen.query_one(NodeTable)
        await settle(pilot, lambda: table.row_count == 3)

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=run_before)


def test_new_channel_field_error(snap_compare: Any) -> None:
    """`n` on the channels screen, a webhook named "Pager" with the URL "ftp://pager": the API's
    "✗ must be an http:// or https:// URL with a host" in red under URL (its label red), the
    optional signing secret ("generated"), the summary "Invalid fields: url" above the buttons."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await channels_loaded(pilot)
        await pilot.press("n")
        await settle(pilot, lambda: pilot.app.screen.query("#input-url"))
        await pilot.press(*"Pager")
        pilot.app.screen.query_one("#input-url").focus()
        await pilot.press(*"ftp://pager", "ctrl+s")
        await settle(pilot, lambda: bool(pilot.app.screen.query_one("#error-url").display))

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=run_before)


def test_editor_notifications_retries_and_caps(snap_compare: Any) -> None:
    """The editor for Daily digest (at 120x50) scrolled to its new sections: Notifications — the channels
    (focused, the first highlighted) picked by name (On-call webhook and Team Slack checked, Ops mail
    shown "(email, off)" and not),
    the hint that none picked means the settings' default channels, the events to send on as
    checkboxes (failure, recovery, budget, paused checked; success, missed not), Only on change on;
    Retries and auto-pause — attempts 2, backoff 300, max backoff 3600, pause after 3; Spend caps —
    daily 0.3, monthly 10."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        pilot.app.push_screen(EditorScreen(AGENTS[0], AGENTS))
        await settle(pilot, lambda: isinstance(pilot.app.screen, EditorScreen))
        picker = pilot.app.screen.query_one("#input-notify-channels", ChoiceList)
        await settle(pilot, lambda: picker.option_count == 3)
        picker.focus()
        await settle(pilot)
        scroll = pilot.app.screen.query_one("#form-scroll")
        section = next(w for w in scroll.query(".form-section") if "Notifications" in str(w.render()))
        scroll.scroll_to_widget(section, animate=False, top=True)
        await settle(pilot)

    assert snap_compare(dashboard(), terminal_size=(120, 50), run_before=run_before)


def test_settings_dialog(snap_compare: Any) -> None:
    """`S`: the settings over the main screen — Daily cap (USD) 20, Monthly cap (USD) 400, the
    default channels by name (On-call webhook checked), the cluster run limit (none), and what a
    cap does."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen))
        picker = pilot.app.screen.query_one("#input-notifyChannels", ChoiceList)
        await settle(pilot, lambda: picker.option_count == 3 and not picker.disabled)

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=run_before)


def test_run_detail_with_deliveries(snap_compare: Any) -> None:
    """The failed run of Daily digest (Enter on it in the Runs tab): "error" and its summary, "Started
    by schedule" with its slot, "2
    alerts (1 failed, 1 sent)", then a row per delivery — On-call webhook, run.failed, sent in green,
    1 try, sent 01-05 08:00:45; Team Slack, run.failed, failed in red, 5 tries, "HTTP 404 from
    hooks.slack.com: no_service" in red — then the transcript, and the output at the bottom."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        pilot.app.push_screen(RunScreen("agt_000000000001", "run_000000000002", agent_name="Daily digest"))
        await settle(pilot, lambda: isinstance(pilot.app.screen, RunScreen))
        table = pilot.app.screen.query_one(DeliveryTable)
        await settle(pilot, lambda: table.row_count == 2 and "On-call webhook" in table.names.values())

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=run_before)


def test_run_detail_of_a_retry(snap_compare: Any) -> None:
    """The retry of the failed run: the title says "↻ retry, attempt 2 of run run_000000000002" in
    yellow, the summary "success retry ...", "Started by ↻ retry 2 after run run_000000000002 (P opens
    it)", one alert — run.recovered to On-call webhook, sent."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        pilot.app.push_screen(RunScreen("agt_000000000001", "run_000000000010", agent_name="Daily digest"))
        await settle(pilot, lambda: isinstance(pilot.app.screen, RunScreen))
        table = pilot.app.screen.query_one(DeliveryTable)
        await settle(pilot, lambda: table.row_count == 1 and "On-call webhook" in table.names.values())

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=run_before)


# -- triggers: input, webhooks, chains, one-shots, MCP servers, secrets (issue 12) --------------


def triggers_dashboard() -> CronAgentsApp:
    client = FakeClient().add_triggers()
    return build_app(client, clock=frozen_clock, default_timezone="UTC", source="local · demo")


async def incident_notes(pilot: Pilot[Any]) -> None:
    """The main screen with Incident notes (chained from Triage alerts) selected, its runs shown."""
    await main_loaded(pilot)
    app = pilot.app
    assert isinstance(app, CronAgentsApp) and app.main_screen is not None
    main = app.main_screen
    main.table.select_agent("agt_000000000007")
    await settle(pilot, lambda: [r["id"] for r in main.history.runs][:1] == ["run_000000000021"])


def test_triggers_on_the_main_screen(snap_compare: Any) -> None:
    """Eight agents: Quarterly report runs once — "once, Fri 10 Jan 16:00" (Berlin) in the Schedule
    column, "in 3d" next; Incident notes selected: its detail line marked "↯ webhook", its Runs tab
    marking the run chained from Triage alerts "↳ chain" (cyan) and the webhook run "↯ webhook"
    (magenta), then a scheduled and a manual run."""
    assert snap_compare(triggers_dashboard(), terminal_size=(120, 36), run_before=incident_notes)


def test_run_detail_of_a_chained_run(snap_compare: Any) -> None:
    """Enter on the chained run: "Started by ↳ chain after run run_000000000020 of Triage alerts
    (P opens it)", then its input — the output of Triage alerts' run — under "Input", then the
    transcript and its output."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await incident_notes(pilot)
        pilot.app.push_screen(RunScreen("agt_000000000007", "run_000000000021", agent_name="Incident notes"))
        await settle(
            pilot,
            lambda: any("Triage alerts" in str(w.render()) for w in pilot.app.screen.query("#run-origin")),
        )

    assert snap_compare(triggers_dashboard(), terminal_size=(120, 36), run_before=run_before)


def test_run_with_input_dialog(snap_compare: Any) -> None:
    """`R` on Incident notes: "Run “Incident notes” with input", what the input becomes ({{input}},
    JSON or text), a JSON object typed, "Sent as JSON (an object)." under it; Run / Close."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await incident_notes(pilot)
        await pilot.press("R")
        await settle(pilot, lambda: isinstance(pilot.app.screen, RunInputScreen))
        pilot.app.screen.query_one(TextArea).text = '{\n  "incident": "db1 disk full",\n  "severity": 2\n}'
        await settle(pilot)

    assert snap_compare(triggers_dashboard(), terminal_size=(120, 36), run_before=run_before)


def test_trigger_secret_dialog(snap_compare: Any) -> None:
    """`W` on Daily digest (no trigger secret yet): "Trigger secret of “Daily digest”", what it is
    for (GitHub or Standard Webhooks signatures), the URL http://fake/hooks/agents/agt_000000000001,
    the secret selected in its box, and that it will not be shown again (W rotates it)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        await pilot.press("W")
        await settle(pilot, lambda: isinstance(pilot.app.screen, SecretScreen))

    assert snap_compare(triggers_dashboard(), terminal_size=(120, 36), run_before=run_before)


async def triage_editor(pilot: Pilot[Any], section: str) -> None:
    """The editor of Triage alerts, scrolled to ``section``."""
    await main_loaded(pilot)
    app = pilot.app
    assert isinstance(app, CronAgentsApp)
    agent = await app.client.get_agent("agt_000000000006")
    app.push_screen(EditorScreen(agent, await app.client.list_agents()))
    await settle(pilot, lambda: isinstance(app.screen, EditorScreen))
    picker = app.screen.query_one("#input-onSuccess", ChoiceList)
    await settle(pilot, lambda: picker.option_count == 7)
    scroll = app.screen.query_one("#form-scroll")
    heading = next(w for w in scroll.query(".form-section") if section in str(w.render()))
    scroll.scroll_to_widget(heading, animate=False, top=True)
    await settle(pilot)
    scroll.scroll_to_widget(heading, animate=False, top=True)  # once the pickers are filled
    await settle(pilot)


def test_editor_triggers(snap_compare: Any) -> None:
    """The editor of Triage alerts (at 120x50) scrolled to Triggers: its webhook URL
    (/hooks/agents/agt_000000000006), On success with Incident notes checked and listed first, then
    the other agents by name (not itself; the disabled ones "(off)"; five rows, scrolled), On failure
    none checked, the chain hint; below, Capabilities."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await triage_editor(pilot, "Triggers")

    assert snap_compare(triggers_dashboard(), terminal_size=(120, 50), run_before=run_before)


def test_editor_capabilities(snap_compare: Any) -> None:
    """The editor of Triage alerts (at 120x50) scrolled to Capabilities: the MCP servers as JSON with
    a stray comma typed, shown in red at the field ("✗ not valid JSON: Expecting property name
    enclosed in double quotes (line ..., column ...)", the label red) and the hint on the format and
    allowedTools; Secrets: PAGER_TOKEN "✓ set" with an empty masked input and Delete, the row to add
    one (NEW_NAME, its value, Add) and the hint that values are never shown."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await triage_editor(pilot, "Capabilities")
        area = pilot.app.screen.query_one("#input-mcpServers", TextArea)
        area.text = area.text.replace('"headers": {}', '"headers": {},')
        await settle(pilot, lambda: pilot.app.screen.query_one("#error-mcpServers").display)
        pilot.app.screen.query_one("#form-scroll").scroll_end(animate=False)  # the error took two lines
        await settle(pilot)

    assert snap_compare(triggers_dashboard(), terminal_size=(120, 50), run_before=run_before)
