"""Sending the recorded deliveries: at once, retried with backoff, resumed after a restart.

One loop per server claims the due ``pending`` deliveries (locked for this
server for :data:`LOCK_SECONDS`, so no two servers send one at once, and a
server that died mid-try leaves it to the others once the lock lapses), sends
them concurrently (at most ``concurrency`` at a time, and at most
:data:`PER_CHANNEL_CONCURRENCY` to one channel, so a burst to one receiver
reuses a few kept-alive connections), and records the results in batches. A
delivery still waiting for its turn when less than half its lock is left is
not sent then (its lock could lapse mid-send, and the row be claimed and sent
again): it is claimed again once the lock lapsed. A failed try is retried after :data:`BACKOFF_SECONDS`
(about 1 s, 5 s, 30 s, 2 min, 10 min); after the last one the delivery is
``failed`` with its last error. Nothing here can run an agent; sends never
block the event loop or the runner (the runner only records rows and rings
:meth:`Deliverer.wake`).

The loop sleeps until a claim can find something (the earliest due delivery,
or lapse of a lock), or a bell (a new alert of this server, results
recorded), or at most :data:`POLL_SECONDS` (deliveries other servers raised);
it claims at most once per :data:`CLAIM_INTERVAL_SECONDS`, so a burst of
alerts costs the database a few claims, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
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
PER_CHANNEL_CONCURRENCY = 4
"""Sends at once to one channel. httpx's pool checks every connection it holds on each request
(two syscalls each), so its cost grows with the connections open: 1,000 sends to one receiver on
127.0.0.1 took 9 ms of CPU each at 100 at once, 2.4 ms at 4 (40 a second to a receiver 100 ms away)."""
FLUSH_SECONDS = 0.05
CLAIM_INTERVAL_SECONDS = 0.05
"""At most one claim per this interval (a lone alert after a quiet time is claimed at once)."""
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


@dataclass
class _Turns:
    slots: asyncio.Semaphore
    users: int = 0


@dataclass
class ChannelTurns:
    """At most ``size`` sends at once per channel; a channel's semaphore lives while it is used."""

    size: int
    _by_channel: dict[str, _Turns] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def turn(self, channel_id: str) -> AsyncIterator[None]:
        turns = self._by_channel.get(channel_id)
        if turns is None:
            turns = self._by_channel[channel_id] = _Turns(asyncio.Semaphore(self.size))
        turns.users += 1
        try:
            async with turns.slots:
                yield
        finally:
            turns.users -= 1
            if not turns.users:
                del self._by_channel[channel_id]


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
        per_channel: int = PER_CHANNEL_CONCURRENCY,
        poll_seconds: float = POLL_SECONDS,
        lock_seconds: float = LOCK_SECONDS,
    ) -> None:
        self.store = store
        self.owner = owner
        self.secrets = secrets
        self.smtp = smtp
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.lock_ms = int(lock_seconds * 1000)
        self.concurrency = concurrency
        self._limit = asyncio.Semaphore(concurrency)
        self._turns = ChannelTurns(per_channel)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._results: list[DeliveryResult] = []
        self._flusher: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self.senders: Senders | None = None

    async def start(self) -> None:
        # As many kept alive as may be open: httpx closes idle connections whenever the pool holds
        # more than max_keepalive_connections in all, so a burst would reconnect for each send.
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self._http = httpx.AsyncClient(follow_redirects=False, limits=limits)
        self.senders = Senders(self._http, self.smtp)
        self._task = asyncio.create_task(self._loop(), name="cronagents-deliveries")

    async def stop(self) -> None:
        """Stop sending; tries under way are abandoned (their rows stay pending, tried again later)."""
        task, self._task = self._task, None
        tasks = [t for t in [task, *self._sending] if t is not None]
        for t in tasks:
            t.cancel()
        # gather, not a suppressed await: a cancel of the caller itself must still reach it.
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._flusher is not None:
            await self._flusher  # it may hold a batch being written (it never raises)
        await self._flush()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def wake(self) -> None:
        """New deliveries wait (called when an alert was recorded)."""
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_claim = -CLAIM_INTERVAL_SECONDS
        while True:
            try:
                # A burst of alerts (one bell each) is claimed in a few batches, not one claim each.
                pause = last_claim + CLAIM_INTERVAL_SECONDS - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                self._wake.clear()  # before the claim: a bell from now on ends the sleep below
                last_claim = loop.time()
                claimed = await self.store.deliveries.claim_due(self.clock(), self.owner, self.lock_ms, BATCH)
                if claimed:
                    await self._start_sending(claimed)
                if len(claimed) < BATCH:  # else more may be due at once
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
        # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancel that comes as the
        # bell rings, and stop() then waited for this loop forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._wake.wait()

    async def _start_sending(self, rows: list[Row]) -> None:
        channels = {row["id"]: row for row in await self.store.channels.all()}
        for row in rows:
            task = asyncio.create_task(self._send(row, channels.get(row["channel_id"])))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, row: Row, channel: Row | None) -> None:
        # The channel's turn first: a burst to one channel must not hold every global slot.
        async with self._turns.turn(row["channel_id"]), self._limit:
            if self.clock() > int(row["locked_until"]) - self.lock_ms // 2:
                return  # waited too long: claimed again once its lock lapsed (see the module docstring)
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
        try:
            await self._flush()
        except Exception:
            log.exception("deliveries: could not record results; those rows are tried again later")

    async def _flush(self) -> None:
        # Until none is left: results that come while a batch is written are this flusher's too
        # (no other is started while it runs, and one left behind would be sent again later).
        while self._results:
            results, self._results = self._results, []
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
