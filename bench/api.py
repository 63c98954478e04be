"""API benchmark: ``GET /api/agents`` against a prebuilt body, and 30-day global stats.

Run: ``python bench/api.py`` (full, about 8 minutes the first time, when it also
builds the 1,000,000-run database under ``bench/.cache/``), or
``python bench/api.py --quick`` (1 repetition of 2 s per cell, 100,000 runs).

Every server runs in its own process on 127.0.0.1 (``bench/_server.py``, which
builds the product's ``Server`` and serves it with the product's own uvicorn
settings, or the real ``python -m app serve``); the load comes from this
process through ``wrk`` when it is installed (``apt-get install wrk``), else a
raw asyncio HTTP/1.1 keep-alive client (``--loadgen python``). Each cell runs
for a fixed duration after a warm-up and is repeated; the table shows medians.

What is compared for ``GET /api/agents`` (same bytes in every case):

* ``product``: ``GET /api/agents`` of the product app (auth middleware, router,
  ``AgentService.list_agents_body()``).
* ``same-app prebuilt``: ``GET /api/bench/prebuilt`` mounted in the *same*
  product app and process, through the same auth middleware, answering a copy
  of the body made at start-up.
* ``plain prebuilt``: a bare Starlette app with one route answering the same
  bytes, same uvicorn settings, no middleware: the issue's baseline.
* ``cli product``: ``GET /api/agents`` of the real ``python -m app serve
  --no-scheduler`` (as shipped: one access-log line per request on stderr).

Targets (issue 2, item 8): ``GET /api/agents`` >= 80 % of the prebuilt
throughput; ``GET /api/agents/stats?period=30d`` over 1,000,000 runs
(60 days, 1,000 agents) under 10 ms p50.

The write path (``--only writes``; issue 9, item 11): 50 concurrent clients,
each create → get by id → patch → list → stats, 600 creates in all, against
the product server on a fresh database (``bench/_write_path.py``; a scripted
raw asyncio client, whatever ``--loadgen`` says). Targets: 0 errors (any
non-2xx, a 404 for an agent already created, a list without it), create
p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _load import LoadResult, have_wrk, run_load  # noqa: E402
from _write_path import OPERATIONS, WritePathResult, percentile, run_write_path  # noqa: E402

from app.auth import create_token  # noqa: E402
from app.service import AgentService  # noqa: E402
from app.timeutil import DayCalendar, now_ms  # noqa: E402
from storage import Database  # noqa: E402
from storage import stats as stats_store  # noqa: E402
from storage.sqlite import SqliteStorage  # noqa: E402

HOST = "127.0.0.1"
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
CACHE_VERSION = 2
CACHE_MAX_AGE_DAYS = 7
CLK_TCK = os.sysconf("SC_CLK_TCK")

SCHEDULES = [
    "0 9 * * *",
    "*/15 * * * *",
    "0 */2 * * *",
    "30 8 * * 1-5",
    "@hourly",
    "0 0 * * 0",
    "5 4 * * *",
    "0 12 1 * *",
    "*/5 9-17 * * 1-5",
    "@daily",
]
WORDS = (
    "summarize open issues check the deploy pipeline triage new bug reports and post "
    "a short digest with links review pull requests waiting for more than two days "
    "scan logs for errors since the last run update the changelog draft"
).split()


# -- servers -----------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Any = None

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if self.log is not None:
            self.log.close()


def free_port() -> int:
    from app.server import free_port as product_free_port

    return product_free_port(HOST)


def start(name: str, cmd: list[str], port: int, env: dict[str, str] | None = None) -> Proc:
    log = tempfile.TemporaryFile()
    popen = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, **(env or {})},
    )
    proc = Proc(name, popen, port, log)
    deadline = time.monotonic() + 60
    while True:
        if popen.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{name} exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code in (200, 404):
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.stop()
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.05)


def bench_server(mode: str, **opts: str) -> Proc:
    port = free_port()
    cmd = [sys.executable, str(ROOT / "bench" / "_server.py"), mode, "--port", str(port)]
    for k, v in opts.items():
        cmd += [f"--{k.replace('_', '-')}", v]
    return start(f"bench-{mode}", cmd, port)


def cli_server(db: Path) -> Proc:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "app",
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--db",
        str(db),
        "--no-scheduler",
    ]
    return start("cli", cmd, port, {"CRONAGENTS_STATS_TZ": "UTC", "TZ": "UTC"})


# -- databases ---------------------------------------------------------------


def agent_body(i: int, rng: random.Random) -> dict[str, Any]:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 60)))
    return {
        "name": f"Agent {i:04d} {rng.choice(WORDS)} {rng.choice(WORDS)}",
        "description": f"Bench agent {i}: {' '.join(rng.choice(WORDS) for _ in range(8))}",
        "schedule": SCHEDULES[i % len(SCHEDULES)],
        "prompt": words[0].upper() + words[1:] + ".",
        "maxTurns": rng.choice([10, 25, 50, 100]),
        "maxBudgetUsd": rng.choice([None, 0.5, 1.0, 2.5]),
        "enabled": rng.random() > 0.1,
    }


async def build_agents(path: Path, count: int) -> str:
    """A fresh database with ``count`` agents made through the service; returns a token."""
    rng = random.Random(count)
    async with SqliteStorage(path) as store:
        service = AgentService(store, stats_zone="UTC", default_timezone="UTC")
        await service.prepare()  # rollup zone UTC: the servers will not rebuild
        user, token = await create_token(store, "bench")
        for i in range(count):
            await service.create_agent(agent_body(i, rng), user)
    return token


async def new_token(path: Path) -> str:
    async with SqliteStorage(path) as store:
        return (await create_token(store, "bench"))[1]


def runs_db_path(runs: int) -> Path:
    return CACHE / f"runs-{runs}-agents-1000-days-60-v{CACHE_VERSION}.db"


def cached_runs_db(runs: int, rebuild: bool) -> Path | None:
    path = runs_db_path(runs)
    if rebuild or not path.exists():
        return None
    try:
        conn = sqlite3.connect(path)
        row = conn.execute("SELECT value FROM meta WHERE key = 'bench_built_at'").fetchone()
        conn.close()
    except sqlite3.Error:
        return None
    if row is None or now_ms() - int(row[0]) > CACHE_MAX_AGE_DAYS * 86_400_000:
        return None
    return path


def generate_runs(agent_ids: list[str], runs: int, now: int, days: int, rng: random.Random):  # type: ignore[no-untyped-def]
    """Rows for ``runs`` finished runs over the last ``days`` days, in time order."""
    start = now - days * 86_400_000
    minutes = days * 1440 - 10
    per_agent = [runs // len(agent_ids)] * len(agent_ids)
    for i in range(runs - sum(per_agent)):
        per_agent[i] += 1
    slots: list[tuple[int, int]] = []  # (minute, agent index)
    for a, k in enumerate(per_agent):
        slots.extend((m, a) for m in rng.sample(range(minutes), k))
    slots.sort()
    rows = []
    for n, (minute, a) in enumerate(slots):
        slot = start + minute * 60_000
        manual = rng.random() < 0.05
        r = rng.random()
        status = (
            "skipped"
            if r < 0.05 and not manual
            else "cancelled"
            if r < 0.06
            else "budget_exceeded"
            if r < 0.07
            else "error"
            if r < 0.15
            else "success"
        )
        if status == "skipped":
            rows.append(
                (
                    f"run_{n:012x}",
                    agent_ids[a],
                    status,
                    "schedule",
                    slot,
                    "skipped: previous run still running (forbid)",
                    None,
                    None,
                    None,
                    None,
                    slot,
                    slot,
                    0,
                )
            )
            continue
        started = slot + rng.randint(5, 3_000)
        if status == "success":
            duration = int(rng.lognormvariate(math.log(45_000), 0.8))
        else:
            duration = int(rng.lognormvariate(math.log(12_000), 1.0))
        turns = rng.randint(1, 40)
        cost = round(rng.lognormvariate(math.log(0.04), 0.9), 6)
        rows.append(
            (
                f"run_{n:012x}",
                agent_ids[a],
                status,
                "manual" if manual else "schedule",
                None if manual else slot,
                f"{status}: {turns} turns",
                cost,
                rng.randint(2_000, 200_000),
                rng.randint(100, 20_000),
                turns,
                started,
                started + duration,
                duration,
            )
        )
    return rows


async def build_runs_db(runs: int) -> tuple[Path, dict[str, float]]:
    """The cached stats database: 1,000 agents, ``runs`` finished runs over 60 days."""
    CACHE.mkdir(parents=True, exist_ok=True)
    final = runs_db_path(runs)
    tmp = final.with_suffix(".building")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    await build_agents(tmp, 1000)
    timings["agents (service.create_agent x1000)"] = time.perf_counter() - t0

    now = now_ms()
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    agent_ids = [r[0] for r in conn.execute("SELECT id FROM agents ORDER BY id")]
    t0 = time.perf_counter()
    rows = generate_runs(agent_ids, runs, now, 60, random.Random(42))
    timings["generate rows (Python)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    for i in range(0, len(rows), 100_000):
        conn.executemany(
            "INSERT INTO runs (id, agent_id, status, trigger, scheduled_for, output, cost_usd,"
            " input_tokens, output_tokens, num_turns, started_at, completed_at, duration_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows[i : i + 100_000],
        )
    conn.execute(
        "UPDATE agents SET last_run_at = (SELECT MAX(started_at) FROM runs r"
        " WHERE r.agent_id = agents.id), last_status = 'success'"
    )
    conn.execute("COMMIT")
    timings["insert runs (sqlite3 executemany)"] = time.perf_counter() - t0
    conn.close()
    del rows

    t0 = time.perf_counter()
    async with Database(tmp) as db:
        counted = await stats_store.rebuild_rollups(db, "UTC", DayCalendar("UTC").day_of)
        await db.transaction(
            lambda w: w.execute("INSERT INTO meta (key, value) VALUES ('bench_built_at', ?)", (str(now),))
        )
    timings[f"rollups (storage.stats.rebuild_rollups, {counted:,} runs)"] = time.perf_counter() - t0
    conn = sqlite3.connect(tmp)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    tmp.replace(final)
    return final, timings


def group_by_baseline(path: Path, first_day_ms: int, reps: int) -> tuple[list[float], list[Any], str]:
    """The issue's baseline: the 30-day per-day aggregate straight from ``runs``."""
    sql = (
        "SELECT date(started_at / 1000, 'unixepoch') AS day, SUM(status != 'skipped') AS total,"
        " SUM(status = 'success') AS success, SUM(status = 'skipped') AS skipped,"
        " SUM(CASE WHEN status != 'skipped' THEN cost_usd END) AS cost,"
        " SUM(CASE WHEN status != 'skipped' THEN duration_ms END) AS duration"
        " FROM runs WHERE started_at >= ? AND status NOT IN ('queued', 'running')"
        " GROUP BY day ORDER BY day"
    )
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    plan = " / ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, (first_day_ms,)))
    rows = conn.execute(sql, (first_day_ms,)).fetchall()  # warm the page cache
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        rows = conn.execute(sql, (first_day_ms,)).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return times, rows, plan


# -- measuring ---------------------------------------------------------------


@dataclass
class Cell:
    results: list[LoadResult] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)

    def med(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.results)


def measure(
    gen: str, proc: Proc, path: str, token: str | None, conc: int, seconds: float, cell: Cell | None = None
) -> LoadResult:
    cpu0 = proc.cpu_seconds()
    res = run_load(gen, HOST, proc.port, path, token, conc, seconds)
    if res.errors:
        raise RuntimeError(f"{proc.name} {path}: {res.errors} errors / non-200 responses")
    if cell is not None:
        cell.results.append(res)
        cell.server_cpu.append((proc.cpu_seconds() - cpu0) / res.seconds * 100)
    return res


def fmt(x: float, digits: int = 2) -> str:
    return f"{x:,.{digits}f}"


def agents_section(args: argparse.Namespace, gen: str, out: list[str]) -> dict[str, float]:
    ratios: dict[str, float] = {}
    header = (
        "| agents | body | clients | server | req/s | p50 ms | p99 ms | server CPU | "
        "load-gen CPU | req/s ÷ plain prebuilt |\n|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    )
    lines = [header]
    trivial_lines: list[str] = []
    for count in args.agents:
        tmpdir = Path(tempfile.mkdtemp(prefix=f"bench-agents-{count}-"))
        db = tmpdir / "bench.db"
        print(f"[agents={count}] building database ...", file=sys.stderr, flush=True)
        token = asyncio.run(build_agents(db, count))
        procs: list[Proc] = []
        try:
            product = bench_server("product", db=str(db))
            procs.append(product)
            body = httpx.get(
                f"http://{HOST}:{product.port}/api/agents", headers={"Authorization": f"Bearer {token}"}
            ).content
            assert len(__import__("json").loads(body)["data"]) == count
            (tmpdir / "body.json").write_bytes(body)
            plain = bench_server("plain", body_file=str(tmpdir / "body.json"))
            procs.append(plain)
            cli = cli_server(db)
            procs.append(cli)
            targets = [
                ("product", product, "/api/agents", token),
                ("same-app prebuilt", product, "/api/bench/prebuilt", token),
                ("plain prebuilt", plain, "/prebuilt", None),
                ("cli product (access log)", cli, "/api/agents", token),
            ]
            for name, proc, path, tok in targets:
                got = httpx.get(
                    f"http://{HOST}:{proc.port}{path}",
                    headers={"Authorization": f"Bearer {tok}"} if tok else {},
                )
                assert got.status_code == 200 and got.content == body, (name, got.status_code)
                measure(gen, proc, path, tok, 10, args.warmup)  # warm-up, discarded
            cells = {(n, c): Cell() for n, *_ in targets for c in args.clients}
            trivial = {c: Cell() for c in args.clients}
            for rep in range(args.reps):
                for conc in args.clients:
                    for name, proc, path, tok in targets:
                        print(
                            f"[agents={count}] rep {rep + 1}/{args.reps} c={conc} {name}",
                            file=sys.stderr,
                            flush=True,
                        )
                        measure(gen, proc, path, tok, conc, args.seconds, cells[(name, conc)])
                    if count == args.agents[0]:
                        measure(gen, plain, "/trivial", None, conc, args.seconds, trivial[conc])
        finally:
            for p in procs:
                p.stop()
        size = f"{len(body) / 1024:,.0f} KiB"
        for conc in args.clients:
            plain_rps = cells[("plain prebuilt", conc)].med("rps")
            same_rps = cells[("same-app prebuilt", conc)].med("rps")
            for name, *_ in targets:
                cell = cells[(name, conc)]
                ratio = cell.med("rps") / plain_rps
                key = f"{count:,} agents, {conc} client(s): {name} ÷ "
                if name == "product":
                    ratios[key + "plain prebuilt"] = ratio
                    ratios[key + "same-app prebuilt"] = cell.med("rps") / same_rps
                elif name.startswith("cli"):
                    ratios[key + "plain prebuilt"] = ratio
                lines.append(
                    f"| {count:,} | {size} | {conc} | {name} | {fmt(cell.med('rps'), 0)} | "
                    f"{fmt(cell.med('p50_ms'))} | {fmt(cell.med('p99_ms'))} | "
                    f"{statistics.median(cell.server_cpu):.0f} % | "
                    f"{statistics.median(r.gen_cpu_s / r.seconds * 100 for r in cell.results):.0f} % | "
                    f"{ratio:.0%} |"
                )
            if trivial[conc].results:
                t = trivial[conc]
                trivial_lines.append(
                    f"| trivial `ok` (plain app) | {conc} | {fmt(t.med('rps'), 0)} | "
                    f"{fmt(t.med('p50_ms'))} | {fmt(t.med('p99_ms'))} | "
                    f"{statistics.median(t.server_cpu):.0f} % | "
                    f"{statistics.median(r.gen_cpu_s / r.seconds * 100 for r in t.results):.0f} % |"
                )
        for p in tmpdir.iterdir():
            p.unlink()
        tmpdir.rmdir()
    out.append("### `GET /api/agents` against a prebuilt body of the same bytes\n")
    out.extend(lines)
    out.append("")
    out.append("Load-generator headroom (the same generator against a 2-byte endpoint):\n")
    out.append("| endpoint | clients | req/s | p50 ms | p99 ms | server CPU | load-gen CPU |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    out.extend(trivial_lines)
    out.append("")
    return ratios


def stats_section(args: argparse.Namespace, gen: str, out: list[str]) -> dict[str, float]:
    path = Path(args.stats_db).resolve() if args.stats_db else cached_runs_db(args.runs, args.rebuild_cache)
    timings: dict[str, float] = {}
    if path is None:
        print(f"[stats] building the {args.runs:,}-run database (cached) ...", file=sys.stderr, flush=True)
        path, timings = asyncio.run(build_runs_db(args.runs))
    token = asyncio.run(new_token(path))
    today = datetime.now(UTC).date()
    first_day = today - timedelta(days=29)
    first_ms = int(datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC).timestamp() * 1000)
    gb_times, gb_rows, plan = group_by_baseline(path, first_ms, max(3, args.reps * 2 - 1))
    proc = bench_server("product", db=str(path))
    try:
        answer = httpx.get(
            f"http://{HOST}:{proc.port}/api/agents/stats?period=30d",
            headers={"Authorization": f"Bearer {token}"},
        )
        body_bytes = len(answer.content)
        got = answer.json()["data"]
        sql_total = sum(r[1] for r in gb_rows)
        sql_skipped = sum(r[3] for r in gb_rows)
        assert got["runsInPeriod"] == sql_total, (got["runsInPeriod"], sql_total)
        assert got["skippedRuns"] == sql_skipped, (got["skippedRuns"], sql_skipped)
        assert len(got["dailyRuns"]) == 30 and got["totalAgents"] == 1000
        cell = Cell()
        measure(gen, proc, "/api/agents/stats?period=30d", token, 1, args.warmup)
        for rep in range(args.reps):
            print(f"[stats] rep {rep + 1}/{args.reps}", file=sys.stderr, flush=True)
            measure(gen, proc, "/api/agents/stats?period=30d", token, 1, args.seconds, cell)
    finally:
        proc.stop()
    size = path.stat().st_size / 1024**2
    out.append(f"### Global stats, 30 days, over {args.runs:,} runs (60 days, 1,000 agents)\n")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    out.append(
        f"Database `{shown}` ({size:,.0f} MiB); "
        f"`runsInPeriod` = {got['runsInPeriod']:,}, `skippedRuns` = {got['skippedRuns']:,} "
        "(checked equal to the GROUP BY below).\n"
    )
    out.append("| what | body | p50 ms | p99 ms | req/s | server CPU | target |")
    out.append("|---|---:|---:|---:|---:|---:|---|")
    p50 = cell.med("p50_ms")
    out.append(
        f"| `GET /api/agents/stats?period=30d` (HTTP, 1 client, rollups; `costByAgent`: "
        f"{len(got['costByAgent']):,} agents) | {body_bytes:,} B | {fmt(p50)} | "
        f"{fmt(cell.med('p99_ms'))} | {fmt(cell.med('rps'), 0)} | "
        f"{statistics.median(cell.server_cpu):.0f} % | < 10 ms p50: "
        f"{'**met**' if p50 < 10 else '**missed**'} |"
    )
    out.append(
        f"| baseline: `GROUP BY` day over `runs`, 30 days (sqlite3 in-process, "
        f"{len(gb_times)} runs) | | {fmt(statistics.median(gb_times), 1)} | "
        f"max {fmt(max(gb_times), 1)} | | | |"
    )
    out.append(f"\nBaseline query plan: `{plan}`.\n")
    if timings:
        out.append(
            "Database build (once, then cached): "
            + "; ".join(f"{k} {v:.1f} s" for k, v in timings.items())
            + ".\n"
        )
    return {"stats p50 ms": p50, "group-by p50 ms": statistics.median(gb_times)}


def write_section(args: argparse.Namespace, out: list[str]) -> dict[str, float]:
    passes: list[WritePathResult] = []
    server_cpu: list[float] = []
    for rep in range(args.reps):
        tmpdir = Path(tempfile.mkdtemp(prefix="bench-writes-"))
        db = tmpdir / "bench.db"
        token = asyncio.run(build_agents(db, 0))
        proc = bench_server("product", db=str(db))
        print(
            f"[writes] rep {rep + 1}/{args.reps}: {args.write_clients} clients, {args.write_creates} creates",
            file=sys.stderr,
            flush=True,
        )
        try:
            cpu0 = proc.cpu_seconds()
            passes.append(run_write_path(HOST, proc.port, token, args.write_clients, args.write_creates))
            server_cpu.append((proc.cpu_seconds() - cpu0) / passes[-1].seconds * 100)
        finally:
            proc.stop()
            for p in tmpdir.iterdir():
                p.unlink()
            tmpdir.rmdir()
        r = passes[-1]
        print(
            f"[writes]   {r.rps:,.0f} req/s, server CPU {server_cpu[-1]:.0f} %, {r.errors} errors "
            f"({r.stale_404} 404 after create, {r.ghost_creates} created though refused), "
            f"listed {r.listed_after}",
            file=sys.stderr,
            flush=True,
        )
    out.append(
        f"### Write path: {args.write_clients} concurrent clients, {args.write_creates} creates "
        "(create → get by id → patch → list → stats)\n"
    )
    out.append(
        "| pass | req/s | server CPU | creates answered 200 | non-2xx | created though refused | "
        "404 after create | not listed at once | connections lost | listed after the load | "
        "seconds |"
    )
    out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, (r, cpu) in enumerate(zip(passes, server_cpu, strict=True), 1):
        out.append(
            f"| {i} | {fmt(r.rps, 0)} | {cpu:.0f} % | {r.created} of {args.write_creates} | "
            f"{r.non_2xx()} | {r.ghost_creates} | {r.stale_404} | {r.missing_from_list} | "
            f"{r.transport_errors} | {r.listed_after} of {args.write_creates} | "
            f"{fmt(r.seconds, 1)} |"
        )
    out.append("\nLatency per operation, all passes pooled:\n")
    out.append("| operation | requests | p50 ms | p99 ms | non-2xx (by status) |")
    out.append("|---|---:|---:|---:|---|")
    for op in OPERATIONS:
        lat = [x for r in passes for x in r.latencies_ms[op]]
        bad: Counter[int] = Counter()
        for r in passes:
            bad.update({status: n for status, n in r.statuses[op].items() if not 200 <= status < 300})
        bad_text = ", ".join(f"{status}: {n}" for status, n in sorted(bad.items()))
        out.append(
            f"| {op} | {len(lat):,} | {fmt(percentile(lat, 0.5))} | {fmt(percentile(lat, 0.99))} | "
            f"{bad_text or '0'} |"
        )
    errors = sum(r.errors for r in passes)
    create_p99 = percentile([x for r in passes for x in r.latencies_ms["create"]], 0.99)
    out.append(
        f"\nTargets: 0 errors: {'**met**' if errors == 0 else f'**missed** ({errors})'}; "
        f"create p99 < 100 ms: {'**met**' if create_p99 < 100 else '**missed**'} "
        f"({fmt(create_p99)} ms).\n"
    )
    return {
        "write path errors": float(errors),
        "write path create p99 ms": create_p99,
        "write path req/s": statistics.median(r.rps for r in passes),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1 repetition of 2 s, 100,000 runs")
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--seconds", type=float, default=5.0, help="duration of one cell")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--runs", type=int, default=1_000_000)
    p.add_argument("--agents", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--clients", type=int, nargs="+", default=[1, 10])
    p.add_argument("--only", choices=["agents", "stats", "writes"])
    p.add_argument("--write-clients", type=int, default=50, metavar="N")
    p.add_argument("--write-creates", type=int, default=600, metavar="N")
    p.add_argument("--rebuild-cache", action="store_true")
    p.add_argument(
        "--stats-db", metavar="PATH", help="measure stats on this database (e.g. a copy with a schema change)"
    )
    args = p.parse_args()
    if args.quick:
        args.seconds, args.reps, args.runs = 2.0, 1, 100_000
    gen = ("wrk" if have_wrk() else "python") if args.loadgen == "auto" else args.loadgen
    if gen == "wrk" and not have_wrk():
        p.error("wrk is not installed (apt-get install wrk)")
    started = datetime.now(UTC)
    out = [
        f"## API benchmark ({started:%Y-%m-%d %H:%M} UTC)\n",
        f"`{' '.join([Path(sys.executable).name, *sys.argv])}`; load generator: "
        f"{'wrk (1 thread, keep-alive)' if gen == 'wrk' else 'raw asyncio HTTP/1.1 keep-alive client'}; "
        f"{args.seconds:g} s per cell after a {args.warmup:g} s warm-up, median of {args.reps}; "
        f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; server: uvicorn "
        f"{__import__('uvicorn').__version__} ({_uvicorn_stack()}), "
        f"Starlette {__import__('starlette').__version__}.\n",
    ]
    summary: dict[str, float] = {}
    if args.only in (None, "agents"):
        summary |= agents_section(args, gen, out)
    if args.only in (None, "stats"):
        summary |= stats_section(args, gen, out)
    if args.only in (None, "writes"):
        summary |= write_section(args, out)
    out.append("### Targets\n")
    for k, v in summary.items():
        if "÷" in k:
            out.append(f"- {k}: {v:.0%} (target ≥ 80 %: {'met' if v >= 0.8 else 'MISSED'})")
        else:
            out.append(f"- {k}: {v:.2f}")
    text = "\n".join(out) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"api-{started:%Y%m%dT%H%M%S}.md").write_text(text)
    return 0


def _uvicorn_stack() -> str:
    parts = []
    for mod, name in (("uvloop", "uvloop"), ("httptools", "httptools")):
        try:
            __import__(mod)
            parts.append(name)
        except ImportError:
            pass
    return "auto: " + ("+".join(parts) if parts else "asyncio + h11")


if __name__ == "__main__":
    sys.exit(main())
