"""Channels alerts go to (webhook, Slack, email), the deliveries to them, and the settings.

A channel's ``type`` says which of its fields it uses: ``url`` (webhook,
Slack), ``to`` (email). A webhook's signing ``secret`` is given (or
generated) on create and shown only then; a Slack incoming-webhook URL is a
credential too, so the API shows only its start. Both are kept encrypted.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic.alias_generators import to_camel

from app.model.rules import (
    UNIQUE,
    Form,
    Instant,
    Name,
    ReadOnly,
    Wording,
    problem,
    read_only_keys,
    request_model,
)

ChannelType = Literal["webhook", "slack", "email"]
CHANNEL_TYPES: tuple[ChannelType, ...] = get_args(ChannelType)
DeliveryStatus = Literal["pending", "sent", "failed"]
EventType = Literal[
    "run.failed",
    "run.recovered",
    "run.succeeded",
    "budget.threshold",
    "budget.exceeded",
    "agent.paused",
    "agent.missed",
    "usage.limited",
    "channel.test",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
URL_MAX_LENGTH = 2000
EMAIL_MAX_LENGTH = 254
MAX_RECIPIENTS = 50
SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)
"""A signing secret's size in bytes, as the Standard Webhooks spec asks."""

_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise problem("must be an http:// or https:// URL with a host")
    if any(c.isspace() for c in value):
        raise problem("must not contain spaces")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise problem("has a bad port") from None
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise problem(f"{value!r} is not an email address (name@example.com)")
    return value


def _secret(value: str) -> str:
    if not value.startswith(SECRET_PREFIX):
        raise problem(f"must start with {SECRET_PREFIX} (the Standard Webhooks format)")
    try:
        raw = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise problem(f"must be {SECRET_PREFIX} followed by base64") from None
    low, high = SECRET_BYTES
    if not low <= len(raw) <= high:
        raise problem(f"must hold {low} to {high} bytes (base64 after {SECRET_PREFIX})")
    return value


Url = Annotated[
    str,
    Field(max_length=URL_MAX_LENGTH),
    Wording(type="must be a URL such as https://example.com/hook"),
    AfterValidator(_url),
]
EmailAddress = Annotated[str, Field(max_length=EMAIL_MAX_LENGTH), AfterValidator(_email)]
WebhookSecret = Annotated[str, Field(max_length=200), AfterValidator(_secret)]


class Channel(BaseModel):
    """Somewhere alerts go: a signed webhook, a Slack incoming webhook, or email."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        json_schema_serialization_defaults_required=True,
    )

    id: Annotated[str, ReadOnly()] = Field(description="The channel's id", examples=["chn_5f3a9c1e2b7d"])
    name: Annotated[Name, Form("On-call webhook")] = Field(
        title="Name", description="What people call the channel", examples=["On-call"]
    )
    type: ChannelType = Field(
        title="Type",
        description="webhook: a signed JSON POST (Standard Webhooks); slack: a Slack incoming webhook; "
        "email: a mail through CRONAGENTS_SMTP_URL",
    )
    enabled: bool = Field(True, title="Enabled", description="Whether alerts are sent to it")
    url: Annotated[Url | None, Form("https://example.com/hooks/cron")] = Field(
        None,
        title="URL",
        description="Where a webhook or Slack channel posts; a Slack URL is shown only in part",
        examples=["https://example.com/hooks/cron"],
    )
    to: Annotated[
        list[EmailAddress] | None,
        Field(min_length=1, max_length=MAX_RECIPIENTS),
        Wording(type="must be a list of email addresses", too_short="must not be empty", item="each address"),
        UNIQUE,
        Form("ops@example.com, me@example.com"),
    ] = Field(
        None,
        title="To",
        description="The addresses an email channel writes to",
        examples=[["ops@example.com"]],
    )
    created_at: Annotated[Instant, ReadOnly()] = Field(description="When the channel was created")
    updated_at: Annotated[Instant, ReadOnly()] = Field(description="When the channel was last changed")


CHANNEL_FIELDS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "webhook": ("url",),
    "slack": ("url",),
    "email": ("to",),
}
"""The type-specific fields each type needs (and the only ones it may have)."""

_ChannelBody = request_model(Channel, "ChannelFields", "")
ChannelCreate = create_model(
    "ChannelCreate",
    __base__=_ChannelBody,
    __doc__="The body that creates a channel.",
    secret=(
        Annotated[WebhookSecret | None, Form("generated")],
        Field(
            None,
            title="Signing secret",
            description=f"A webhook's signing secret ({SECRET_PREFIX} + base64 of 24-64 bytes); "
            "generated when not given; answered once, never shown again",
        ),
    ),
)
ChannelUpdate = request_model(
    Channel,
    "ChannelUpdate",
    "The body that changes a channel: only the fields sent (its type is fixed).",
    update=True,
    exclude=frozenset({"type"}),
)
CHANNEL_READ_ONLY = read_only_keys(Channel)


class ChannelCreated(Channel):
    """A new channel, with its signing secret: the only time the API shows it."""

    secret: str | None = Field(description="The webhook's signing secret (whsec_...); null for other types")


class Delivery(BaseModel):
    """One alert to one channel, and how far it got."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    id: str = Field(description="The delivery's id; also the webhook-id header of a webhook")
    channel_id: str = Field(description="The channel it goes to")
    type: EventType = Field(description="What it says: run.failed, run.recovered, agent.paused, ...")
    status: DeliveryStatus = Field(
        description="pending (being sent, or retried later), sent, failed (gave up)"
    )
    attempts: int = Field(description="Tries so far")
    last_error: str | None = Field(description="Why the last try failed; null: it did not")
    sent_at: Instant | None = Field(description="When it was delivered")
    next_attempt_at: Instant | None = Field(description="When it is tried next, while pending")
    created_at: Instant = Field(description="When the alert was raised")


def delivery_json(row: Any) -> dict[str, Any]:
    """A deliveries row as the API shows it."""
    data = {
        "id": row["id"],
        "channel_id": row["channel_id"],
        "type": row["event"],
        "status": row["status"],
        "attempts": row["attempts"],
        "last_error": row["last_error"],
        "sent_at": row["sent_at"],
        "next_attempt_at": row["next_attempt_at"] if row["status"] == "pending" else None,
        "created_at": row["created_at"],
    }
    return Delivery.model_construct(**data).model_dump(by_alias=True, mode="json")
