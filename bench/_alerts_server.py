"""The server side of ``bench/alerts.py``: the real ``Server``, in its own process.

Everything is the product's: database, service, runner (and its run-slot
limit), settling, alerts, the deliverer and its httpx client, the API behind
the product's uvicorn settings. The bench adds only:

* a stamp of each ``run.finished`` event with the wall clock
  (``time.time_ns``) at the moment the runner publishes it, right after the
  transaction that recorded the run's end, served by
  ``GET /api/bench/finished`` (through the same bearer-auth middleware);
* ``--sessions cli --fake-api URL``: agent runs are real Claude Code CLI runs
  against that fake Messages API (``tests/fake_anthropic.py``), isolated in
  ``--workdir``;
* ``--sessions fail-at-once``: instead, each run's session ends ``error`` at
  once without starting a CLI process (``app.runner.run_session`` replaced by
  a coroutine returning a failed ``SessionResult`` with a small cost); every
  step before and after the session is the runner's own;
* ``--sessions fail-together --fail-after S``: the same, but every session
  waits until one instant, S seconds after the scheduler's instant, and all
  end ``error`` then (with ``--max-concurrent-runs`` above the number of
  agents, all of them are running by then: ``GET /api/bench/sessions`` counts
  those that came late);
* ``--instant-in S``: the real scheduler, started (as ``Server.start`` does)
  once everything else runs, on the system clock shifted (as
  ``bench/scheduler.py`` does) so that the server clock's next minute
  boundary comes S seconds later; the alerts, settling and the deliverer
  share that clock.

Prints ``READY <port> <instant> <fail_at>`` on stdout once listening (the
wall-clock ms of that minute boundary and of the sessions' failure, 0 when
not used); SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import app.runner
from app.agent_session import EventCallback, SessionSpec
from app.clock import SystemClock
from app.scheduler import Scheduler
from app.server import Server, ServerConfig, running, uvicorn_server, wait_until_started
from app.session_events import SessionResult

MINUTE_MS = 60_000
FAILURE_OUTPUT = "bench: the session failed (no CLI process was started)"


class FailingSessions:
    """Sessions that end ``error`` without a CLI process: at once, or all at ``fail_at_ns``."""

    def __init__(self) -> None:
        self.fail_at_ns: int | None = None
        self.waited = 0
        self.late = 0

    async def session(self, spec: SessionSpec, on_event: EventCallback) -> SessionResult:
        if self.fail_at_ns is not None:
            wait = (self.fail_at_ns - time.time_ns()) / 1e9
            if wait > 0:
                self.waited += 1
                await asyncio.sleep(wait)
            else:
                self.late += 1
        return SessionResult(
            status="error",
            output=FAILURE_OUTPUT,
            cost_usd=0.0021,
            input_tokens=1200,
            output_tokens=80,
            num_turns=1,
        )


def fake_api_env(url: str, workdir: Path) -> dict[str, str]:
    """The environment of a CLI run against the fake API (as ``FakeAnthropic.env`` builds it)."""
    from tests.fake_anthropic import FakeAnthropic  # a test double: only this mode needs it

    fake = FakeAnthropic()
    fake.port = int(url.rsplit(":", 1)[1])
    return fake.env(workdir / "agent")


async def serve(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    env = fake_api_env(args.fake_api, workdir) if args.fake_api else {}
    failing = FailingSessions()
    if args.sessions != "cli":
        app.runner.run_session = failing.session  # type: ignore[attr-defined]
    clock = SystemClock()
    cfg = ServerConfig(
        db_path=Path(args.db),
        max_concurrent_runs=args.max_concurrent_runs,
        run_scheduler=False,
        stats_zone="UTC",
        default_timezone="UTC",
        agent_env=env,
        workspaces_dir=workdir / "workspaces",
        clock=clock,
        secret_key_file=workdir / "secret.key",
    )
    finished: dict[str, dict[str, Any]] = {}
    async with running(cfg) as server:
        publish = server.bus.publish

        def stamped_publish(event_type: str, **data: Any) -> Any:
            if event_type == "run.finished":
                run = data.get("run") or {}
                finished[data["runId"]] = {"ns": time.time_ns(), "status": run.get("status")}
            return publish(event_type, **data)

        server.bus.publish = stamped_publish  # type: ignore[method-assign]

        async def finished_route(request: Request) -> Response:
            return JSONResponse(finished)

        async def sessions_route(request: Request) -> Response:
            return JSONResponse({"waited": failing.waited, "late": failing.late})

        server.app.router.routes.insert(0, Route("/api/bench/finished", finished_route))
        server.app.router.routes.insert(0, Route("/api/bench/sessions", sessions_route))
        instant = await start_scheduler(server, clock, args.instant_in) if args.instant_in else 0
        fail_at = 0
        if args.sessions == "fail-together":
            fail_at = instant + int(args.fail_after * 1000)
            failing.fail_at_ns = fail_at * 1_000_000
        await serve_api(server, args.port, instant, fail_at)


async def start_scheduler(server: Server, clock: SystemClock, lead_s: float) -> int:
    """Shift the clock so that its next minute boundary comes in ``lead_s``, then start the
    scheduler as ``Server.start`` does; that boundary in wall-clock ms."""
    instant_real = time.time_ns() // 1_000_000 + int(lead_s * 1000)
    clock.offset_ms = -(-instant_real // MINUTE_MS) * MINUTE_MS - instant_real
    scheduler = Scheduler(
        server.service,
        server.runner,
        server.store,
        server.bus,
        clock=clock,
        missed=server.alerts.missed_slots,
    )
    await scheduler.start()
    server.extras.append(scheduler)
    return instant_real


async def serve_api(server: Server, port: int, instant: int, fail_at: int) -> None:
    web = uvicorn_server(server.app, "127.0.0.1", port, log_to_stderr=False)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        web.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    task = asyncio.create_task(web.serve())
    await wait_until_started(web)
    print(f"READY {port} {instant} {fail_at}", flush=True)
    await task


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--sessions", choices=["cli", "fail-at-once", "fail-together"], default="cli")
    p.add_argument("--fake-api", metavar="URL")
    p.add_argument("--fail-after", type=float, default=5.0, metavar="S")
    p.add_argument("--instant-in", type=float, default=0.0, metavar="S")
    p.add_argument("--max-concurrent-runs", type=int, default=4)
    args = p.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
