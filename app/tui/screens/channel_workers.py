"""The channels' API calls: workers that report back to their screen with typed messages.

:func:`read_channels` is shared by every screen that shows channels by name (the
channels screen, the agent editor, the settings dialog, a run's detail).
:class:`ChannelWorkers` starts the channels screen's calls; as the main screen's
workers, they read no widget and change none (a delete asks first).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from textual.message import Message

from app.client import ApiError
from app.tui.base import DashboardScreen
from app.tui.screens.confirm import ConfirmScreen
from app.tui.screens.main_workers import CallFailed

Json = dict[str, Any]


class ChannelsLoaded(Message, bubble=False):
    """The channels, as ``GET /api/channels`` lists them (``error`` when the read failed)."""

    def __init__(self, channels: list[Json], error: ApiError | None = None) -> None:
        super().__init__()
        self.channels = channels
        self.error = error


class ChannelRemoved(Message, bubble=False):
    def __init__(self, channel_id: str) -> None:
        super().__init__()
        self.channel_id = channel_id


class ChannelTested(Message, bubble=False):
    """A test message went to the channel: the delivery as recorded (``status`` sent or failed)."""

    def __init__(self, channel_id: str, delivery: Json) -> None:
        super().__init__()
        self.channel_id = channel_id
        self.delivery = delivery

    @property
    def sent(self) -> bool:
        return self.delivery.get("status") == "sent"


class ChannelSaved(Message, bubble=False):
    """A channel the dashboard created or changed."""

    def __init__(self, channel: Json) -> None:
        super().__init__()
        self.channel = channel


async def read_channels(screen: DashboardScreen[Any]) -> None:
    """Read the channels and post :class:`ChannelsLoaded` to ``screen`` (run it in a worker)."""
    try:
        channels = await screen.dash.client.list_channels()
    except ApiError as exc:
        screen.post_message(ChannelsLoaded([], exc))
        return
    screen.post_message(ChannelsLoaded(channels))


class ChannelWorkers:
    """Starts the channels screen's workers; see the module docstring."""

    def __init__(self, screen: DashboardScreen[Any]) -> None:
        self._screen = screen

    def _start(self, work: Callable[[], Awaitable[None]], group: str, *, exclusive: bool = True) -> None:
        self._screen.run_worker(work, name=group, group=group, exclusive=exclusive)

    def _post(self, message: Message) -> None:
        self._screen.post_message(message)

    def load(self) -> None:
        self._start(partial(read_channels, self._screen), "load-channels")

    def delete(self, channel: Json) -> None:
        """Ask first, naming the channel; deleting it also takes it out of every agent's list."""
        self._start(partial(self._delete, channel), "delete-channel", exclusive=False)

    async def _delete(self, channel: Json) -> None:
        question = (
            f"Delete the channel “{channel.get('name')}”?\n"
            "Agents sending to it stop doing so. This cannot be undone."
        )
        if not await self._screen.app.push_screen_wait(ConfirmScreen(question, confirm_label="Delete")):
            return
        try:
            await self._screen.dash.client.delete_channel(str(channel["id"]))
        except ApiError as exc:
            self._post(CallFailed("Deleting the channel", exc))
            return
        self._post(ChannelRemoved(str(channel["id"])))
        self._screen.notify(f"Deleted the channel “{channel.get('name')}”")

    def test(self, channel: Json) -> None:
        """Send a test message now; the answer says whether it arrived."""
        self._start(partial(self._test, channel), f"test-{channel['id']}")

    async def _test(self, channel: Json) -> None:
        try:
            delivery = await self._screen.dash.client.test_channel(str(channel["id"]))
        except ApiError as exc:
            self._post(CallFailed("Testing the channel", exc))
            return
        self._post(ChannelTested(str(channel["id"]), delivery))

    def toggle(self, channel: Json) -> None:
        self._start(partial(self._toggle, channel), "toggle-channel", exclusive=False)

    async def _toggle(self, channel: Json) -> None:
        try:
            updated = await self._screen.dash.client.update_channel(
                str(channel["id"]), {"enabled": not channel.get("enabled")}
            )
        except ApiError as exc:
            self._post(CallFailed("Updating the channel", exc))
            return
        self._post(ChannelSaved(updated))
