"""The typed bases: screens see the app as ``self.dash``; a dashboard dialog is still a see-through modal."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from app.tui.app import build_app
from app.tui.base import DashboardModalScreen, DashboardScreen
from tests.tui.conftest import wait_until
from tests.tui.fake_client import FakeClient, frozen_clock


class Dialog(DashboardModalScreen[None]):
    def compose(self) -> ComposeResult:
        yield Static("a question")


async def test_a_dashboard_dialog_is_a_modal_over_the_dashboard() -> None:
    app = build_app(FakeClient(), clock=frozen_clock, stream_events=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.first_paint_at is not None)
        dialog = Dialog()
        await app.push_screen(dialog)
        assert isinstance(dialog, DashboardScreen) and dialog.dash is app
        assert dialog.is_modal
        assert dialog.styles.background.a < 1  # ModalScreen's see-through background, inherited


async def test_the_period_cycles_through_the_three() -> None:
    app = build_app(FakeClient(), clock=frozen_clock, stream_events=False)
    assert app.period == "7d"
    assert [app.next_period() for _ in range(3)] == ["30d", "24h", "7d"]
