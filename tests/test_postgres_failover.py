"""Failover: three nodes on one PostgreSQL database, 100 agents firing every minute, one node
killed (SIGKILL) while its runs are going: every slot fires exactly once (0 duplicates, 0
missed), the next slots fire on time on the nodes left, and the dead node's runs end ``error``
"interrupted: the server stopped during this run" within its lease.

The nodes are real server processes (``bench/_cluster_node.py``: the real Server, scheduler,
runner, leases and API, a run's session being a sleep) on real time shifted so that a minute
boundary comes a few seconds after they are up.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.runner import INTERRUPTED
from app.server import free_port
from storage.postgres.db import split_url

ROOT = Path(__file__).resolve().parent.parent
AGENTS = 100
RUN_MS = 20_000
LEASE_SECONDS = 5.0
LEAD_MS = 25_000  # from now (real time) to the first slot
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]


class Node:
    def __init__(self, db: str, offset_ms: int, tmp: Path, n: int) -> None:
        self.port = free_port()
        self.log = tmp / f"node{n}.jsonl"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "_cluster_node.py"),
                "--db",
                db,
                "--port",
                str(self.port),
                "--log",
                str(self.log),
                "--workspaces",
                str(tmp / f"ws{n}"),
                "--offset-ms",
                str(offset_ms),
                "--run-ms",
                str(RUN_MS),
                "--max-runs",
                str(2 * AGENTS),
                "--lease-seconds",
                str(LEASE_SECONDS),
                "--renew-seconds",
                "1",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=(tmp / f"node{n}.err").open("w"),
            text=True,
        )
        self.server_id = ""

    def ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["READY"], f"node did not start: {line}"
        self.server_id = line[1]

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def wait_real(until_ms: int) -> None:
    await asyncio.sleep(max(0.0, until_ms / 1000 - time.time()))


async def test_a_killed_node_loses_no_slot_and_runs_none_twice(db_target: str, tmp_path: Path) -> None:
    token = subprocess.run(
        [sys.executable, "-m", "app", "token", "create", "--name", "ops", "--db", db_target],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()[-1]
    now = int(time.time() * 1000)
    slot1 = (now // 60_000 + 10) * 60_000  # node time
    offset = slot1 - (now + LEAD_MS)
    slot2 = slot1 + 60_000
    nodes = [Node(db_target, offset, tmp_path, n) for n in range(3)]
    try:
        for node in nodes:
            node.ready()
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{nodes[0].port}", headers=auth, timeout=30) as api:
            for i in range(AGENTS):
                body = {"name": f"a{i:03d}", "schedule": "* * * * *", "prompt": "p", "timezone": "UTC"}
                assert api.post("/api/agents", json=body).status_code == 200
        assert int(time.time() * 1000) + offset < slot1 - 3_000, "set-up took too long for the first slot"

        # The first slot fires; its runs go for RUN_MS. Kill the node that holds most of them.
        await wait_real(slot1 - offset + 4_000)
        dsn, schema = split_url(db_target)
        conn = await asyncpg.connect(dsn, server_settings={"search_path": schema or "public"})
        try:
            owners = Counter(
                r["owner"] for r in await conn.fetch("SELECT owner FROM runs WHERE status = 'running'")
            )
            assert sum(owners.values()) == AGENTS, owners
            victim = next(n for n in nodes if n.server_id == owners.most_common(1)[0][0])
            victim_runs = owners[victim.server_id]
            victim.proc.send_signal(signal.SIGKILL)
            killed_at = int(time.time() * 1000)
            victim.proc.wait()

            # Its runs end "interrupted" within its lease (and long before their RUN_MS).
            deadline = time.time() + LEASE_SECONDS + 10
            while time.time() < deadline:
                left = await conn.fetchval(
                    "SELECT count(*) FROM runs WHERE owner = $1 AND status = 'running'", victim.server_id
                )
                if left == 0:
                    break
                await asyncio.sleep(0.2)
            ended = await conn.fetch(
                "SELECT status, output, completed_at FROM runs WHERE owner = $1", victim.server_id
            )
            assert len(ended) == victim_runs
            assert {(r["status"], r["output"]) for r in ended} == {("error", INTERRUPTED)}
            assert max(r["completed_at"] for r in ended) - killed_at <= (LEASE_SECONDS + 5) * 1000

            # The second slot fires on the two nodes left, every run of it ends.
            await wait_real(slot2 - offset + RUN_MS + 6_000)
            rows = await conn.fetch("SELECT agent_id, scheduled_for, status, owner FROM runs")
        finally:
            await conn.close()
    finally:
        for node in nodes:
            node.stop()

    per_slot = Counter((r["agent_id"], r["scheduled_for"]) for r in rows)
    assert set(per_slot.values()) == {1}  # 0 duplicates
    assert {s for _, s in per_slot} == {slot1, slot2}
    assert len(per_slot) == 2 * AGENTS  # 0 missed
    second = [r for r in rows if r["scheduled_for"] == slot2]
    assert {r["status"] for r in second} == {"success"}
    assert victim.server_id not in {r["owner"] for r in second}

    records = [rec for node in nodes for rec in node.records()]
    enqueued = Counter(rec["run"] for rec in records if rec["kind"] == "enqueue")
    started = Counter(rec["run"] for rec in records if rec["kind"] == "start")
    assert len(enqueued) == 2 * AGENTS and set(enqueued.values()) == {1}  # each slot handed over once
    assert set(started.values()) == {1}  # no run started twice
    late = sorted(rec["at"] - slot2 for rec in records if rec["kind"] == "enqueue" and rec["at"] >= slot2)
    assert len(late) == AGENTS and late[-1] < 2_000, late[-5:]
