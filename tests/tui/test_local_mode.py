"""Local mode's pieces: the self-issued token, the log file, the keymap file, the CLI's checks."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from app import config
from app.auth import PREFIX_LENGTH
from app.client import ApiClient
from app.server import Server
from app.tui.keymap import load_keymap
from app.tui_main import local_token, log_to_file, run_dashboard
from storage import users as user_store


async def test_local_token_is_made_once_kept_0600_and_reused(server: Server, live_url: str) -> None:
    path = config.data_dir() / "local-token"
    first = await local_token(server, live_url)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first
    assert await local_token(server, live_url) == first  # still authenticates: reused
    client = ApiClient(live_url, first)
    try:
        assert await client.list_agents() == []
    finally:
        await client.aclose()


async def test_local_token_replaced_when_revoked(server: Server, live_url: str) -> None:
    first = await local_token(server, live_url)
    await user_store.revoke_token(server.db, first[:PREFIX_LENGTH], 1)
    second = await local_token(server, live_url)
    assert second != first
    assert (config.data_dir() / "local-token").read_text().strip() == second


def test_logs_go_to_the_file_not_the_screen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        log_to_file(tmp_path / "cronagents.log")
        logging.getLogger("cronagents.server").info("embedded API started")
        logging.getLogger("httpx").info("HTTP Request: GET /api/agents")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    text = (tmp_path / "cronagents.log").read_text()
    assert "embedded API started" in text
    assert "HTTP Request" not in text  # one line per request is noise
    assert capsys.readouterr() == ("", "")
    assert stat.S_IMODE((tmp_path / "cronagents.log").stat().st_mode) == 0o600


def test_keymap_from_config_toml() -> None:
    path = config.data_dir() / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert load_keymap() == {}
    path.write_text('[keymap]\n"agent.new" = "ctrl+n"\n"agent.delete" = "x,delete"\nbad = 3\n')
    assert load_keymap() == {"agent.new": "ctrl+n", "agent.delete": "x,delete"}
    path.write_text("[keymap\n")
    assert load_keymap() == {}  # a broken file is ignored (and logged), not fatal


def test_remote_without_token_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_dashboard(Path("unused.db"), 8787, "http://127.0.0.1:1", 4) == 2
    assert "CRONAGENTS_TOKEN" in capsys.readouterr().err
