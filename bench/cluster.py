"""Cluster benchmark: one node on SQLite, three nodes on one PostgreSQL, and three with one killed.

    python bench/cluster.py [--agents 10000] [--minutes 3] [--quick]

Each scenario starts fresh: a new SQLite file, or a new schema on the
PostgreSQL server (``CRONAGENTS_TEST_POSTGRES_URL``, else 127.0.0.1:5432
database ``test`` user ``root``), dropped after. N agents, all ``* * * * *``
(no catch-up), are written first; then the nodes start, each a real server
process (``bench/_cluster_node.py --hand-over-only``: the real scheduler, slot
claims, leases, change feed and API; a slot handed to the runner is logged,
not run, and marked ``success`` a few seconds later, as bench/scheduler.py
does), all on this machine over loopback, on real time shifted so the first
minute boundary comes once they are up. The scenarios run one after another.

Per scenario, over ``--minutes`` slots:

* fires / expected: distinct (agent, slot) handed over / (N x minutes); a
  duplicate is a second hand-over of an (agent, slot) or of a run; missed is
  an (agent, slot) never handed over. Both also checked in the database.
* lateness: the hand-over minus the slot time (p50 / p99 / max, ms).
* claims per second: slots handed over / the seconds from each minute
  boundary to its last hand-over, summed over the minutes.
* CPU per node: user + system seconds per minute of the measured window.

``kill``: the node that handed over most of minute 2's slots gets SIGKILL 30 s
into minute 2; minute 3 must fire on the two left, on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
MINUTE_MS = 60_000
TICKS = os.sysconf("SC_CLK_TCK")


def postgres_url() -> str:
    return os.environ.get("CRONAGENTS_TEST_POSTGRES_URL") or "postgresql://root@127.0.0.1:5432/test"


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / TICKS


async def write_agents(db: str, n: int) -> None:
    from storage.backend import open_storage
    from storage.postgres import PostgresStorage
    from storage.sqlite import SqliteStorage

    now = int(time.time() * 1000)
    cols = (
        "id",
        "name",
        "schedule",
        "prompt",
        "timezone",
        "starting_deadline_seconds",
        "created_at",
        "updated_at",
    )
    rows = [(f"agt_bench{i:06d}", f"agent {i}", "* * * * *", "noop", "UTC", None, now, now) for i in range(n)]
    async with open_storage(db) as store:
        if isinstance(store, PostgresStorage):
            marks = ", ".join(f"${i}" for i in range(1, len(cols) + 1))
            await store.db.executemany(f"INSERT INTO agents ({', '.join(cols)}) VALUES ({marks})", rows)
        else:
            assert isinstance(store, SqliteStorage)
            sql = f"INSERT INTO agents ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            await store.db.transaction(lambda conn: conn.executemany(sql, rows))


async def rows_per_slot(db: str, first: int, last: int) -> Counter[tuple[str, int]]:
    from storage.backend import open_storage
    from storage.postgres import PostgresStorage
    from storage.sqlite import SqliteStorage

    async with open_storage(db) as store:
        if isinstance(store, PostgresStorage):
            rows = await store.db.fetchall(
                "SELECT agent_id, scheduled_for FROM runs WHERE scheduled_for BETWEEN $1 AND $2", first, last
            )
        else:
            assert isinstance(store, SqliteStorage)
            rows = await store.db.fetchall(
                "SELECT agent_id, scheduled_for FROM runs WHERE scheduled_for BETWEEN ? AND ?", (first, last)
            )
    return Counter((r[0], r[1]) for r in rows)


async def drop_schema(url: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def free_port() -> int:
    from app.server import free_port as pick

    return pick("127.0.0.1")


class Node:
    def __init__(self, db: str, offset_ms: int, tmp: Path, n: int) -> None:
        self.log = tmp / f"node{n}.jsonl"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "_cluster_node.py"),
                *("--db", db, "--port", str(free_port()), "--log", str(self.log)),
                *("--workspaces", str(tmp / f"ws{n}"), "--offset-ms", str(offset_ms)),
                *("--hand-over-only", "--lease-seconds", "10", "--renew-seconds", "2"),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=(tmp / f"node{n}.err").open("w"),
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["READY"], f"node {n} did not start (see {tmp / f'node{n}.err'})"
        self.cpu0 = self.cpu1 = 0.0

    def records(self) -> list[dict[str, Any]]:
        text = self.log.read_text() if self.log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sleep_until_real(at_ms: float) -> None:
    time.sleep(max(0.0, at_ms / 1000 - time.time()))


def scenario(
    name: str, db: str, nodes: int, agents: int, minutes: int, kill: bool, lead_s: int
) -> dict[str, Any]:
    asyncio.run(write_agents(db, agents))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        now = int(time.time() * 1000)
        first = (now // MINUTE_MS + 10) * MINUTE_MS  # node time
        offset = first - (now + lead_s * 1000)
        last = first + (minutes - 1) * MINUTE_MS
        started = [Node(db, offset, tmp, i) for i in range(nodes)]
        killed: Node | None = None
        try:
            sleep_until_real(first - offset - 1_000)
            for node in started:
                node.cpu0 = cpu_seconds(node.proc.pid)
            window0 = time.monotonic()
            if kill:
                sleep_until_real(first + MINUTE_MS - offset + 30_000)
                handed = Counter(
                    i
                    for i, node in enumerate(started)
                    for rec in node.records()
                    if first + MINUTE_MS <= rec["at"] < first + 2 * MINUTE_MS
                )
                killed = started[handed.most_common(1)[0][0]]
                killed.cpu1 = cpu_seconds(killed.proc.pid)
                killed.proc.send_signal(signal.SIGKILL)
                killed.proc.wait()
            sleep_until_real(last - offset + 15_000)
            window = (time.monotonic() - window0) / 60
            for node in started:
                if node is not killed:
                    node.cpu1 = cpu_seconds(node.proc.pid)
            records = [
                {**rec, "node": i}
                for i, node in enumerate(started)
                for rec in node.records()
                if rec["kind"] == "enqueue"
            ]
            if os.environ.get("CLUSTER_BENCH_KEEP"):
                keep = Path(os.environ["CLUSTER_BENCH_KEEP"])
                keep.mkdir(parents=True, exist_ok=True)
                (keep / f"{name.replace(' ', '_').replace(',', '')}.json").write_text(
                    json.dumps({"first": first, "offset": offset, "records": records})
                )
                for i in range(nodes):
                    err = tmp / f"node{i}.err"
                    if err.exists():
                        (keep / f"{name.replace(' ', '_').replace(',', '')}_node{i}.err").write_text(
                            err.read_text()
                        )
        finally:
            for node in started:
                node.stop()
    rows = asyncio.run(rows_per_slot(db, first, last))
    measured = [r for r in records if first <= r["at"] < last + MINUTE_MS]
    per_slot = Counter((r["agent"], r["at"] // MINUTE_MS * MINUTE_MS) for r in measured)
    per_run = Counter(r["run"] for r in measured)
    lateness = sorted(r["at"] % MINUTE_MS for r in measured)
    bursts = sum(
        max((r["at"] - s for r in measured if s <= r["at"] < s + MINUTE_MS), default=0) / 1000
        for s in range(first, last + 1, MINUTE_MS)
    )
    expected = agents * minutes
    duplicates = sum(c - 1 for c in per_slot.values()) + sum(c - 1 for c in per_run.values())
    return {
        "scenario": name,
        "nodes": nodes,
        "agents": agents,
        "minutes": minutes,
        "expected": expected,
        "fires": len(per_slot),
        "ratio": len(per_slot) / expected,
        "duplicates": duplicates,
        "missed": expected - len(per_slot),
        "db_rows": sum(rows.values()),
        "db_duplicates": sum(c - 1 for c in rows.values()),
        "p50_ms": statistics.median(lateness) if lateness else float("nan"),
        "p99_ms": lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))] if lateness else float("nan"),
        "max_ms": lateness[-1] if lateness else float("nan"),
        "claims_per_s": len(measured) / bursts if bursts else float("nan"),
        "cpu_per_node": [
            round((n.cpu1 - n.cpu0) / window, 2) if n is not killed else f"{n.cpu1 - n.cpu0:.1f} s (killed)"
            for n in started
        ],
    }


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| scenario | fires / expected | duplicates | missed | p50 / p99 / max lateness (ms) "
        "| claims/s | CPU s/min per node |\n|---|---|---|---|---|---|---|"
    )
    lines = [
        f"| {r['scenario']} | {r['fires']:,} / {r['expected']:,} = {r['ratio']:.4f} | {r['duplicates']} "
        f"| {r['missed']} | {r['p50_ms']:.0f} / {r['p99_ms']:.0f} / {r['max_ms']:.0f} "
        f"| {r['claims_per_s']:,.0f} "
        f"| {', '.join(str(c) for c in r['cpu_per_node'])} |"
        for r in results
    ]
    return "\n".join([head, *lines])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--minutes", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="1,000 agents, 2 minutes (about 7 minutes in all)")
    p.add_argument("--only", choices=["sqlite", "pg", "kill"], action="append")
    args = p.parse_args()
    if args.quick:
        args.agents, args.minutes = 1_000, 2
    # Nodes plan every agent as they start (and store each next run time): the first minute boundary
    # comes once that is done on all of them, or the first minute measures the start-up.
    lead = 20 + 4 * (args.agents // 1_000)
    results = []
    for name in args.only or ["sqlite", "pg", "kill"]:
        with tempfile.TemporaryDirectory() as tmp:
            if name == "sqlite":
                db = str(Path(tmp) / "cluster.db")
                results.append(scenario("1 node, SQLite", db, 1, args.agents, args.minutes, False, lead))
            else:
                schema = f"bench_{uuid.uuid4().hex[:12]}"
                db = f"{postgres_url()}?schema={schema}"
                try:
                    label = "3 nodes, PostgreSQL" + (", one killed in minute 2" if name == "kill" else "")
                    minutes = max(args.minutes, 3) if name == "kill" else args.minutes
                    results.append(scenario(label, db, 3, args.agents, minutes, name == "kill", lead))
                finally:
                    asyncio.run(drop_schema(postgres_url(), schema))
        print(json.dumps(results[-1]), flush=True)
    print(table(results))


if __name__ == "__main__":
    main()
