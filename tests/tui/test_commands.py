"""The command palette is made of the bound actions: titles, keys (after the keymap) and ids."""

from __future__ import annotations

from typing import Any

from app.tui.app import CronAgentsApp, build_app
from app.tui.commands import bound_commands
from app.tui.screens.channels import ChannelsScreen
from app.tui.screens.editor import EditorScreen
from app.tui.screens.main import MainScreen
from app.tui.screens.run_detail import RunScreen
from app.tui.screens.settings import SettingsScreen
from tests.tui.conftest import wait_until
from tests.tui.fake_client import FakeClient, frozen_clock


def dashboard(**kwargs: Any) -> CronAgentsApp:
    return build_app(FakeClient(), clock=frozen_clock, default_timezone="UTC", stream_events=False, **kwargs)


async def test_commands_are_the_screens_bindings_with_the_users_keys() -> None:
    app = dashboard(keymap={"agent.new": "ctrl+n"})
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.first_paint_at is not None)
        main = app.main_screen
        assert main is not None
        commands = {c.help.split(" · ")[-1]: c for c in bound_commands(main)}
        ids = {b.id for b in MainScreen.BINDINGS if not isinstance(b, tuple)} | {"app.quit", "app.help"}
        assert set(commands) == ids  # every binding of the screen and the app; no widget's keys
        new = commands["agent.new"]
        assert (new.title, new.help, new.action, new.node, new.home) == (
            "Create a new agent",
            "^n · agent.new",
            "new_agent",
            main,
            None,
        )
        assert commands["stats.period"].title == "Stats period: 24h → 7d → 30d"
        assert commands["agents.clear_filter"].title == "Clear filter"  # no tooltip: the description
        assert commands["app.quit"].node is app


async def test_elsewhere_the_palette_adds_the_home_screens_commands_and_goes_back_first() -> None:
    app = dashboard()
    async with app.run_test(size=(120, 36)) as pilot:
        main = app.main_screen
        await wait_until(pilot, lambda: main is not None and main.history.row_count > 0)
        assert main is not None
        run = RunScreen(str(main.detail_agent_id), str(main.history.runs[0]["id"]))
        await app.push_screen(run)
        commands = list(bound_commands(run))
        assert commands[0].help == "esc q · run.back" and commands[0].home is None
        new = next(c for c in commands if c.help.endswith("agent.new"))
        assert new.home is main
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"new agent")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EditorScreen), what="editor from the palette")
        assert [type(s) for s in app.screen_stack[1:]] == [MainScreen, EditorScreen]


async def test_the_palette_opens_the_channels_and_the_settings() -> None:
    """Neither is in the footer (it is full): the palette finds them by what they do."""
    app = dashboard()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.first_paint_at is not None)
        for query, screen in (("alert channels", ChannelsScreen), ("settings global caps", SettingsScreen)):
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*query)
            await pilot.pause(0.5)
            await pilot.press("enter")
            await wait_until(
                pilot, lambda s=screen: isinstance(app.screen, s), what=f"{query} from the palette"
            )
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.main_screen)
