"""Channels and settings: their rules, as the service has the agents'.

A channel's ``type`` is fixed at create and says which fields it needs:
``url`` (webhook, Slack) or ``to`` (email); a field of another type is
refused by name. A webhook gets a Standard Webhooks signing secret (given, or
generated), answered once; it and a Slack URL are stored encrypted
(:mod:`app.secret_box`); the API shows a Slack URL only up to its path's first
part. Channel ids named in ``notify.channels`` or the default channels must
exist; deleting a channel takes it out of those lists.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from app.auth import new_id
from app.errors import NotFound, ValidationError
from app.model.channel import (
    CHANNEL_FIELDS_BY_TYPE,
    CHANNEL_READ_ONLY,
    SECRET_PREFIX,
    Channel,
    ChannelCreate,
    ChannelUpdate,
)
from app.model.fields import specs_of
from app.model.settings import Settings, SettingsUpdate
from app.secret_box import SecretBox
from app.settings import load_settings, settings_json
from app.timeutil import now_ms
from app.validation import BodyShape, parse_body
from storage.interface import Row, Storage

CHANNEL_CREATE = BodyShape(
    ChannelCreate, ChannelCreate, {f.key: f for f in specs_of(ChannelCreate)}, CHANNEL_READ_ONLY
)
CHANNEL_UPDATE = BodyShape(
    ChannelUpdate, ChannelUpdate, {f.key: f for f in specs_of(ChannelUpdate)}, CHANNEL_READ_ONLY
)
SETTINGS_BODY = BodyShape(SettingsUpdate, SettingsUpdate, {f.key: f for f in specs_of(Settings)})
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def shown_url(url: str) -> str:
    """A Slack URL as the API shows it: ``https://hooks.slack.com/services/…``."""
    parts = urlsplit(url)
    first = parts.path.strip("/").split("/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}/{first}/…" if first else f"{parts.scheme}://{parts.netloc}/…"


def channel_json(row: Row) -> dict[str, Any]:
    """A channels row as the API shows it (never a secret)."""
    config = json.loads(row["config"] or "{}")
    channel = Channel.model_construct(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        enabled=bool(row["enabled"]),
        url=config.get("shownUrl", config.get("url")),
        to=config.get("to"),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    return channel.model_dump(by_alias=True, mode="json")


class ChannelService:
    def __init__(self, store: Storage, secrets: SecretBox, clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.secrets = secrets
        self.clock = clock

    # -- channels ----------------------------------------------------------------------

    async def list_channels(self) -> list[dict[str, Any]]:
        return [channel_json(r) for r in await self.store.channels.all()]

    async def channel_row(self, channel_id: str) -> Row:
        row = await self.store.channels.get(channel_id)
        if row is None:
            raise NotFound("Channel not found")
        return row

    async def get_channel(self, channel_id: str) -> dict[str, Any]:
        return channel_json(await self.channel_row(channel_id))

    async def create_channel(self, body: Any) -> dict[str, Any]:
        parsed = parse_body(CHANNEL_CREATE, body, creating=True)
        kind = str(parsed.type)  # type: ignore[attr-defined]
        problems = _type_problems(kind, parsed, set(parsed.model_fields_set), creating=True)
        if problems:
            raise ValidationError(problems)
        secret: str | None = None
        if kind == "webhook":
            secret = parsed.secret or new_secret()  # type: ignore[attr-defined]
        now = self.clock()
        values = {
            "id": new_id("chn"),
            "name": parsed.name,  # type: ignore[attr-defined]
            "type": kind,
            "enabled": int(parsed.enabled),  # type: ignore[attr-defined]
            "created_at": now,
            "updated_at": now,
            **self._targets(kind, parsed.url, parsed.to),  # type: ignore[attr-defined]
        }
        if secret is not None:
            values["secret"] = self.secrets.seal(secret)
        row = await self.store.channels.insert(values)
        return {**channel_json(row), "secret": secret}

    async def update_channel(self, channel_id: str, body: Any) -> dict[str, Any]:
        current = await self.channel_row(channel_id)
        kind = current["type"]
        if isinstance(body, dict) and "type" in body:
            if body["type"] != kind:
                raise ValidationError({"type": "cannot be changed: create a new channel of the other type"})
            body = {k: v for k, v in body.items() if k != "type"}  # sent back as read: accepted
        parsed = parse_body(CHANNEL_UPDATE, body, creating=False)
        sent = set(parsed.model_fields_set)
        problems = _type_problems(kind, parsed, sent, creating=False)
        if problems:
            raise ValidationError(problems)
        values: dict[str, Any] = {}
        if "name" in sent and parsed.name is not None:  # type: ignore[attr-defined]
            values["name"] = parsed.name  # type: ignore[attr-defined]
        if "enabled" in sent and parsed.enabled is not None:  # type: ignore[attr-defined]
            values["enabled"] = int(parsed.enabled)  # type: ignore[attr-defined]
        if {"url", "to"} & sent:
            values.update(self._targets(kind, parsed.url, parsed.to))  # type: ignore[attr-defined]
            if kind == "webhook":
                values.pop("secret", None)  # a webhook's secret is its own; only its URL changes
        if values:
            values["updated_at"] = self.clock()
        row = await self.store.channels.update(channel_id, values)
        if row is None:
            raise NotFound("Channel not found")
        return channel_json(row)

    def _targets(self, kind: str, url: str | None, to: list[str] | None) -> dict[str, Any]:
        """The config (and, for Slack, the sealed URL) of a channel's destination."""
        if kind == "slack":
            assert url is not None
            return {"config": json.dumps({"shownUrl": shown_url(url)}), "secret": self.secrets.seal(url)}
        if kind == "webhook":
            return {"config": json.dumps({"url": url})}
        return {"config": json.dumps({"to": to})}

    async def delete_channel(self, channel_id: str) -> dict[str, Any]:
        row = await self.channel_row(channel_id)
        if not await self.store.channels.delete(channel_id):
            raise NotFound("Channel not found")
        return {"id": row["id"], "name": row["name"]}

    async def check_channels(self, key: str, channel_ids: Iterable[str], prefix: str = "") -> None:
        """A 400 naming ``key`` when one of ``channel_ids`` is no channel."""
        missing = await self.store.channels.missing(channel_ids)
        if missing:
            raise ValidationError({key: f"{prefix}no such channel: {', '.join(missing)}"})

    # -- settings ----------------------------------------------------------------------

    async def get_settings(self) -> dict[str, Any]:
        return settings_json(await load_settings(self.store))

    async def update_settings(self, body: Any) -> dict[str, Any]:
        parsed = parse_body(SETTINGS_BODY, body, creating=False)
        sent = parsed.model_dump(by_alias=True, mode="json", exclude_unset=True)
        if sent.get("notifyChannels"):
            await self.check_channels("notifyChannels", sent["notifyChannels"])
        await self.store.settings.put({key: json.dumps(value) for key, value in sent.items()})
        return await self.get_settings()


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _type_problems(kind: str, parsed: BaseModel, sent: set[str], *, creating: bool) -> dict[str, str]:
    """What a channel of ``kind`` lacks, or holds that another type uses."""
    needs = CHANNEL_FIELDS_BY_TYPE[kind]
    problems: dict[str, str] = {}
    for name in ("url", "to"):
        value = getattr(parsed, name)
        if name in needs:
            if (creating or name in sent) and value is None:
                problems[name] = f"is required for {_a(kind)} channel"
        elif value is not None:
            problems[name] = f"is not used by {_a(kind)} channel"
    if creating and kind != "webhook" and getattr(parsed, "secret", None) is not None:
        problems["secret"] = f"is not used by {_a(kind)} channel (only webhooks are signed)"
    return problems
