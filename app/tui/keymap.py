"""User keymap: ``[keymap]`` in ``config.toml`` (:func:`app.config.config_path`) maps binding ids to keys.

[keymap]
"agent.new" = "ctrl+n"
"agent.delete" = "x,delete"
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from app import config

log = logging.getLogger("cronagents.tui")


def config_path() -> Path:
    return config.config_path()


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """Binding id → comma-separated keys; empty (and a log line) when the file is bad."""
    path = path or config_path()
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return {}
    table = doc.get("keymap", {})
    if not isinstance(table, dict):
        return {}
    return {str(k): str(v) for k, v in table.items() if isinstance(v, str) and v.strip()}
