"""Where the config file and the log live (the user's config and log directories), the old
places still read, and the log rotated and private."""

from __future__ import annotations

import logging
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import config
from app.logfile import PrivateRotatingFileHandler, log_to_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def user_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CRONAGENTS_HOME: the platform's user directories (XDG on Linux), under tmp_path."""
    monkeypatch.delenv("CRONAGENTS_HOME")
    for name in ("DATA", "CONFIG", "STATE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    return tmp_path


def test_cronagents_home_keeps_everything_under_it() -> None:
    home = config.data_dir()
    assert config.config_dir() == config.log_dir() == home
    assert config.config_path() == home / "config.toml"
    assert config.log_path() == home / "cronagents.log"
    assert config.legacy_log_path() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG directories")
def test_config_and_log_go_to_the_user_config_and_log_directories(user_dirs: Path) -> None:
    assert config.data_dir() == user_dirs / "data" / "cronagents"
    assert config.config_path() == user_dirs / "config" / "cronagents" / "config.toml"
    assert config.log_path() == user_dirs / "state" / "cronagents" / "log" / "cronagents.log"


def test_the_old_config_is_read_until_one_exists_at_the_new_place(user_dirs: Path) -> None:
    old = config.data_dir() / "config.toml"
    new = config.config_dir() / "config.toml"
    assert config.config_path() == new  # neither exists: the new place
    old.parent.mkdir(parents=True)
    old.write_text("[keymap]\n")
    assert config.config_path() == old
    new.parent.mkdir(parents=True)
    new.write_text("[keymap]\n")
    assert config.config_path() == new


def test_the_old_log_is_found_but_no_longer_written(user_dirs: Path) -> None:
    old = config.data_dir() / "cronagents.log"
    old.parent.mkdir(parents=True)
    old.write_text("before\n")
    assert config.legacy_log_path() == old
    assert config.log_path() != old


def test_tighten_covers_the_config_file_and_the_log_directory(user_dirs: Path) -> None:
    conf = config.config_dir() / "config.toml"
    log = config.log_path()
    for path in (conf, log):
        path.parent.mkdir(parents=True)
        path.write_text("x")
        path.chmod(0o644)
    log.parent.chmod(0o755)
    config.tighten_data_dir()
    assert (mode(conf), mode(log), mode(log.parent)) == (0o600, 0o600, 0o700)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        yield root
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_the_log_is_rotated_and_every_file_of_it_is_private(
    tmp_path: Path, root_logger: logging.Logger
) -> None:
    path = tmp_path / "logs" / "cronagents.log"
    log_to_file(path, max_bytes=300, backup_count=2)
    [handler] = root_logger.handlers
    assert isinstance(handler, PrivateRotatingFileHandler)
    for i in range(40):
        logging.getLogger("cronagents.test").info("line %d %s", i, "x" * 40)
    handler.flush()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["cronagents.log", "cronagents.log.1", "cronagents.log.2"]
    assert {mode(path.parent / name) for name in files} == {0o600}
    assert mode(path.parent) == 0o700
    assert all(p.stat().st_size <= 300 for p in path.parent.iterdir())
    assert "line 39" in path.read_text()
