"""One node of ``bench/cluster.py`` and of the failover test, run as its own process.

The real :class:`app.server.Server` (storage, scheduler with its slot claims,
runner and its queue, leases, change feed, settler, API over uvicorn) on
``--db``, with two differences only, both at the runner's edge:

* a run's Claude Code session is a sleep of ``--run-ms`` that ends
  ``success`` (10,000 agents a minute cannot each start the CLI on a laptop);
* every hand-over of a claimed slot to the runner (``enqueue``) and every run
  start (``start``) is appended to ``--log`` as a JSON line with the node's
  clock, so fires can be counted (duplicates, missed) and timed (lateness).

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


def instrument(log: TextIO, clock: SystemClock, run_ms: int) -> None:
    """Sessions that sleep; hand-overs and starts written to ``log``."""

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
        await enqueue_claimed(self, agent_id, run_id)

    async def started(self: Runner, run: Any) -> Any:
        write("start", run.run_id, run.agent_id)
        return await start_session(self, run)

    runner_module.run_session = session  # type: ignore[assignment]
    Runner.enqueue_claimed = enqueue  # type: ignore[method-assign]
    Runner._session = started  # type: ignore[method-assign]


async def node(args: argparse.Namespace) -> None:
    clock = SystemClock(offset_ms=args.offset_ms)
    log = open(args.log, "a")
    instrument(log, clock, args.run_ms)
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
        await wait_until_started(web)
        print(f"READY {server.server_id} {os.getpid()}", flush=True)
        await task


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
    asyncio.run(node(p.parse_args()))


if __name__ == "__main__":
    main()
