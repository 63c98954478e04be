"""One node of ``bench/cluster.py`` and of the failover test, run as its own process.

The real :class:`app.server.Server` (storage, scheduler with its slot claims,
runner and its queue, leases, change feed, settler, API over uvicorn) on
``--db``, with two differences only, both at the runner's edge:

* a run's Claude Code session is a sleep of ``--run-ms`` that ends
  ``success`` (10,000 agents a minute cannot each start the CLI on a laptop);
* every hand-over of a claimed slot to the runner (``enqueue``) and every run
  start (``start``) is appended to ``--log`` as a JSON line with the node's
  clock, so fires can be counted (duplicates, missed) and timed (lateness).

With ``--hand-over-only`` (the benchmark, 10,000 agents a minute) a claimed
slot handed over is not run at all: it is logged, and marked ``success`` in
one statement a few seconds later (as ``bench/scheduler.py`` does), so what is
measured is the scheduler: its claims, the database, the hand-over.

The clock is the system clock shifted by ``--offset-ms`` (as the scheduler
benchmark does), so a test can put a minute boundary a few seconds ahead.
Prints ``READY <server id> <pid>`` once serving; SIGTERM stops it cleanly,
SIGKILL is what the failover test does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import app.runner as runner_module
from app.clock import SystemClock
from app.runner import Runner
from app.server import ServerConfig, running, uvicorn_server, wait_until_started
from app.session_events import SessionResult
from storage.interface import Storage
from storage.postgres import PostgresStorage
from storage.sqlite import SqliteStorage


def instrument(log: TextIO, clock: SystemClock, run_ms: int, handed: list[str] | None) -> None:
    """Sessions that sleep; hand-overs and starts written to ``log``; with ``handed``, slots
    handed over are only collected there (not run)."""

    def write(kind: str, run_id: str, agent_id: str) -> None:
        log.write(json.dumps({"kind": kind, "run": run_id, "agent": agent_id, "at": clock.now_ms()}) + "\n")
        log.flush()

    async def session(spec: Any, on_event: Any) -> SessionResult:
        await asyncio.sleep(run_ms / 1000)
        return SessionResult("success", "slept", cost_usd=0.0, num_turns=1)

    enqueue_claimed = Runner.enqueue_claimed
    start_session = Runner._session

    async def enqueue(self: Runner, agent_id: str, run_id: str) -> None:
        write("enqueue", run_id, agent_id)
        if handed is not None:
            handed.append(run_id)
            return
        await enqueue_claimed(self, agent_id, run_id)

    async def started(self: Runner, run: Any) -> Any:
        write("start", run.run_id, run.agent_id)
        return await start_session(self, run)

    runner_module.run_session = session  # type: ignore[assignment]
    Runner.enqueue_claimed = enqueue  # type: ignore[method-assign]
    Runner._session = started  # type: ignore[method-assign]


async def node(args: argparse.Namespace) -> None:
    clock = SystemClock(offset_ms=args.offset_ms)
    log = open(args.log, "a")  # open for the node's life
    handed: list[str] | None = [] if args.hand_over_only else None
    instrument(log, clock, args.run_ms, handed)
    cfg = ServerConfig(
        db_path=args.db,
        max_concurrent_runs=args.max_runs,
        stats_zone="UTC",
        default_timezone="UTC",
        lease_seconds=args.lease_seconds,
        renew_seconds=args.renew_seconds,
        clock=clock,
        workspaces_dir=Path(args.workspaces),
    )
    async with running(cfg) as server:
        web = uvicorn_server(server.app, "127.0.0.1", args.port, log_to_stderr=False)
        loop = asyncio.get_running_loop()

        def stop() -> None:
            server.bus.close()
            web.should_exit = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        task = asyncio.create_task(web.serve())
        if handed is not None:
            finisher = asyncio.create_task(finish_handed(server.store, handed))
            task.add_done_callback(lambda _: finisher.cancel())
        await wait_until_started(web)
        print(f"READY {server.server_id} {os.getpid()}", flush=True)
        await task


async def finish_handed(store: Storage, handed: list[str]) -> None:
    """Mark the slots handed over ``success`` in one statement, every 5 s (off the measured path)."""
    while True:
        await asyncio.sleep(5)
        ids, handed[:] = list(handed), []
        if not ids:
            continue
        if isinstance(store, PostgresStorage):
            await store.db.execute("UPDATE runs SET status = 'success' WHERE id = ANY($1::text[])", ids)
        else:
            assert isinstance(store, SqliteStorage)
            payload = json.dumps(ids)
            await store.db.transaction(
                lambda conn, payload=payload: conn.execute(
                    "UPDATE runs SET status = 'success' WHERE id IN (SELECT value FROM json_each(?))",
                    (payload,),
                )
            )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--workspaces", required=True)
    p.add_argument("--offset-ms", type=int, default=0)
    p.add_argument("--run-ms", type=int, default=1000)
    p.add_argument("--max-runs", type=int, default=4)
    p.add_argument("--lease-seconds", type=float, default=30.0)
    p.add_argument("--renew-seconds", type=float, default=10.0)
    p.add_argument("--hand-over-only", action="store_true", help="log claimed slots, never run them")
    asyncio.run(node(p.parse_args()))


if __name__ == "__main__":
    main()
