"""The peers of ``bench/alerts.py``, each run as its own process on 127.0.0.1.

``receiver``  a webhook endpoint (Starlette behind the product's uvicorn
              settings) that stamps each request's arrival with the wall
              clock (``time.time_ns``, comparable across processes), checks
              its Standard Webhooks signature with the ``standardwebhooks``
              library (the secret comes in ``BENCH_WEBHOOK_SECRET``), answers
              200 (or 401 when the signature is wrong) and keeps a record of
              each; ``GET /results?since=N`` returns the records from the N-th.
``fake-api``  ``tests/fake_anthropic.py``'s fake Messages API, for real CLI runs.
``poller``    a second API client: ``GET <path>`` on one keep-alive
              connection every ``--interval`` seconds (0: back to back),
              token in ``BENCH_TOKEN``, until a line comes on stdin; then
              prints one JSON line of ``[start_ns, latency_ms, status]``
              (it may start before the server: it connects once it listens).

Each prints ``READY <port>`` on stdout once it serves; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench._server import serve_until_stopped

# -- the webhook receiver ------------------------------------------------------------------


def receiver_app(secret: str) -> Starlette:
    webhook = Webhook(secret)
    records: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        body = await request.body()
        arrived_ns = time.time_ns()
        client = request.client
        try:
            webhook.verify(body, dict(request.headers))
            verified = True
        except WebhookVerificationError:
            verified = False
        payload = json.loads(body)
        run = payload.get("run") or {}
        records.append(
            {
                "webhookId": request.headers.get("webhook-id"),
                "type": payload.get("type"),
                "runId": run.get("id"),
                "completedAt": run.get("completedAt"),
                "arrivedNs": arrived_ns,
                "verified": verified,
                "connection": client.port if client else None,
            }
        )
        return JSONResponse({"ok": verified}, status_code=200 if verified else 401)

    async def results(request: Request) -> Response:
        since = int(request.query_params.get("since", "0"))
        return JSONResponse(records[since:])

    return Starlette(
        routes=[Route("/hook", hook, methods=["POST"]), Route("/results", results, methods=["GET"])]
    )


async def receiver(args: argparse.Namespace) -> None:
    await serve_until_stopped(receiver_app(os.environ["BENCH_WEBHOOK_SECRET"]), args.port)


# -- the fake Messages API -------------------------------------------------------------------


def fake_api(args: argparse.Namespace) -> None:
    from tests.fake_anthropic import FakeAnthropic  # a test double: only this mode needs pytest

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})  # for sigwait below
    server = FakeAnthropic()
    server.start()
    print(f"READY {server.port}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop()


# -- the second API client ------------------------------------------------------------------


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, int]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    await reader.readexactly(length)
    return status, length


async def poller(args: argparse.Namespace) -> None:
    request = (
        f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\nAccept: */*\r\n"
        f"Authorization: Bearer {os.environ['BENCH_TOKEN']}\r\n\r\n"
    ).encode()
    samples: list[tuple[int, float, int]] = []
    stop = asyncio.ensure_future(asyncio.to_thread(sys.stdin.readline))
    print(f"READY {args.port}", flush=True)
    while True:  # started beside the server: wait until it listens
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
            break
        except OSError:
            await asyncio.sleep(0.05)
    try:
        while not stop.done():
            started = time.time_ns()
            t0 = time.perf_counter_ns()
            status, _ = await _get(reader, writer, request)
            samples.append((started, (time.perf_counter_ns() - t0) / 1e6, status))
            if args.interval:
                await asyncio.wait([stop], timeout=max(0.0, args.interval - (time.time_ns() - started) / 1e9))
    finally:
        writer.close()
    print(json.dumps(samples), flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["receiver", "fake-api", "poller"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--path", default="/api/agents")
    p.add_argument("--interval", type=float, default=0.05)
    args = p.parse_args()
    if args.mode == "fake-api":
        fake_api(args)
    else:
        asyncio.run(receiver(args) if args.mode == "receiver" else poller(args))


if __name__ == "__main__":
    main()
