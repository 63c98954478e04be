"""The server-wide settings as the typed :class:`~app.model.settings.Settings` (stored per key)."""

from __future__ import annotations

import json
from typing import Any

from app.model.settings import Settings
from storage.interface import Storage


async def load_settings(store: Storage) -> Settings:
    """The stored settings; a key never set takes its default."""
    stored = await store.settings.all()
    known = {
        key: json.loads(text)
        for key, text in stored.items()
        if key in {info.alias or name for name, info in Settings.model_fields.items()}
    }
    return Settings.model_validate(known)


def settings_json(settings: Settings) -> dict[str, Any]:
    return settings.model_dump(by_alias=True, mode="json")
