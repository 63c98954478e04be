"""Where things live and what the defaults are; every setting has an environment variable.

| setting            | flag / variable                          | default                                |
|--------------------|------------------------------------------|----------------------------------------|
| database file      | ``--db`` / ``CRONAGENTS_DB``             | ``<data dir>/cronagents.db``           |
| data directory     | ``CRONAGENTS_HOME``                      | platformdirs user data dir             |
| config file        | (``CRONAGENTS_HOME``)                    | ``<user config dir>/config.toml``      |
| log file           | (``CRONAGENTS_HOME``)                    | ``<user log dir>/cronagents.log``      |
| stats time zone    | ``CRONAGENTS_STATS_TZ``                  | the machine's local zone               |
| API token (remote) | ``CRONAGENTS_TOKEN``                     | —                                      |

``CRONAGENTS_HOME``, when set, holds everything (data, config and log), as
the tests use it. Otherwise the platform's user directories are used
(platformdirs: on Linux ``~/.local/share/cronagents``,
``~/.config/cronagents`` and ``~/.local/state/cronagents/log``). A
``config.toml`` left in the data directory by an older version is still read
while no file exists in the config directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

APP_NAME = "cronagents"
CONFIG_FILE = "config.toml"
LOG_FILE = "cronagents.log"


def _home() -> Path | None:
    home = os.environ.get("CRONAGENTS_HOME")
    return Path(home) if home else None


def data_dir() -> Path:
    return _home() or Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return _home() or Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return _home() or Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    """The config file to read: ``<config dir>/config.toml``, or the one an older
    version kept in the data directory while only that one exists."""
    path = config_dir() / CONFIG_FILE
    legacy = data_dir() / CONFIG_FILE
    if not path.exists() and legacy.is_file():
        return legacy
    return path


def log_path() -> Path:
    """The dashboard's log file (rotated; see :mod:`app.logfile`)."""
    return log_dir() / LOG_FILE


def legacy_log_path() -> Path | None:
    """The log an older version wrote in the data directory, if it is there (no longer written)."""
    path = data_dir() / LOG_FILE
    return path if path != log_path() and path.is_file() else None


def default_db_path() -> Path | str:
    """``CRONAGENTS_DB`` (a path, or a ``postgresql://`` URL as is), else the data directory's file."""
    env = os.environ.get("CRONAGENTS_DB")
    if env and "://" in env:
        return env
    return Path(env) if env else data_dir() / "cronagents.db"


def workspaces_dir() -> Path:
    return data_dir() / "workspaces"


def local_zone_name() -> str:
    """The machine's IANA time zone name (``TZ``, then ``/etc/localtime``), else ``UTC``."""
    candidates: list[str] = []
    tz_env = os.environ.get("TZ", "").lstrip(":")
    if tz_env:
        candidates.append(tz_env)
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    for name in candidates:
        if _valid_zone(name):
            return name
    return "UTC"


def stats_zone_name() -> str:
    name = os.environ.get("CRONAGENTS_STATS_TZ", "")
    return name if name and _valid_zone(name) else local_zone_name()


def _valid_zone(name: str) -> bool:
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
