"""Where things live and what the defaults are; every setting has an environment variable.

| setting            | flag / variable                          | default                                |
|--------------------|------------------------------------------|----------------------------------------|
| database file      | ``--db`` / ``CRONAGENTS_DB``             | ``<data dir>/cronagents.db``           |
| data directory     | ``CRONAGENTS_HOME``                      | platformdirs user data dir             |
| stats time zone    | ``CRONAGENTS_STATS_TZ``                  | the machine's local zone               |
| API token (remote) | ``CRONAGENTS_TOKEN``                     | —                                      |
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from storage.files import tighten

APP_NAME = "cronagents"


def data_dir() -> Path:
    home = os.environ.get("CRONAGENTS_HOME")
    return Path(home) if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    env = os.environ.get("CRONAGENTS_DB")
    return Path(env) if env else data_dir() / "cronagents.db"


def workspaces_dir() -> Path:
    return data_dir() / "workspaces"


def tighten_data_dir(*extra: Path) -> None:
    """Make the data directory, what lies directly in it, and ``extra`` private (0700/0600).

    Blocking (call it in a thread). Directories that do not exist are left
    for whoever creates them (privately); files of other users are left alone.
    """
    for directory in (data_dir(), *extra):
        if not directory.is_dir():
            continue
        tighten(directory)
        for entry in directory.iterdir():
            tighten(entry)


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
