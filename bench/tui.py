"""Dashboard benchmark: first full paint with 1,000 and 10,000 agents beside a bare DataTable,
idle CPU, resident memory, and a live log fed 1,000 events/s.

    python bench/tui.py [--agents 1000,10000] [--runs 5] [--idle 30] [--rate 1000] [--seconds 10]

Each agent count runs in a process of its own (so its resident memory is its own).

Everything is real except the terminal (Textual's headless driver, 120x36):
the embedded server on a real SQLite file behind uvicorn on 127.0.0.1, the
dashboard's own httpx client and its SSE stream, in one asyncio loop as in
local mode.

* **First paint**: from building the app to the first frame drawn with the
  agent table filled (``GET /api/agents`` answered, every agent in, the
  screen refreshed); and to the frame with the Cost column filled too (the
  global stats' ``costByAgent``). Median (and min/max) of ``--runs`` fresh apps.
* **Baseline**: a bare Textual ``DataTable`` (row cursor, zebra stripes, as the
  dashboard's) in an app of its own at 120x36, filled with the same rows as plain
  strings already in memory (no request, no decoding): app built → rows added and
  drawn. Runs alternate with the dashboard's, in the same process.
* **Idle CPU**: ``time.process_time()`` over ``--idle`` seconds with the dashboard
  open and connected (event stream, 1 s clock), scaled to a minute; beside it the
  same process with no dashboard open (the embedded server alone).
* **Memory**: the process's resident set (``VmRSS``) with the dashboard open after
  its first paint, and before the dashboard was built (the server and its data).
* **Live log** (first agent count only): ``--rate`` ``run.event`` events per second for ``--seconds``
  published on the server's event bus for the selected agent's running run;
  each goes through SSE and the client into the Live tab's ``RunLog``. Lag =
  when the event is on screen (its batch written) minus when it was
  published; also the largest backlog in the log's buffer and in the server's
  SSE queue for the dashboard (which overflows at 10,000).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from app import auth
from app.client import ApiClient
from app.events import SUBSCRIBER_QUEUE_SIZE
from app.server import Server, ServerConfig, running, serving
from app.tui.app import build_app
from app.tui_demo import add_run
from widgets.agent_table import describe_schedule
from widgets.formatting import relative, status_text
from widgets.run_log import RunLog

SCHEDULES = ("0 9 * * 1-5", "*/15 * * * *", "30 6 * * 1", "0 */4 * * *", "@daily", "0 17 * * 5")


async def seed(server: Server, count: int) -> str:
    user, _ = await auth.create_token(server.store, "bench")
    first = ""
    for i in range(count):
        agent = await server.service.create_agent(
            {
                "name": f"agent {i:04d}",
                "schedule": SCHEDULES[i % len(SCHEDULES)],
                "prompt": "bench",
                "description": "benchmark agent",
                "enabled": i % 7 != 0,
            },
            user,
        )
        first = first or agent["id"]
    return first


async def wait(pilot: Any, predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError
        await pilot.pause(0.001)


async def first_paint(client: ApiClient, agents: int) -> tuple[float, float]:
    """Seconds from building the app to the table filled and drawn, and to its costs drawn too."""
    start = time.perf_counter()
    app = build_app(client, stream_events=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait(pilot, lambda: app.main_screen is not None and app.main_screen.table.row_count == agents)
        await pilot.pause()  # one more frame: the rows on screen
        elapsed = time.perf_counter() - start
        table = app.main_screen.table  # type: ignore[union-attr]
        await wait(pilot, lambda: table.spend_known)
        await pilot.pause()
        costs = time.perf_counter() - start
    return elapsed, costs


def plain_rows(agents: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The dashboard's cells for each agent, as plain strings (the baseline's rows)."""
    now = datetime.now(UTC)
    return [
        (
            str(a["name"]),
            "●" if a.get("enabled") else "○",
            describe_schedule(str(a.get("schedule", ""))),
            relative(a.get("nextRunAt"), now) if a.get("enabled") else "paused",
            relative(a.get("lastRunAt"), now),
            status_text(a.get("lastStatus")).plain,
            "$0.00",
            "$0.00",
        )
        for a in agents
    ]


class BaselineApp(App[None]):
    """A bare DataTable filled with ``rows`` on mount."""

    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Name", "On", "Schedule", "Next run", "Last run", "Status", "Today", "Cost")
        table.add_rows(self.rows)
        table.focus()


async def baseline_paint(rows: list[tuple[str, ...]]) -> float:
    start = time.perf_counter()
    app = BaselineApp(rows)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(DataTable)
        await wait(pilot, lambda: table.row_count == len(rows))
        await pilot.pause()
        elapsed = time.perf_counter() - start
    return elapsed


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def idle_and_memory(client: ApiClient, agents: int, seconds: float) -> dict[str, float]:
    """CPU per idle minute without and with the dashboard open; resident memory before and with it."""
    gc.collect()
    before_mb = rss_mb()
    cpu = time.process_time()
    await asyncio.sleep(seconds)
    server_cpu = (time.process_time() - cpu) * 60 / seconds
    app = build_app(client)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait(
            pilot,
            lambda: (
                app.stream_open and app.main_screen is not None and app.main_screen.table.row_count == agents
            ),
        )
        await pilot.pause(2.0)  # the stats and the selected agent's detail read, the screen settled
        gc.collect()
        open_mb = rss_mb()
        cpu = time.process_time()
        await asyncio.sleep(seconds)
        dashboard_cpu = (time.process_time() - cpu) * 60 / seconds
    return {
        "before_mb": before_mb,
        "open_mb": open_mb,
        "server_cpu": server_cpu,
        "dashboard_cpu": dashboard_cpu,
    }


async def live_log(
    server: Server, client: ApiClient, agent_id: str, rate: int, seconds: float
) -> dict[str, float]:
    run_id = await add_run(server, agent_id, "running", datetime.now(UTC), trigger="manual")
    published: list[float] = []
    shown: list[tuple[float, int]] = []
    original = RunLog.flush

    def flush(self: RunLog) -> None:  # when each batch reaches the screen
        before = self.written
        original(self)
        if self.written != before and self.id == "live":
            shown.append((time.perf_counter(), self.written))

    RunLog.flush = flush  # type: ignore[method-assign]
    app = build_app(client)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait(
            pilot,
            lambda: app.stream_open and app.main_screen is not None and app.main_screen.live.run_id == run_id,
        )
        await pilot.press("2")
        log = app.main_screen.live  # type: ignore[union-attr]
        base = log.written
        sse_depth = 0
        total = int(rate * seconds)
        tick = 0.01
        per_tick = max(1, int(rate * tick))
        start = time.perf_counter()
        seq = 0
        while seq < total:
            target = start + (seq / rate)
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            for _ in range(min(per_tick, total - seq)):
                seq += 1
                published.append(time.perf_counter())
                server.bus.publish(
                    "run.event",
                    agentId=agent_id,
                    runId=run_id,
                    event={
                        "seq": seq,
                        "at": "2025-01-07T09:55:00.000Z",
                        "type": "assistant_text",
                        "text": f"event {seq}: the quick brown fox jumps over the lazy dog",
                    },
                )
            subs = getattr(server.bus, "_subscribers", set())
            sse_depth = max([sse_depth, *(s.queue.qsize() for s in subs)])
        publish_seconds = time.perf_counter() - start
        await wait(pilot, lambda: log.written - base >= total, timeout=60)
        drained = time.perf_counter() - start
        max_pending = log.max_pending
    RunLog.flush = original  # type: ignore[method-assign]
    shown = [(t, n) for t, n in shown if n > base]
    lags = []
    j = 0
    for i, t in enumerate(published, 1):
        while shown[j][1] - base < i:
            j += 1
        lags.append((shown[j][0] - t) * 1000)
    lags.sort()
    return {
        "events": total,
        "publish_s": publish_seconds,
        "drained_s": drained,
        "rate": total / publish_seconds,
        "lag_p50_ms": lags[len(lags) // 2],
        "lag_p99_ms": lags[int(len(lags) * 0.99) - 1],
        "lag_max_ms": lags[-1],
        "max_log_backlog": max_pending,
        "max_sse_queue": sse_depth,
        "batches": len(shown),
    }


async def one_count(args: argparse.Namespace, agents: int, live: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = ServerConfig(
            db_path=Path(tmp) / "bench.db", run_scheduler=False, stats_zone="UTC", default_timezone="UTC"
        )
        async with running(cfg) as server:
            t0 = time.perf_counter()
            first_agent = await seed(server, agents)
            print(f"seeded {agents} agents in {time.perf_counter() - t0:.1f}s", flush=True)
            _, token = await auth.create_token(server.store, "bench-client")
            async with serving(server) as url:
                client = ApiClient(url, token)
                try:
                    m = await idle_and_memory(client, agents, args.idle)
                    print(
                        f"{agents} agents: resident memory {m['open_mb']:.0f} MB with the dashboard open"
                        f" ({m['before_mb']:.0f} MB before it was built)"
                    )
                    print(
                        f"{agents} agents: idle CPU {m['dashboard_cpu']:.3f} s per minute with the dashboard"
                        f" open ({m['server_cpu']:.3f} s/min without it; {args.idle:g} s sampled)",
                        flush=True,
                    )
                    rows = plain_rows(await client.list_agents())
                    product: list[float] = []
                    costs: list[float] = []
                    baseline: list[float] = []
                    for _ in range(args.runs):
                        paint, with_costs = await first_paint(client, agents)
                        product.append(paint * 1000)
                        costs.append(with_costs * 1000)
                        baseline.append(await baseline_paint(rows) * 1000)
                    for label, ms in (
                        ("dashboard", product),
                        ("dashboard, with the costs", costs),
                        ("bare DataTable", baseline),
                    ):
                        ms.sort()
                        print(
                            f"{agents} agents: first full paint 120x36, {label}: median"
                            f" {statistics.median(ms):.0f} ms (min {ms[0]:.0f}, max {ms[-1]:.0f};"
                            f" {args.runs} runs)",
                            flush=True,
                        )
                    if not live:
                        return
                    r = await live_log(server, client, first_agent, args.rate, args.seconds)
                    drained = r["drained_s"] - r["publish_s"]
                    print(
                        f"live log: {r['events']} events at {r['rate']:.0f}/s over {r['publish_s']:.1f}s; "
                        f"all on screen {drained:.2f}s after the last was published"
                    )
                    print(
                        f"  publish→screen lag p50 {r['lag_p50_ms']:.0f} ms, p99 {r['lag_p99_ms']:.0f} ms, "
                        f"max {r['lag_max_ms']:.0f} ms; {r['batches']} screen batches"
                    )
                    print(
                        f"  max backlog: RunLog buffer {r['max_log_backlog']}, "
                        f"server SSE queue {r['max_sse_queue']} (overflow at {SUBSCRIBER_QUEUE_SIZE})"
                    )
                finally:
                    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", default="1000,10000", help="agent counts, comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU sampled")
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-live", action="store_true", help="skip the live-log measure")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    counts = [int(c) for c in args.agents.split(",")]
    if args.child:
        asyncio.run(one_count(args, counts[0], live=not args.no_live))
        return
    for i, count in enumerate(counts):
        command = [sys.executable, __file__, "--child", "--agents", str(count), "--runs", str(args.runs)]
        command += ["--idle", str(args.idle), "--rate", str(args.rate), "--seconds", str(args.seconds)]
        if i or args.no_live:
            command.append("--no-live")
        subprocess.run(command, check=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


if __name__ == "__main__":
    main()
