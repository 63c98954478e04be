"""The two measured parts of ``bench/alerts.py`` (see its docstring): one pass each.

``latency_pass``: real CLI runs that fail, each run's ``run.finished`` stamp
against its webhook's arrival stamp. ``storm_pass``: N agents failing at one
scheduled instant, the last webhook's arrival against the instant, and a
second client's ``GET /api/agents`` latencies meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _alerts_proc import Peer, await_results  # noqa: E402

from app.auth import create_token  # noqa: E402
from app.server import free_port  # noqa: E402
from storage.sqlite import SqliteStorage  # noqa: E402

HOST = "127.0.0.1"
SERVER = str(ROOT / "bench" / "_alerts_server.py")
PEERS = str(ROOT / "bench" / "_alerts_peers.py")
FAILING_PROMPT = "Check the deploy. [[fake:endless_tools]]"  # maxTurns 1: error_max_turns
STORM_IDLE_S = 4.0
"""From the storm server's scheduler start to the instant (idle API samples meanwhile)."""
FAIL_AFTER_PER_AGENT_S = 0.008
"""``together``: from the scheduled instant to the failure, time for every run to be started
(at least 2 s)."""


def fail_after(agents: int) -> float:
    return max(2.0, agents * FAIL_AFTER_PER_AGENT_S)


def storm_options(mode: str, agents: int) -> list[str]:
    if mode == "together":  # a run slot for each, so that all are running when they fail
        return ["--sessions", "fail-together", "--fail-after", str(fail_after(agents)),
                "--max-concurrent-runs", str(agents + 10), "--instant-in", str(STORM_IDLE_S)]  # fmt: skip
    return ["--sessions", "fail-at-once", "--instant-in", str(STORM_IDLE_S)]


async def new_database(path: Path) -> str:
    """A fresh database (the product's schema); a token of a user ``bench``."""
    async with SqliteStorage(path) as store:
        return (await create_token(store, "bench"))[1]


async def webhook_channel(client: httpx.AsyncClient, port: int) -> tuple[str, str]:
    resp = await client.post(
        "/api/channels", json={"name": "Bench hook", "type": "webhook", "url": f"http://{HOST}:{port}/hook"}
    )
    resp.raise_for_status()
    data = resp.json()["data"]
    return data["id"], data["secret"]


async def create_agents(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = [""] * len(bodies)
    limit = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with limit:
            resp = await client.post("/api/agents", json=bodies[i])
            resp.raise_for_status()
            ids[i] = resp.json()["data"]["id"]

    await asyncio.gather(*(one(i) for i in range(len(bodies))))
    return ids


def ms(ns: int) -> float:
    return ns / 1e6


def iso_ms(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def read_deliveries(db: Path) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT * FROM deliveries").fetchall()
    conn.close()
    return rows


def server_env(workdir: Path) -> dict[str, str]:
    return {"CRONAGENTS_HOME": str(workdir / "home"), "TZ": "UTC", "CRONAGENTS_STATS_TZ": "UTC"}


# -- 1. run finished -> webhook received ----------------------------------------------------


async def signed_post_baseline(port: int, secret: str, count: int) -> list[float]:
    """Round trips of signed POSTs from a bare httpx client (one at a time) to the receiver."""
    webhook = Webhook(secret)
    body = json.dumps({"type": "run.failed", "run": {"id": "run_baseline", "output": "x" * 600}})
    out = []
    async with httpx.AsyncClient() as http:
        for i in range(count + 5):
            msg_id = f"msg_baseline{i}"
            now = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": webhook.sign(msg_id, now, body),
            }
            t0 = time.perf_counter_ns()
            resp = await http.post(f"http://{HOST}:{port}/hook", content=body, headers=headers)
            if i >= 5:  # the first few warm the connection
                out.append((time.perf_counter_ns() - t0) / 1e6)
            assert resp.status_code == 200, resp.text
    return out


async def latency_pass(args: argparse.Namespace, lanes: int, workdir: Path) -> dict[str, Any]:
    db = workdir / f"latency-{lanes}.db"
    token = await new_database(db)
    env = server_env(workdir)
    fake = await Peer.start("fake API", [PEERS, "fake-api"])
    peers = [fake]
    try:
        port = free_port()
        server = await Peer.start(
            "server",
            [
                SERVER,
                "--port",
                str(port),
                "--db",
                str(db),
                "--workdir",
                str(workdir),
                "--sessions",
                "cli",
                "--fake-api",
                f"http://{HOST}:{fake.port}",
                "--max-concurrent-runs",
                str(max(4, lanes)),
            ],  # fmt: skip
            env,
        )
        peers.append(server)
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", headers=auth, timeout=30) as client:
            receiver_port = free_port()
            channel, secret = await webhook_channel(client, receiver_port)
            receiver = await Peer.start(
                "receiver",
                [PEERS, "receiver", "--port", str(receiver_port)],
                {"BENCH_WEBHOOK_SECRET": secret},
            )
            peers.append(receiver)
            notify = {"channels": [channel], "on": ["failure"], "onlyOnChange": False}
            agents = await create_agents(
                client,
                [
                    {
                        "name": f"Latency lane {i}",
                        "schedule": "0 9 * * *",
                        "prompt": FAILING_PROMPT,
                        "maxTurns": 1,
                        "allowedTools": ["Bash"],
                        "notify": notify,
                    }
                    for i in range(lanes)
                ],
            )
            received: dict[str, asyncio.Event] = {}
            watcher = asyncio.create_task(await_results(receiver.port, received))
            measured: list[str] = []
            per_lane = -(-args.runs // lanes)
            started = time.monotonic()

            async def lane(agent_id: str, index: int) -> None:
                for n in range(per_lane + 1):  # the first run of each lane warms up
                    if n and len(measured) >= args.runs:
                        return
                    resp = await client.post(f"/api/agents/{agent_id}/run")
                    resp.raise_for_status()
                    run_id = resp.json()["runId"]
                    got = received.setdefault(run_id, asyncio.Event())
                    await asyncio.wait_for(got.wait(), 120)
                    if n:
                        measured.append(run_id)
                    if index == 0 and len(measured) % 20 == 0 and measured:
                        print(f"[latency, {lanes} lane(s)] {len(measured)}/{args.runs}", file=sys.stderr)

            await asyncio.gather(*(lane(a, i) for i, a in enumerate(agents)))
            seconds = time.monotonic() - started
            await asyncio.sleep(0.5)  # nothing more (a second copy) comes
            watcher.cancel()
            records = (await client.get(f"http://{HOST}:{receiver.port}/results")).json()
            finished = (await client.get("/api/bench/finished")).json()
            baseline = await signed_post_baseline(receiver.port, secret, min(200, 10 * args.runs))
    finally:
        for peer in reversed(peers):
            await peer.stop()
    deliveries = {r["run_id"]: r for r in read_deliveries(db)}
    by_run = {r["runId"]: r for r in records}
    lat, from_completed, to_recorded, recorded_to_received, statuses = [], [], [], [], []
    for run_id in measured:
        rec, fin, dlv = by_run[run_id], finished[run_id], deliveries[run_id]
        statuses.append(fin["status"])
        lat.append(ms(rec["arrivedNs"] - fin["ns"]))
        from_completed.append(ms(rec["arrivedNs"]) - iso_ms(rec["completedAt"]))
        to_recorded.append(dlv["created_at"] - ms(fin["ns"]))
        recorded_to_received.append(ms(rec["arrivedNs"]) - dlv["created_at"])
    return {
        "lanes": lanes,
        "runs": len(measured),
        "seconds": seconds,
        "all error": all(s == "error" for s in statuses),
        "copies": len(records) - len({r["webhookId"] for r in records}),
        "unverified": sum(not r["verified"] for r in records),
        "connections": len({r["connection"] for r in records}),
        "latency": lat,
        "from completedAt": from_completed,
        "finish to alert recorded": to_recorded,
        "alert recorded to received": recorded_to_received,
        "baseline": baseline,
    }


# -- 2. 1,000 agents failing at one instant ---------------------------------------------------


async def storm_pass(args: argparse.Namespace, mode: str, rep: int, workdir: Path) -> dict[str, Any]:
    """``mode``: ``together`` (every session running, all failing at one instant) or ``at-once``
    (scheduled at one instant, each failing as soon as it starts, through the default 4 run slots)."""
    db = workdir / f"storm-{mode}-{rep}.db"
    token = await new_database(db)
    env = server_env(workdir)
    auth = {"Authorization": f"Bearer {token}"}
    receiver_port = free_port()
    port = free_port()
    base = [SERVER, "--port", str(port), "--db", str(db), "--workdir", str(workdir)]
    setup = await Peer.start("setup server", base, env)
    try:
        async with httpx.AsyncClient(base_url=setup.url, headers=auth, timeout=30) as client:
            channel, secret = await webhook_channel(client, receiver_port)
            notify = {"channels": [channel], "on": ["failure"]}
            bodies = [
                {
                    "name": f"Storm agent {i:04d}",
                    "schedule": "* * * * *",
                    "timezone": "UTC",
                    "prompt": "Check the deploy.",
                    "startingDeadlineSeconds": None,
                    "notify": notify,
                }
                for i in range(args.agents)
            ]
            await create_agents(client, bodies)
    finally:
        await setup.stop()
    peers = [
        await Peer.start(
            "receiver", [PEERS, "receiver", "--port", str(receiver_port)], {"BENCH_WEBHOOK_SECRET": secret}
        )
    ]
    try:
        started = await asyncio.gather(
            Peer.start("storm server", [*base, *storm_options(mode, args.agents)], env),
            Peer.start(
                "API client",
                [PEERS, "poller", "--port", str(port), "--interval", str(args.api_interval)],
                {"BENCH_TOKEN": token},
                stdin=True,
            ),
            return_exceptions=True,
        )
        peers.extend(p for p in started if isinstance(p, Peer))
        for p in started:
            if isinstance(p, BaseException):
                raise p
        server, poller = peers[1], peers[2]
        scheduled_ms, fail_at_ms = server.ready
        instant_real_ms = fail_at_ms if mode == "together" else scheduled_ms
        cpu_at_start, loop_cpu_at_start = server.cpu_seconds(), server.loop_cpu_seconds()
        spy = None
        if args.py_spy:
            out = f"{args.py_spy}-{mode}-{rep + 1}.txt"
            spy = await asyncio.create_subprocess_exec(
                "py-spy",
                "record",
                "--nonblocking",
                "-p",
                str(server.proc.pid),
                "-r",
                "200",
                "-f",
                "raw",
                "-o",
                out,
                "-d",
                str(int(STORM_IDLE_S + fail_after(args.agents) + 30)),
                stdout=asyncio.subprocess.DEVNULL,
            )
        deadline = instant_real_ms / 1000 + 60
        async with httpx.AsyncClient(timeout=30) as client:
            count = 0
            while count < args.agents and time.time() < deadline:
                await asyncio.sleep(0.1)
                got = await client.get(f"http://{HOST}:{receiver_port}/results", params={"since": count})
                count += len(got.json())
            await asyncio.sleep(1.0)  # a second copy of any would come now
            records = (await client.get(f"http://{HOST}:{receiver_port}/results")).json()
            server_cpu = server.cpu_seconds() - cpu_at_start
            loop_cpu = server.loop_cpu_seconds() - loop_cpu_at_start
            finished = (await client.get(f"{server.url}/api/bench/finished", headers=auth)).json()
            sessions = (await client.get(f"{server.url}/api/bench/sessions", headers=auth)).json()
        samples = json.loads(await poller.finish())
        if spy is not None:
            with contextlib.suppress(ProcessLookupError):
                spy.send_signal(signal.SIGINT)  # py-spy writes its profile and ends
            await spy.wait()
    finally:
        for peer in reversed(peers):
            await peer.stop()
    failed = {run_id for run_id, f in finished.items() if f["status"] == "error"}
    got_runs = [r["runId"] for r in records]
    last_ns = max(r["arrivedNs"] for r in records) if records else 0
    instant_ns = instant_real_ms * 1_000_000
    during = [lat for start, lat, _ in samples if instant_ns <= start <= last_ns]
    idle = [lat for start, lat, _ in samples if start < scheduled_ms * 1_000_000 - 500_000_000]
    deliveries = read_deliveries(db)
    return {
        "mode": mode,
        "agents": args.agents,
        "sessions waited": sessions["waited"],
        "sessions late": sessions["late"],
        "failed runs": len(failed),
        "received": len(records),
        "distinct runs received": len(set(got_runs)),
        "every failed run once": sorted(got_runs) == sorted(failed),
        "copies": len(records) - len({r["webhookId"] for r in records}),
        "unverified": sum(not r["verified"] for r in records),
        "last received s": (last_ns - instant_ns) / 1e9,
        "first received s": (min(r["arrivedNs"] for r in records) - instant_ns) / 1e9 if records else None,
        "last finished s": (max(finished[r]["ns"] for r in failed) - instant_ns) / 1e9 if failed else None,
        "server cpu s": server_cpu,
        "loop cpu s": loop_cpu,
        "connections": len({r["connection"] for r in records}),
        "deliveries sent once": sum(d["status"] == "sent" and d["attempts"] == 1 for d in deliveries),
        "api during": during,
        "api idle": idle,
        "api non-200": sum(status != 200 for _, _, status in samples),
    }
