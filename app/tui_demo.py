"""Demo data and the README screenshots (``make screenshots``).

    python -m app.tui_demo screenshots [--out screenshots]   # seeds a temporary database

The demo database is seeded by :mod:`app.demo_data` (agents with 30 days of
history, a transcript, channels, alerts, a retry, a paused agent). It sits beside the launcher
(``app/tui_main.py``), above the dashboard: it builds a server and a database,
which the UI package itself never touches.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app import auth
from app.client import ApiClient
from app.demo_data import TRANSCRIPT, add_deliveries, add_run, pause_agent, seed_demo, seed_triggers
from app.server import ServerConfig, running, serving
from app.tui.app import build_app
from app.tui.screens.editor import EditorScreen
from app.tui.screens.run_detail import RunScreen
from widgets.channel_table import ChannelTable
from widgets.choice_list import ChoiceList
from widgets.delivery_table import DeliveryTable

__all__ = ["TRANSCRIPT", "add_deliveries", "add_run", "pause_agent", "seed_demo", "write_screenshots"]


async def write_screenshots(out: Path, size: tuple[int, int] = (120, 36)) -> list[Path]:
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = ServerConfig(
            db_path=Path(tmp) / "demo.db", run_scheduler=False, stats_zone="UTC", default_timezone="UTC"
        )
        async with running(cfg) as server:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            await seed_demo(server, now)
            _, token = await auth.create_token(server.store, "screenshots")
            async with serving(server) as url:
                client = ApiClient(url, token)
                try:
                    app = build_app(
                        client, source=f"local · {url}", default_timezone="UTC", clock=lambda: now
                    )
                    app.period = "30d"
                    async with app.run_test(size=size) as pilot:
                        main = app.main_screen
                        assert main is not None
                        await _settle(pilot, lambda: main.history.row_count > 0)

                        def shot(name: str) -> None:
                            path = out / f"{name}.svg"
                            app.save_screenshot(str(path.name), str(out))
                            written.append(path)

                        shot("main")
                        await pilot.press("2")
                        await _settle(pilot, lambda: main.live.written > 0)
                        shot("live")
                        await pilot.press("3")
                        await _settle(pilot, lambda: True)
                        shot("stats")
                        app.push_screen(EditorScreen(main.selected_agent(), list(main.table.agents.values())))
                        await _settle(pilot, lambda: isinstance(app.screen, EditorScreen))
                        shot("editor")
                        picker = app.screen.query_one("#input-notify-channels", ChoiceList)
                        await _settle(pilot, lambda: picker.option_count > 0)
                        picker.focus()
                        await _settle(pilot, lambda: True)
                        scroll = app.screen.query_one("#form-scroll")
                        heading = next(w for w in scroll.query(".form-section") if "Notif" in str(w.render()))
                        scroll.scroll_to_widget(heading, animate=False, top=True)
                        await _settle(pilot, lambda: True)
                        shot("notifications")
                        app.pop_screen()
                        await pilot.press("1")
                        retry = next(r for r in main.history.runs if r.get("trigger") == "retry")
                        name = str((main.selected_agent() or {}).get("name"))
                        app.push_screen(
                            RunScreen(str(retry["agentId"]), str(retry["retryOf"]), agent_name=name)
                        )
                        await _settle(pilot, lambda: any(t.names for t in app.screen.query(DeliveryTable)))
                        shot("alerts")
                        app.pop_screen()
                        await pilot.press("C")
                        await _settle(pilot, lambda: any(t.row_count for t in app.screen.query(ChannelTable)))
                        shot("channels")
                        app.pop_screen()
                        await shoot_triggers(server, pilot, now, shot)
                finally:
                    await client.aclose()
    return written


async def shoot_triggers(server: Any, pilot: Any, now: datetime, shot: Callable[[str], None]) -> None:
    """``triggers``: a chained and a webhook run, a one-shot; ``capabilities``: the editor's chains,
    MCP servers and secrets. Seeded after the other pictures, which they would change."""
    app = pilot.app
    main = app.main_screen
    ids = await seed_triggers(server, now)
    main.reload()  # the runs went straight into storage: read the agents' last runs again
    await _settle(pilot, lambda: main.table.agents.get(ids["Incident notes"], {}).get("lastRunAt"))
    main.table.select_agent(ids["Incident notes"])
    await _settle(pilot, lambda: len(main.history.runs) == 4)
    shot("triggers")
    agents = list(main.table.agents.values())
    app.push_screen(EditorScreen(main.table.agents[ids["Alert triage"]], agents))
    await _settle(pilot, lambda: isinstance(app.screen, EditorScreen))
    picker = app.screen.query_one("#input-onSuccess", ChoiceList)
    await _settle(pilot, lambda: picker.option_count > 0)
    scroll = app.screen.query_one("#form-scroll")
    heading = next(w for w in scroll.query(".form-section") if "Triggers" in str(w.render()))
    await _settle(pilot, lambda: True)
    scroll.scroll_to_widget(heading, animate=False, top=True)
    await _settle(pilot, lambda: True)
    shot("capabilities")
    app.pop_screen()


async def _settle(pilot: Any, ready: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready() and loop.time() < deadline:
        await pilot.pause(0.05)
    await pilot.pause(0.3)
    await pilot.wait_for_scheduled_animations()
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.tui_demo")
    sub = parser.add_subparsers(dest="command", required=True)
    shots = sub.add_parser("screenshots", help="write screenshots/*.svg from a seeded demo database")
    shots.add_argument("--out", default="screenshots", type=Path)
    args = parser.parse_args(argv)
    if args.command == "screenshots":
        for path in asyncio.run(write_screenshots(args.out)):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
