"""Sending the recorded deliveries: at once, retried with backoff, resumed after a restart.

One loop per server claims the due ``pending`` deliveries (locked for this
server for :data:`LOCK_SECONDS`, so no two servers send one at once, and a
server that died mid-try leaves it to the others once the lock lapses), sends
them concurrently (at most ``concurrency`` at a time), and records the
results in batches. A failed try is retried after :data:`BACKOFF_SECONDS`
(about 1 s, 5 s, 30 s, 2 min, 10 min); after the last one the delivery is
``failed`` with its last error. Nothing here can run an agent; sends never
block the event loop or the runner (the runner only records rows and rings
:meth:`Deliverer.wake`).

The loop sleeps until the earliest due delivery, or a bell (a new alert of
this server), or at most :data:`POLL_SECONDS` (deliveries other servers
raised, locks that lapsed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx

from app.auth import new_id
from app.notify.payloads import body, encode
from app.notify.senders import DeliveryFailed, Senders, SmtpConfig, Target
from app.secret_box import SecretBox, SecretUnreadable
from app.timeutil import iso, now_ms
from storage.interface import Alert, DeliveryResult, NewDelivery, Row, Storage

log = logging.getLogger("cronagents.deliveries")

BACKOFF_SECONDS = (1, 5, 30, 120, 600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
POLL_SECONDS = 5.0
LOCK_SECONDS = 60.0
BATCH = 500
CONCURRENCY = 100
FLUSH_SECONDS = 0.05
TEST_DUE_MS = 60_000


def target_of(row: Row, secrets: SecretBox) -> Target:
    """A channel row as the sender needs it (its secret decrypted)."""
    config = json.loads(row["config"] or "{}")
    secret = secrets.open(row["secret"]) if row["secret"] else None
    url = secret if row["type"] == "slack" else config.get("url")
    return Target(
        id=row["id"],
        type=row["type"],
        enabled=bool(row["enabled"]),
        url=url,
        secret=secret if row["type"] == "webhook" else None,
        to=tuple(config.get("to") or ()),
    )


class Deliverer:
    """Sends deliveries (see the module docstring)."""

    def __init__(
        self,
        store: Storage,
        owner: str,
        secrets: SecretBox,
        *,
        smtp: SmtpConfig | None = None,
        clock: Callable[[], int] = now_ms,
        concurrency: int = CONCURRENCY,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.store = store
        self.owner = owner
        self.secrets = secrets
        self.smtp = smtp
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._results: list[DeliveryResult] = []
        self._flusher: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self.senders: Senders | None = None

    async def start(self) -> None:
        self._http = httpx.AsyncClient(follow_redirects=False, limits=httpx.Limits(max_connections=200))
        self.senders = Senders(self._http, self.smtp)
        self._task = asyncio.create_task(self._loop(), name="cronagents-deliveries")

    async def stop(self) -> None:
        """Stop sending; tries under way are abandoned (their rows stay pending, tried again later)."""
        task, self._task = self._task, None
        for t in [task, *self._sending]:
            if t is not None:
                t.cancel()
        for t in [task, *self._sending]:
            if t is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        await self._flush()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def wake(self) -> None:
        """New deliveries wait (called when an alert was recorded)."""
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            try:
                claimed = await self.store.deliveries.claim_due(
                    self.clock(), self.owner, int(LOCK_SECONDS * 1000), BATCH
                )
                if claimed:
                    await self._start_sending(claimed)
                    continue
                await self._sleep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deliveries: the loop failed; carrying on in %.0f s", self.poll_seconds)
                await asyncio.sleep(self.poll_seconds)

    async def _sleep(self) -> None:
        due = await self.store.deliveries.next_due()
        wait = self.poll_seconds
        if due is not None:
            wait = max(0.0, min(wait, (due - self.clock()) / 1000))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def _start_sending(self, rows: list[Row]) -> None:
        channels = {row["id"]: row for row in await self.store.channels.all()}
        for row in rows:
            task = asyncio.create_task(self._send(row, channels.get(row["channel_id"])))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, row: Row, channel: Row | None) -> None:
        async with self._limit:
            result = await self.try_once(row, channel)
        self._results.append(result)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    async def try_once(self, row: Row, channel: Row | None) -> DeliveryResult:
        """Send a delivery once; what to record (sent, pending again later, or failed)."""
        attempts = int(row["attempts"]) + 1
        try:
            if channel is None:
                raise DeliveryFailed("the channel was deleted", permanent=True)
            try:
                target = target_of(channel, self.secrets)
            except SecretUnreadable as exc:
                raise DeliveryFailed(str(exc)) from None
            assert self.senders is not None, "the deliverer is not started"
            payload: dict[str, Any] = json.loads(row["payload"])
            await self.senders.send(target, row["id"], row["payload"], payload)
        except DeliveryFailed as failed:
            now = self.clock()
            if failed.permanent or attempts >= MAX_ATTEMPTS:
                log.warning("delivery %s (%s) failed for good: %s", row["id"], row["event"], failed.message)
                return DeliveryResult(row["id"], "failed", attempts, failed.message, now)
            retry_at = now + BACKOFF_SECONDS[attempts - 1] * 1000
            log.info(
                "delivery %s (%s) try %d failed (%s); again at %s",
                row["id"],
                row["event"],
                attempts,
                failed.message,
                iso(retry_at),
            )
            return DeliveryResult(row["id"], "pending", attempts, failed.message, now, retry_at)
        return DeliveryResult(row["id"], "sent", attempts, None, self.clock())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self._flush()

    async def _flush(self) -> None:
        results, self._results = self._results, []
        if results:
            await self.store.deliveries.record(results)
            self._wake.set()  # a retry may now be the earliest due

    # -- a test message ------------------------------------------------------------------

    async def test(self, channel: Row) -> Row:
        """Send a test message to a channel now, once; the delivery as recorded."""
        now = self.clock()
        delivery = NewDelivery(
            new_id("msg"),
            channel["id"],
            "channel.test",
            encode(
                body(
                    "channel.test",
                    iso(now) or "",
                    None,
                    None,
                    message="A test message from Cron Agents: this channel works.",
                    channel={"id": channel["id"], "name": channel["name"], "type": channel["type"]},
                )
            ),
        )
        # Due later: the loop leaves it alone while it is tried here (and retries it if we die).
        await self.store.deliveries.raise_alerts([Alert([delivery])], now, due_at=now + TEST_DUE_MS)
        row = await self.store.deliveries.get(delivery.id)
        assert row is not None
        result = await self.try_once(row, channel)
        if result.status == "pending":  # a test answers now: no retries
            result = DeliveryResult(result.id, "failed", result.attempts, result.error, result.at)
        await self.store.deliveries.record([result])
        recorded = await self.store.deliveries.get(delivery.id)
        assert recorded is not None
        return recorded
