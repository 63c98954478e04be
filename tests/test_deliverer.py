"""The deliverer under load: a burst of alerts to one receiver, a slow receiver, waits past a lock.

Real parts: a SQLite file, sealed channel secrets, the deliverer's own httpx
client, and the tests' webhook receiver (uvicorn on 127.0.0.1, signatures
verified with ``standardwebhooks``). The alerts are recorded as the settler
records them (``raise_alerts``), so what is measured starts at the deliverer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.auth import new_id
from app.channel_service import ChannelService
from app.notify.deliverer import CLAIM_INTERVAL_SECONDS, PER_CHANNEL_CONCURRENCY, Deliverer
from app.secret_box import SecretBox
from app.timeutil import now_ms
from storage.interface import Alert, NewDelivery
from storage.sqlite import SqliteStorage
from tests.receivers import WebhookReceiver, webhook_receiver


@dataclass
class Env:
    store: SqliteStorage
    secrets: SecretBox
    receiver: WebhookReceiver
    channel: str

    async def raise_alerts(self, count: int) -> list[str]:
        """``count`` run.failed alerts to the channel, due now; their delivery ids."""
        deliveries = [
            NewDelivery(new_id("msg"), self.channel, "run.failed", json.dumps({"type": "run.failed", "n": i}))
            for i in range(count)
        ]
        await self.store.deliveries.raise_alerts([Alert([d]) for d in deliveries], now_ms())
        return [d.id for d in deliveries]

    def deliverer(self, **options: Any) -> Deliverer:
        return Deliverer(self.store, "srv_test", self.secrets, **options)

    async def statuses(self) -> list[tuple[str, int]]:
        rows = await self.store.db.fetchall("SELECT status, attempts FROM deliveries ORDER BY id")
        return [(r[0], r[1]) for r in rows]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    secrets = await SecretBox(key_file=tmp_path / "secret.key").load()
    async with SqliteStorage(tmp_path / "cronagents.db") as store, webhook_receiver() as receiver:
        created = await ChannelService(store, secrets).create_channel(
            {"name": "Hook", "type": "webhook", "url": receiver.url()}
        )
        receiver.secrets["/hook"] = created["secret"]
        yield Env(store, secrets, receiver, created["id"])


async def delivering(
    deliverer: Deliverer, until: Callable[[], bool], timeout: float = 30, then: float = 0.3
) -> None:
    """Run the deliverer until ``until()``, then ``then`` seconds more (anything sent twice comes)."""
    await deliverer.start()
    try:
        deliverer.wake()
        async with asyncio.timeout(timeout):
            while not until():
                await asyncio.sleep(0.02)
        await asyncio.sleep(then)
    finally:
        await deliverer.stop()


async def test_a_burst_to_one_channel_comes_over_a_few_kept_alive_connections(env: Env):
    """300 alerts to one receiver: never more than PER_CHANNEL_CONCURRENCY requests at once, over as
    many connections reused (the receiver is not flooded, the client's pool stays small)."""
    ids = await env.raise_alerts(300)
    env.receiver.delay = 0.01
    await delivering(env.deliverer(), lambda: len(env.receiver.accepted) >= 300)
    got = env.receiver.accepted
    assert sorted(r.headers["webhook-id"] for r in got) == sorted(ids)  # each once
    assert all(r.verified for r in got)
    assert env.receiver.max_in_flight <= PER_CHANNEL_CONCURRENCY
    assert len({r.connection for r in got}) <= PER_CHANNEL_CONCURRENCY
    assert await env.statuses() == [("sent", 1)] * 300


async def test_while_a_slow_receiver_answers_the_deliverer_does_not_poll_the_database(env: Env):
    """One delivery that takes 1.5 s to answer: the loop sleeps meanwhile (it is woken by the result),
    instead of claiming again and again the rows it holds."""
    await env.raise_alerts(1)
    env.receiver.delay = 1.5
    deliverer = env.deliverer()
    calls = counting(env, "claim_due", "next_due")
    await delivering(deliverer, lambda: len(env.receiver.accepted) >= 1)
    assert env.receiver.max_in_flight == 1
    assert calls["claim_due"] <= 4 and calls["next_due"] <= 4, calls
    assert await env.statuses() == [("sent", 1)]


def counting(env: Env, *names: str, delay: float = 0.0) -> dict[str, int]:
    """Count the calls of these ``env.store.deliveries`` methods (each answering ``delay`` s late)."""
    calls = dict.fromkeys(names, 0)
    for name in names:
        real = getattr(env.store.deliveries, name)

        async def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            calls[_name] += 1
            result = await _real(*args)
            await asyncio.sleep(delay)
            return result

        setattr(env.store.deliveries, name, counted)
    return calls


async def test_an_alert_raised_while_the_deliverer_goes_to_sleep_is_sent_at_once(env: Env):
    """The bell rung while the loop is between its claim and its sleep (here: the database slow to
    say when the next delivery is due) is heard: the alert goes at once, not at the next poll (5 s)."""
    deliverer = env.deliverer()
    counting(env, "next_due", delay=0.5)
    await deliverer.start()
    try:
        await asyncio.sleep(0.2)  # the loop found nothing and asks when next
        loop = asyncio.get_running_loop()
        raised = loop.time()
        await env.raise_alerts(1)
        deliverer.wake()
        await env.receiver.wait_for(1, timeout=10)
        assert env.receiver.received[0].at - raised < 2.0
    finally:
        await deliverer.stop()


async def test_alerts_raised_one_by_one_are_claimed_a_batch_at_a_time(env: Env):
    """200 alerts raised one at a time within about a second (each ringing the bell, as the settler
    does) cost the database at most one claim per CLAIM_INTERVAL_SECONDS, not one claim each."""
    deliverer = env.deliverer()
    calls = counting(env, "claim_due")
    await deliverer.start()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(200):
            await env.raise_alerts(1)
            deliverer.wake()
            await asyncio.sleep(0.005)
        await env.receiver.wait_for(200, timeout=30)
        async with asyncio.timeout(10):
            while await env.statuses() != [("sent", 1)] * 200:  # the last results recorded
                await asyncio.sleep(0.05)
        # Every claim so far, over all the time so far (results recorded ring the bell too).
        claims, seconds = calls["claim_due"], loop.time() - started
    finally:
        await deliverer.stop()
    assert claims <= seconds / CLAIM_INTERVAL_SECONDS + 3, (claims, seconds)
    assert claims < 200 / 4, "about one claim per alert"


async def test_a_result_that_comes_while_results_are_being_recorded_is_recorded_too(env: Env):
    """A send that ends while the previous results are being written (here: the database slow to
    answer) is recorded as sent soon after, not left pending until its lock lapses (then sent again)."""
    deliverer = env.deliverer()
    counting(env, "record", delay=0.6)
    await deliverer.start()
    try:
        await env.raise_alerts(1)
        deliverer.wake()
        await env.receiver.wait_for(1)
        await asyncio.sleep(0.2)  # its result is being recorded
        await env.raise_alerts(1)
        deliverer.wake()
        await env.receiver.wait_for(2)
        async with asyncio.timeout(5):
            while await env.statuses() != [("sent", 1)] * 2:
                await asyncio.sleep(0.05)
    finally:
        await deliverer.stop()


@pytest.mark.slow
async def test_a_delivery_that_waited_past_half_its_lock_is_left_to_the_next_claim(env: Env):
    """One send at a time to a receiver taking 0.4 s, locks of 4 s: the deliveries still waiting for
    their turn when less than half their lock is left are not sent then (their lock could lapse
    mid-send and the row be claimed again: sent twice), but claimed again once it lapsed: each
    comes exactly once."""
    ids = await env.raise_alerts(12)
    env.receiver.delay = 0.4
    deliverer = env.deliverer(per_channel=1, lock_seconds=4.0)
    await delivering(deliverer, lambda: len(env.receiver.accepted) >= 12, timeout=60, then=2.0)
    got = [r.headers["webhook-id"] for r in env.receiver.received]
    assert sorted(got) == sorted(ids)  # each exactly once, none twice
    assert env.receiver.max_in_flight == 1
    assert await env.statuses() == [("sent", 1)] * 12


@pytest.mark.parametrize("steps", [0, 1, 2])
async def test_stop_ends_the_deliverer_even_when_the_bell_rings_as_it_stops(env: Env, steps: int):
    """A stop that comes as the bell is heard ends the deliverer (Python 3.11's wait_for dropped
    such a cancel, and stop() then waited for the loop forever: a shutdown that hung)."""
    deliverer = env.deliverer()
    await deliverer.start()
    await asyncio.sleep(0.2)  # the loop found nothing to send and sleeps until the bell
    deliverer.wake()
    for _ in range(steps):
        await asyncio.sleep(0)
    stopping = asyncio.create_task(deliverer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)
    assert stopping in done, "the deliverer did not stop"
    await stopping
