"""Real receivers of alerts for the tests: a webhook endpoint and an SMTP server on 127.0.0.1.

:class:`WebhookReceiver` is a Starlette app behind uvicorn, in the test's
event loop. It verifies every webhook's Standard Webhooks signature with the
``standardwebhooks`` library (as a user's receiver would), records what came,
and can be told to fail the next N requests (503), to answer slowly, or to be
down (the port closed); it counts the requests it answers at once and the
connections they came over. :class:`SmtpReceiver` is ``aiosmtpd`` in its own thread, collecting
each message.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.server import free_port, uvicorn_server, wait_until_started


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None  # None: no secret to check against (Slack)
    at: float
    status: int = 0
    """What the receiver answered."""
    connection: int | None = None
    """The client's port: requests with the same one came over the same connection."""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """POST /hook (signed webhooks) and /slack (Slack's format); ``url(path)`` is where."""

    secrets: dict[str, str] = field(default_factory=dict)
    """path → whsec_ secret to verify requests to that path with."""
    received: list[Received] = field(default_factory=list)
    failures: int = 0
    """Answer this many next requests 503 (counted down)."""
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    delay: float = 0.0
    """Seconds each request waits before it is answered (a slow receiver)."""
    in_flight: int = 0
    max_in_flight: int = 0
    """The most requests being answered at one time."""

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def accepted(self) -> list[Received]:
        """Requests answered 2xx (each a delivery received)."""
        return [r for r in self.received if r.status == 200]

    async def _hook(self, request: Request) -> Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        loop = asyncio.get_running_loop()
        secret = self.secrets.get(request.url.path)
        verified: bool | None = None
        if secret is not None:
            try:
                Webhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        client = request.client
        record = Received(
            request.url.path, headers, body, verified, loop.time(), connection=client.port if client else None
        )
        self.received.append(record)
        if self.failures > 0:
            self.failures -= 1
            record.status = 503
        else:
            record.status = 401 if verified is False else 200
        self.arrived.set()
        return JSONResponse({"ok": record.status == 200}, status_code=record.status)

    async def wait_for(self, count: int, timeout: float = 20.0, *, accepted: bool = True) -> list[Received]:
        """Wait until ``count`` requests (accepted ones by default) have come."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            got = self.accepted if accepted else self.received
            if len(got) >= count:
                return got
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"{len(got)} of {count} webhook requests arrived: {self.received}"
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._hook, methods=["POST"])])


@contextlib.asynccontextmanager
async def webhook_receiver(port: int | None = None) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(port=port or free_port())
    async with serving_receiver(receiver):
        yield receiver


@contextlib.asynccontextmanager
async def serving_receiver(receiver: WebhookReceiver) -> AsyncIterator[WebhookReceiver]:
    """Serve ``receiver`` on its port until the block ends (it can be served again later)."""
    web = uvicorn_server(receiver.app(), "127.0.0.1", receiver.port, log_to_stderr=False)
    task = asyncio.create_task(web.serve())
    try:
        await wait_until_started(web)
        yield receiver
    finally:
        web.should_exit = True
        await asyncio.wait_for(task, 10)


class _Collect:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@dataclass
class SmtpReceiver:
    port: int
    handler: _Collect

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.messages) < count:
            assert asyncio.get_running_loop().time() < deadline, f"{len(self.messages)}/{count} emails came"
            await asyncio.sleep(0.05)
        return self.messages


@contextlib.contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, in its own thread."""
    handler = _Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpReceiver(port, handler)
    finally:
        controller.stop()
