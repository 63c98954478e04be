"""Scheduler benchmark: fire lateness, CPU and memory, against APScheduler 3.11.

    python bench/scheduler.py [--agents 1,1000,10000] [--minutes 2]

For every agent count N it measures two job sets, each in its own process:

* ``cronagents``: the real :class:`app.scheduler.Scheduler` on the real clock,
  a real SQLite file and real slot claims (one transaction per instant), with N
  enabled agents all ``* * * * *`` (default ``forbid`` policy, so the
  running-runs check is made too). The runner boundary is a no-op that
  records when ``enqueue_claimed`` was called; the runs it was handed are
  marked finished in one UPDATE 5 s later, as if they had run.
* ``APScheduler``: ``AsyncIOScheduler`` with N jobs on ``CronTrigger`` (every
  minute, UTC), each job a coroutine recording its own lateness. No database.

Lateness = the moment the run is handed over (our enqueue / the APScheduler
job starting) minus the slot time. CPU is the process's user+system time over
the whole measured window divided by its length in minutes (idle time
included); RSS is the resident set at the end.

All processes run at the same time (after each has finished its set-up) on
real minute boundaries, but each one's boundary is shifted to its own second
of the minute (our scheduler through a clock offset, APScheduler through
``second=``) so no two fire at once: the numbers are each process's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MINUTE_MS = 60_000


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def summary(lateness_ms: list[float]) -> dict[str, float]:
    values = sorted(lateness_ms)
    if not values:
        return {"median": float("nan"), "p99": float("nan"), "max": float("nan")}
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return {"median": statistics.median(values), "p99": p99, "max": values[-1]}


async def wait_for_go() -> None:
    print("READY", flush=True)
    await asyncio.to_thread(sys.stdin.readline)


# ----------------------------------------------------------------------------- our scheduler


async def run_ours(n: int, minutes: int, second: int, claim_ahead_min: int | None) -> dict[str, Any]:
    from app.events import EventBus
    from app.scheduler import Scheduler, SystemClock
    from app.service import AgentService
    from storage import agents as agent_store
    from storage.sqlite import SqliteStorage

    # The clock's minute boundaries fall on real second `second` of the minute.
    clock = SystemClock(offset_ms=(MINUTE_MS - second * 1000) % MINUTE_MS)
    lateness: list[float] = []
    handed: list[str] = []

    class NoOpRunner:
        owner = "srv_bench"

        async def enqueue_claimed(self, agent_id: str, run_id: str) -> None:
            now = time.time_ns() / 1e6 + clock.offset_ms
            lateness.append(now % MINUTE_MS)
            handed.append(run_id)

        async def cancel_agent_runs(self, agent_id: str, reason: str = "cancelled") -> int:
            return 0

    with tempfile.TemporaryDirectory() as tmp:
        async with SqliteStorage(Path(tmp) / "bench.db") as store:
            db = store.db
            service = AgentService(
                store, EventBus(), stats_zone="UTC", default_timezone="UTC", clock=clock.now_ms
            )
            first = await service.create_agent(
                # No catch-up: slots passing during the set-up are recorded as skipped.
                {
                    "name": "agent 0",
                    "schedule": "* * * * *",
                    "prompt": "noop",
                    "startingDeadlineSeconds": None,
                },
                None,
            )
            template = await agent_store.get_agent(db, first["id"])
            assert template is not None
            cols = [c for c in agent_store.AGENT_COLUMNS if c in template.keys()]
            rows = []
            for i in range(1, n):
                values = {c: template[c] for c in cols}
                values.update(id=f"agt_bench{i:06d}", name=f"agent {i}")
                rows.append([values[c] for c in cols])
            await db.transaction(
                lambda conn: conn.executemany(
                    f"INSERT INTO agents ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    rows,
                )
            )
            await wait_for_go()
            options = {} if claim_ahead_min is None else {"claim_ahead_min": claim_ahead_min}
            scheduler = Scheduler(service, NoOpRunner(), store, service.bus, clock=clock, **options)
            await scheduler.start()

            async def finish_runs() -> None:
                """Mark what was handed over as finished (off the measured path)."""
                while True:
                    await asyncio.sleep(5)
                    if handed:
                        ids = json.dumps(handed)
                        handed.clear()
                        await db.transaction(
                            lambda conn, ids=ids: conn.execute(
                                "UPDATE runs SET status = 'success' WHERE id IN"
                                " (SELECT value FROM json_each(?))",
                                (ids,),
                            )
                        )

            finisher = asyncio.create_task(finish_runs())
            cpu0, wall0 = time.process_time(), time.monotonic()
            first_slot = (clock.now_ms() // MINUTE_MS + 1) * MINUTE_MS
            await clock.sleep_until(first_slot + (minutes - 1) * MINUTE_MS + 10_000)
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            finisher.cancel()
            await scheduler.stop()
            return {
                "impl": (
                    "cronagents"
                    if claim_ahead_min is None
                    else "cronagents, claims at the instant"
                    if claim_ahead_min > n
                    else f"cronagents, claims ahead from {claim_ahead_min:,} agents"
                ),
                "n": n,
                "fires": minutes,
                "handed": len(lateness),
                "cpu_per_min": cpu / (wall / 60),
                "rss_mb": rss_mb(),
                **summary(lateness),
            }


# ----------------------------------------------------------------------------- APScheduler


async def run_apscheduler(n: int, minutes: int, second: int, _: int | None) -> dict[str, Any]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.cron import CronTrigger

    lateness: list[float] = []

    async def job() -> None:
        now = time.time_ns() / 1e6
        lateness.append((now - second * 1000) % MINUTE_MS)

    scheduler = AsyncIOScheduler(timezone="UTC", job_defaults={"misfire_grace_time": 60, "coalesce": True})
    trigger = CronTrigger(second=second, timezone="UTC")
    for i in range(n):
        scheduler.add_job(job, trigger, id=f"job{i}")
    await wait_for_go()
    scheduler.start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    now = time.time()
    first_slot = (now - second) // 60 * 60 + second + 60
    await asyncio.sleep(first_slot + (minutes - 1) * 60 + 10 - time.time())
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    scheduler.shutdown(wait=False)
    return {
        "impl": "APScheduler 3.11",
        "n": n,
        "fires": minutes,
        "handed": len(lateness),
        "cpu_per_min": cpu / (wall / 60),
        "rss_mb": rss_mb(),
        **summary(lateness),
    }


# ----------------------------------------------------------------------------- driver


def worker(args: argparse.Namespace) -> None:
    run = run_ours if args.worker == "ours" else run_apscheduler
    result = asyncio.run(run(args.n, args.minutes, args.second, args.claim_ahead_min))
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


def drive(args: argparse.Namespace) -> None:
    counts = [int(x) for x in args.agents.split(",")]
    jobs = [("ours", n) for n in counts] + [("aps", n) for n in counts]
    if len(jobs) > 6:
        sys.exit("at most 3 agent counts (each process gets its own 10 s of the minute)")
    # Heaviest first for each implementation, half a minute apart between them.
    seconds = {}
    for i, n in enumerate(sorted(counts, reverse=True)):
        seconds[("ours", n)] = 10 * i
        seconds[("aps", n)] = 30 + 10 * i
    procs = []
    for kind, n in jobs:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            kind,
            "--n",
            str(n),
            "--minutes",
            str(args.minutes),
            "--second",
            str(seconds[(kind, n)]),
        ]
        if args.claim_ahead_min is not None:
            cmd += ["--claim-ahead-min", str(args.claim_ahead_min)]
        procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for proc in procs:  # every process has finished its set-up
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "READY":
            sys.exit(f"a worker failed during set-up: {line!r}")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("GO\n")
        proc.stdin.flush()
    print(
        f"measuring {args.minutes} fire(s) per configuration on real minute boundaries ...", file=sys.stderr
    )
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        for line in out.splitlines():
            if line.startswith("RESULT "):
                results.append(json.loads(line[7:]))
        if proc.returncode:
            sys.exit(f"a worker failed (exit {proc.returncode})")
    results.sort(key=lambda r: (r["n"], r["impl"].startswith("APScheduler")))
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {args.minutes} fire(s) each\n")
    print("| agents | scheduler | fired / expected | lateness median | p99 | max | CPU per minute | RSS |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['n']:,} | {r['impl']} | {r['handed']:,} / {r['n'] * r['fires']:,}"
            f" | {r['median']:.1f} ms | {r['p99']:.1f} ms | {r['max']:.1f} ms"
            f" | {r['cpu_per_min']:.3f} s | {r['rss_mb']:.0f} MB |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", default="1,1000,10000", help="comma-separated agent counts (max 3)")
    parser.add_argument("--minutes", type=int, default=2, help="fires measured per configuration")
    parser.add_argument(
        "--claim-ahead-min",
        type=int,
        default=None,
        help="claim an instant's slots ahead when it has at least this many agents"
        " (default: the scheduler's, 500; a huge number claims at the instant)",
    )
    parser.add_argument("--worker", choices=["ours", "aps"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--second", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        drive(args)


if __name__ == "__main__":
    main()
