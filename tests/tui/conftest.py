"""Dashboard fixtures: the real server behind a real socket, the real client, a frozen clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from app.client import ApiClient
from app.tui.app import CronAgentsApp, build_app


@pytest.fixture
async def api(live_url: str, token: str) -> AsyncIterator[ApiClient]:
    """The dashboard's own client, talking to the embedded server over 127.0.0.1."""
    client = ApiClient(live_url, token, timeout=10)
    yield client
    await client.aclose()


@pytest.fixture
def make_app(api: ApiClient) -> Callable[..., CronAgentsApp]:
    def make(**kwargs: Any) -> CronAgentsApp:
        kwargs.setdefault("default_timezone", "UTC")
        kwargs.setdefault("reconnect_delays", (0.05, 0.1, 0.2))
        return build_app(api, **kwargs)

    return make


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Let the app run until ``predicate()`` holds (fails the test after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def ready(pilot: Pilot[Any], agents: int | None = None) -> None:
    """The main screen is loaded (and the event stream connected)."""
    app = pilot.app
    assert isinstance(app, CronAgentsApp)
    await wait_until(
        pilot, lambda: app.main_screen is not None and app.first_paint_at is not None, what="first paint"
    )
    await wait_until(pilot, lambda: app.stream_open, what="event stream")
    if agents is not None:
        assert app.main_screen is not None
        table = app.main_screen.table
        await wait_until(pilot, lambda: table.row_count == agents, what=f"{agents} rows")
