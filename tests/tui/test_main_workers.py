"""The main screen's API calls report back with typed messages (``main_workers``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message

from app.client import ApiError
from app.tui.app import build_app
from app.tui.screens.main_workers import (
    AgentRunsLoaded,
    AgentSaved,
    AgentsLoaded,
    CallFailed,
    GlobalStatsLoaded,
    TranscriptLoaded,
)
from tests.tui.conftest import wait_until
from tests.tui.fake_client import AGENTS, FakeClient, frozen_clock
from widgets.banner import ConnectionBanner


def recorder() -> tuple[list[Message], Callable[[Message], None]]:
    seen: list[Message] = []
    return seen, seen.append


def of(kind: type[Any], seen: list[Message]) -> list[Any]:
    return [m for m in seen if isinstance(m, kind)]


async def test_reads_report_back_and_the_screen_shows_them() -> None:
    seen, hook = recorder()
    app = build_app(FakeClient(), clock=frozen_clock, stream_events=False)
    async with app.run_test(size=(120, 36), message_hook=hook) as pilot:
        await wait_until(pilot, lambda: of(TranscriptLoaded, seen), what="the transcript")
        [agents] = of(AgentsLoaded, seen)
        assert len(agents.agents) == len(AGENTS)
        assert of(GlobalStatsLoaded, seen)[0].period == "7d"
        assert of(GlobalStatsLoaded, seen)[0].stats["costByAgent"]
        [runs] = of(AgentRunsLoaded, seen)
        [transcript] = of(TranscriptLoaded, seen)
        assert runs.agent_id == transcript.agent_id == app.main_screen.detail_agent_id  # type: ignore[union-attr]
        assert transcript.run["status"] == "running" and transcript.run["events"]
        await pilot.press("space")
        await wait_until(pilot, lambda: of(AgentSaved, seen), what="the toggle")
        assert of(AgentSaved, seen)[0].agent["enabled"] is False


class FailingStats(FakeClient):
    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status

    async def global_stats(self, period: str) -> dict[str, Any]:
        raise ApiError(self.status, "the stats are down" if self.status else "cannot reach http://fake")


async def test_a_failed_read_is_a_notification_or_when_unreachable_the_banner() -> None:
    seen, hook = recorder()
    app = build_app(FailingStats(503), clock=frozen_clock, stream_events=False)
    async with app.run_test(size=(120, 36), message_hook=hook) as pilot:
        await wait_until(pilot, lambda: of(CallFailed, seen))
        [failed] = of(CallFailed, seen)
        assert failed.what == "Loading stats" and failed.error.status == 503
        await wait_until(
            pilot,
            lambda: any("Loading stats: the stats are down" in str(n.message) for n in app._notifications),
        )
    app = build_app(FailingStats(0), clock=frozen_clock, stream_events=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.first_paint_at is not None)
        banner = app.screen.query_one(ConnectionBanner)
        await wait_until(pilot, lambda: banner.display, what="banner")
        assert banner.message == "cannot reach http://fake — reconnecting…"
