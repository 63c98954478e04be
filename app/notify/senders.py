"""Sending one delivery: a signed webhook POST, a Slack incoming webhook, or an email.

All I/O is asynchronous (httpx, aiosmtplib), bounded by a timeout, and never
blocks the event loop. A failure is a :class:`DeliveryFailed` whose message
says what went wrong without a secret in it (no URL of a Slack channel, no
password); ``permanent`` failures are not retried.

Webhooks are signed as the Standard Webhooks spec says, with its reference
library (``standardwebhooks``): ``webhook-id`` (the delivery's id, the same
on every retry, for the receiver's de-duplication), ``webhook-timestamp``
(seconds) and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body`` under the channel's ``whsec_`` secret).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx
from standardwebhooks.webhooks import Webhook

from app.notify.payloads import email_message, slack_message

SMTP_URL_ENV = "CRONAGENTS_SMTP_URL"
SMTP_FROM_ENV = "CRONAGENTS_SMTP_FROM"
SEND_TIMEOUT_SECONDS = 10.0
USER_AGENT = "cronagents-webhooks/1"


class DeliveryFailed(Exception):
    """One try of a delivery failed; ``permanent``: trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class Target:
    """A channel as the sender needs it (secrets decrypted)."""

    id: str
    type: str
    enabled: bool
    url: str | None = None
    secret: str | None = None
    to: tuple[str, ...] = ()


@dataclass(frozen=True)
class SmtpConfig:
    """Where email goes: ``smtp://[user:pass@]host[:port]`` (STARTTLS when offered) or ``smtps://``."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    sender: str

    @classmethod
    def from_url(cls, url: str, sender: str | None = None) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"{SMTP_URL_ENV} must look like smtp://user:pass@host:port or smtps://host")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ValueError(f"{SMTP_URL_ENV} has a bad port") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "smtps",
            sender=sender or f"cronagents@{socket.gethostname()}",
        )

    @classmethod
    def from_env(cls) -> SmtpConfig | None:
        """The SMTP server of ``CRONAGENTS_SMTP_URL`` (None: not set; ValueError: malformed)."""
        url = os.environ.get(SMTP_URL_ENV)
        return cls.from_url(url, os.environ.get(SMTP_FROM_ENV)) if url else None

    def describe(self) -> str:
        """Where mail goes, without the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{'smtps' if self.tls else 'smtp'}://{user}{self.host}:{self.port}"


class Senders:
    """Sends a delivery's body to its channel."""

    def __init__(
        self, http: httpx.AsyncClient, smtp: SmtpConfig | None, timeout: float = SEND_TIMEOUT_SECONDS
    ):
        self.http = http
        self.smtp = smtp
        self.timeout = timeout

    async def send(self, target: Target, delivery_id: str, body: str, payload: dict[str, Any]) -> None:
        """Send once; raises :class:`DeliveryFailed`."""
        if not target.enabled:
            raise DeliveryFailed("the channel is disabled", permanent=True)
        if target.type == "webhook":
            await self._webhook(target, delivery_id, body)
        elif target.type == "slack":
            await self._post(target, slack_message(payload), {})
        elif target.type == "email":
            await self._email(target, payload)
        else:
            raise DeliveryFailed(f"unknown channel type {target.type!r}", permanent=True)

    async def _webhook(self, target: Target, delivery_id: str, body: str) -> None:
        if not target.secret:
            raise DeliveryFailed("the webhook channel has no signing secret", permanent=True)
        at = datetime.now(UTC).replace(microsecond=0)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(target.secret).sign(delivery_id, at, body),
        }
        await self._post(target, body.encode(), headers)

    async def _post(self, target: Target, content: bytes | dict[str, Any], headers: dict[str, str]) -> None:
        if not target.url:
            raise DeliveryFailed("the channel has no URL", permanent=True)
        headers = {"user-agent": USER_AGENT, **headers}
        try:
            if isinstance(content, bytes):
                response = await self.http.post(
                    target.url, content=content, headers=headers, timeout=self.timeout
                )
            else:
                response = await self.http.post(
                    target.url, json=content, headers=headers, timeout=self.timeout
                )
        except httpx.TimeoutException:
            raise DeliveryFailed(f"no answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"could not connect: {type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            text = " ".join(response.text.split())[:200]
            raise DeliveryFailed(f"HTTP {response.status_code}" + (f": {text}" if text else ""))

    async def _email(self, target: Target, payload: dict[str, Any]) -> None:
        if self.smtp is None:
            raise DeliveryFailed(f"no SMTP server: set {SMTP_URL_ENV} (smtp://user:pass@host:port)")
        if not target.to:
            raise DeliveryFailed("the email channel has no recipients", permanent=True)
        subject, text = email_message(payload)
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(target.to)
        message["Subject"] = subject
        message.set_content(text)
        smtp = self.smtp
        try:
            await aiosmtplib.send(
                message,
                hostname=smtp.host,
                port=smtp.port,
                username=smtp.username,
                password=smtp.password,
                use_tls=smtp.tls,
                start_tls=None if not smtp.tls else False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(r.recipient for r in exc.recipients)
            raise DeliveryFailed(f"the SMTP server refused {refused}", permanent=True) from None
        except aiosmtplib.SMTPAuthenticationError:
            raise DeliveryFailed(f"the SMTP server refused the login of {smtp.describe()}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP {smtp.describe()}: {type(exc).__name__}: {exc}") from None
