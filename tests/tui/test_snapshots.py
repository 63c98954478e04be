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

from app.credentials import missing_credentials_message
from app.tui.app import CronAgentsApp, build_app
from app.tui.screens.editor import EditorScreen
from tests.tui.fake_client import AGENTS, FakeClient, frozen_clock
from widgets.agent_form import AgentForm

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
    """The header (5 agents, 4 active, runs/7d 109, success 92%, cost $5.27, running 1), the agent
    table by name with the schedule and its plain English, relative next/last run ("in 22h",
    "5m ago"), coloured statuses ("running" cyan for Daily digest, error red, budget exceeded
    magenta), "paused" for the disabled Docs link checker, each agent's 7d cost (summing to the
    header's; $0.00 for the agent never run); below, Daily digest's Runs tab (running run on top,
    then history newest first) and the footer with the keys."""
    assert snap_compare(dashboard(), terminal_size=size, run_before=main_loaded)


@pytest.mark.parametrize("size", SIZES)
def test_editor_with_schedule_preview(snap_compare: Any, size: tuple[int, int]) -> None:
    """The editor over the main screen for Daily digest: every field filled from the agent;
    under the schedule "At 09:00, Monday through Friday (Europe/Berlin)" and the next five fire
    times in Berlin (Wed 08 Jan 09:00 ... Tue 14 Jan 09:00); Save / Close buttons."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await main_loaded(pilot)
        pilot.app.push_screen(EditorScreen(AGENTS[0]))
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
