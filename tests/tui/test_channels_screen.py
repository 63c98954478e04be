"""Pilot tests of the channels screen against the real server over a real socket.

A webhook channel is created from the dashboard, its signing secret is shown once, and
a test message to a real receiver verifies with the secret that was shown; the API's
per-field 400s appear beside the fields; a failed test says why; edit, disable, delete.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Select, TextArea

from app.client import ApiClient
from app.tui.screens.channel_editor import ChannelEditorScreen
from app.tui.screens.channels import ChannelsScreen
from app.tui.screens.confirm import ConfirmScreen
from app.tui.screens.secret import SecretScreen
from tests.receivers import webhook_receiver
from tests.tui.conftest import ready, wait_until
from widgets.channel_form import ChannelForm
from widgets.channel_table import ChannelTable

SIZE = (120, 36)


async def type_into(pilot: Any, selector: str, text: str) -> None:
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    widget.value = ""
    await pilot.press(*text)


async def open_channels(pilot: Any, count: int = 0) -> ChannelTable:
    await ready(pilot)
    await pilot.press("C")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ChannelsScreen), what="channels screen")
    table = pilot.app.screen.query_one(ChannelTable)
    await wait_until(pilot, lambda: table.row_count == count, what=f"{count} channels")
    return table


async def test_a_new_webhook_shows_its_secret_once_and_a_test_verifies_with_it(
    make_app: Any, api: ApiClient
) -> None:
    async with webhook_receiver() as receiver:
        app = make_app()
        async with app.run_test(size=SIZE) as pilot:
            table = await open_channels(pilot)
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelEditorScreen))
            form = app.screen.query_one(ChannelForm)
            assert form.channel_type == "webhook"
            assert app.screen.query_one("#field-secret").display  # optional: generated when empty
            assert not app.screen.query_one("#field-to").display  # email only
            await type_into(pilot, "#input-name", "Pager")
            await type_into(pilot, "#input-url", receiver.url("/hook"))
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, SecretScreen), what="the secret dialog")
            dialog = app.screen
            assert isinstance(dialog, SecretScreen)
            secret = dialog.query_one(TextArea).text
            assert secret.startswith("whsec_") and secret == dialog.secret
            assert "will not be shown again" in str(dialog.query_one("#secret-warning").render())
            await pilot.press("c")  # copies; the dialog stays
            assert app.clipboard == secret
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelsScreen))
            await wait_until(pilot, lambda: table.row_count == 1)
            [channel] = table.channels.values()
            assert "secret" not in channel and channel["name"] == "Pager"
            # The secret shown is the one the server signs with: the receiver verifies it.
            receiver.secrets["/hook"] = secret
            await pilot.press("t")
            [received] = await receiver.wait_for(1)
            assert received.verified is True
            await wait_until(pilot, lambda: channel["id"] in table.tests, what="the test result")
            assert table.get_row_at(0)[-1].plain.startswith("✓ sent")
            # Never again: not in the list, not in the editor.
            assert all("secret" not in c for c in await api.list_channels())
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, ChannelEditorScreen))
            assert not app.screen.query_one("#field-secret").display
            assert app.screen.query_one("#input-type", Select).disabled


async def test_the_api_s_field_errors_show_beside_the_fields(make_app: Any, api: ApiClient) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await open_channels(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, ChannelEditorScreen))
        form = app.screen.query_one(ChannelForm)
        await type_into(pilot, "#input-name", "Broken")
        await type_into(pilot, "#input-url", "ftp://example.com/hook")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: form.errors, what="field errors")
        assert form.errors == {"url": "must be an http:// or https:// URL with a host"}
        assert app.screen.query_one("#error-url").display
        assert app.screen.query_one("#field-url").has_class("-invalid")
        assert "Invalid fields: url" in str(app.screen.query_one("#editor-message").render())
        # Email instead: the address list replaces the URL, and it is required.
        app.screen.query_one("#input-type", Select).value = "email"
        await wait_until(pilot, lambda: app.screen.query_one("#field-to").display)
        assert not app.screen.query_one("#field-url").display
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "to" in form.errors, what="the to error")
        assert form.errors["to"] == "must not be empty"  # the form sends the empty list it shows
        await type_into(pilot, "#input-to", "ops@example.com, not-an-address")
        assert "to" not in form.errors  # being fixed: the complaint goes
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "to" in form.errors)
        assert "not-an-address" in form.errors["to"]
        await type_into(pilot, "#input-to", "ops@example.com, dev@example.com")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ChannelsScreen), what="saved")
    [channel] = await api.list_channels()
    assert channel["type"] == "email" and channel["to"] == ["ops@example.com", "dev@example.com"]


async def test_a_failed_test_says_why_then_edit_disable_and_delete(make_app: Any, api: ApiClient) -> None:
    channel = await api.create_channel({"name": "Nowhere", "type": "webhook", "url": "http://127.0.0.1:9/x"})
    agent = await api.create_agent(
        {"name": "A", "schedule": "@daily", "prompt": "x", "notify": {"channels": [channel["id"]]}}
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_channels(pilot, count=1)
        await pilot.press("t")
        await wait_until(pilot, lambda: channel["id"] in table.tests, what="the test result")
        assert table.tests[channel["id"]]["status"] == "failed"
        assert table.get_row_at(0)[-1].plain.startswith("✗ could not connect")
        assert any("failed: could not connect" in str(n.message) for n in app._notifications)
        await pilot.press("enter")  # Enter edits, like e
        await wait_until(pilot, lambda: isinstance(app.screen, ChannelEditorScreen))
        await type_into(pilot, "#input-name", "Somewhere")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: table.get_row_at(0)[0].plain == "Somewhere", what="renamed")
        await pilot.press("space")
        await wait_until(pilot, lambda: table.get_row_at(0)[2].plain == "○", what="disabled")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Somewhere" in app.screen.question
        await pilot.press("y")
        await wait_until(pilot, lambda: table.row_count == 0, what="deleted")
    assert await api.list_channels() == []
    assert (await api.get_agent(agent["id"]))["notify"]["channels"] == []
