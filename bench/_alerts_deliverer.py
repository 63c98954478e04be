"""The deliverer alone, in this process: N due deliveries to one receiver (its own process).

The product's :class:`~app.notify.deliverer.Deliverer` on a real SQLite file,
its channel's secret sealed as the server seals it, the N deliveries recorded
at once as the settler records alerts (``raise_alerts``) and the bell rung.
Measured: the time until the receiver has all N, the CPU time this process's
event loop spent (``time.thread_time``), the connections they came over.
Beside it the floor: the same N signed POSTs from a bare ``httpx`` client (as
many at once as the deliverer sends to one channel), same receiver.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _alerts_proc import Peer  # noqa: E402

from app.auth import new_id  # noqa: E402
from app.channel_service import ChannelService  # noqa: E402
from app.notify.deliverer import PER_CHANNEL_CONCURRENCY, Deliverer  # noqa: E402
from app.secret_box import SecretBox  # noqa: E402
from app.server import free_port  # noqa: E402
from app.timeutil import now_ms  # noqa: E402
from storage.interface import Alert, NewDelivery  # noqa: E402
from storage.sqlite import SqliteStorage  # noqa: E402

PEERS = str(ROOT / "bench" / "_alerts_peers.py")
BODY = json.dumps({"type": "run.failed", "run": {"id": "run_bench", "output": "x" * 600}})


async def received(port: int, count: int, timeout: float = 120) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=30) as client:
        while len(records) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            records += (
                await client.get(f"http://127.0.0.1:{port}/results", params={"since": len(records)})
            ).json()
    return records


async def bare_httpx(port: int, secret: str, count: int, at_once: int) -> tuple[float, float]:
    """(seconds, loop CPU ms per POST) for ``count`` signed POSTs, ``at_once`` at a time."""
    webhook = Webhook(secret)
    limits = httpx.Limits(max_connections=at_once, max_keepalive_connections=at_once)
    async with httpx.AsyncClient(limits=limits) as client:
        turn = asyncio.Semaphore(at_once)

        async def post(i: int) -> None:
            async with turn:
                now = datetime.now(UTC)
                headers = {
                    "content-type": "application/json",
                    "webhook-id": f"msg_floor{i}",
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": webhook.sign(f"msg_floor{i}", now, BODY),
                }
                resp = await client.post(f"http://127.0.0.1:{port}/hook", content=BODY, headers=headers)
                assert resp.status_code == 200

        await asyncio.gather(*(post(i) for i in range(20)))  # warm the connections
        t0, cpu0 = time.perf_counter(), time.thread_time()
        await asyncio.gather(*(post(i) for i in range(count)))
        return time.perf_counter() - t0, (time.thread_time() - cpu0) / count * 1000


async def deliverer_pass(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-deliverer-") as tmp:
        secrets = await SecretBox(key_file=Path(tmp) / "secret.key").load()
        port = free_port()
        async with SqliteStorage(Path(tmp) / "deliveries.db") as store:
            channels = ChannelService(store, secrets)
            channel = await channels.create_channel(
                {"name": "Bench hook", "type": "webhook", "url": f"http://127.0.0.1:{port}/hook"}
            )
            receiver = await Peer.start(
                "receiver",
                [PEERS, "receiver", "--port", str(port)],
                {"BENCH_WEBHOOK_SECRET": channel["secret"]},
            )
            deliverer = Deliverer(store, "srv_bench", secrets)
            try:
                alerts = [
                    Alert([NewDelivery(new_id("msg"), channel["id"], "run.failed", BODY)])
                    for _ in range(count)
                ]
                await store.deliveries.raise_alerts(alerts, now_ms())
                await deliverer.start()
                t0, cpu0 = time.perf_counter(), time.thread_time()
                deliverer.wake()
                records = await received(port, count)
                seconds, cpu = time.perf_counter() - t0, time.thread_time() - cpu0
                floor_seconds, floor_cpu = await bare_httpx(
                    port, channel["secret"], count, PER_CHANNEL_CONCURRENCY
                )
            finally:
                await deliverer.stop()
                await receiver.stop()
    ids = [r["webhookId"] for r in records]
    return {
        "count": count,
        "received": len(records),
        "distinct": len(set(ids)),
        "verified": sum(r["verified"] for r in records),
        "connections": len({r["connection"] for r in records}),
        "seconds": seconds,
        "cpu ms": cpu / count * 1000,
        "floor seconds": floor_seconds,
        "floor cpu ms": floor_cpu,
    }
