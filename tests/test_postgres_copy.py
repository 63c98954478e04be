"""``cronagents db copy``: SQLite -> PostgreSQL -> SQLite with the real CLI, every table's rows
equal at each step; a non-empty target refused without --force; copied runs keep their
settled state (a server on the target re-settles and re-alerts nothing)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import auth
from app.server import ServerConfig, running
from storage.backend import open_storage
from storage.copy import TABLES
from storage.interface import Alert, NewDelivery, RunOutcome, Storage
from tests import sql
from tests.conftest import agent_body

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


async def dump(store: Storage) -> dict[str, list[tuple[Any, ...]]]:
    """Every copied table, rows in key order, numbers as floats (SQLite keeps 0 in a REAL column)."""
    out = {}
    for table, key in TABLES:
        rows = await sql.fetchall(store, f"SELECT * FROM {table} ORDER BY {', '.join(key)}")
        out[table] = [
            tuple(_plain(v) for k, v in zip(r.keys(), r, strict=True) if (table, k) != ("meta", "value"))
            for r in rows
            if not (table == "meta" and r["key"] == "database_id")
        ]
    return out


async def fill(cfg: ServerConfig) -> None:
    """A database as a server leaves it: a user and token, agents, finished and settled runs
    with transcripts, rollups, a channel, deliveries, settings, an alert state."""
    async with running(cfg) as server:
        await auth.create_token(server.store, "Ann")
        channel = await server.channels.create_channel(
            {"name": "Hook", "type": "webhook", "url": "http://127.0.0.1:9/hook"}
        )
        await server.store.settings.put({"notifyChannels": f'["{channel["id"]}"]'})
        for i in range(3):
            agent = await server.service.create_agent(agent_body(name=f"agent {i}"), None)
            for k in range(4):
                run_id = f"run_{i}_{k}"
                await server.store.runs.insert(
                    run_id, agent["id"], "running", 1_000 + k, owner=server.server_id
                )
                await server.store.runs.add_events(
                    run_id, [(1, 1_001 + k, "assistant_text", '{"text": "hi"}')]
                )
                status = "success" if k % 2 else "error"
                outcome = RunOutcome(status, f"ended {status}", 2_000 + k, cost_usd=0.25 * k, num_turns=k)
                await server.store.runs.finish(run_id, outcome, server.service.day_of)
                await server.settler.settle(run_id)
            delivery = NewDelivery(f"msg_{i}", channel["id"], "run.failed", "{}", agent["id"], f"run_{i}_0")
            await server.store.deliveries.raise_alerts(
                [Alert([delivery], once=(agent["id"], "x", "1"))], 3_000
            )
        assert not await server.store.runs.unsettled()


async def test_sqlite_to_postgresql_and_back_copies_every_row(
    server_config: ServerConfig, db_target: str, tmp_path: Path
) -> None:
    source = tmp_path / "source.db"
    await fill(dataclasses.replace(server_config, db_path=source))
    async with open_storage(source) as store:
        original = await dump(store)
    assert len(original["runs"]) == 12 and len(original["run_events"]) == 12 and original["deliveries"]

    result = cli("db", "copy", "--from", str(source), "--to", db_target)
    assert result.returncode == 0, result.stderr
    assert "counts checked" in result.stderr and "Traceback" not in result.stderr
    async with open_storage(db_target) as store:
        assert await dump(store) == original

    back = tmp_path / "back.db"
    result = cli("db", "copy", "--from", db_target, "--to", f"sqlite:{back}")
    assert result.returncode == 0, result.stderr
    async with open_storage(back) as store:
        assert await dump(store) == original


async def test_a_non_empty_target_is_refused_without_force(
    server_config: ServerConfig, db_target: str, tmp_path: Path
) -> None:
    source = tmp_path / "source.db"
    await fill(dataclasses.replace(server_config, db_path=source))
    assert cli("db", "copy", "--from", str(source), "--to", db_target).returncode == 0
    again = cli("db", "copy", "--from", str(source), "--to", db_target)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "cronagents: error: the target database is not empty: copy into an empty one, or give --force"
    )
    forced = cli("db", "copy", "--from", str(source), "--to", db_target, "--force")
    assert forced.returncode == 0, forced.stderr
    async with open_storage(source) as a, open_storage(db_target) as b:
        assert await dump(a) == await dump(b)
    missing = cli("db", "copy", "--from", str(tmp_path / "nope.db"), "--to", db_target)
    assert missing.returncode == 1 and "no database at" in missing.stderr


async def test_copied_runs_stay_settled_on_the_target(
    server_config: ServerConfig, db_target: str, tmp_path: Path
) -> None:
    source = tmp_path / "source.db"
    await fill(dataclasses.replace(server_config, db_path=source))
    assert cli("db", "copy", "--from", str(source), "--to", db_target).returncode == 0
    async with open_storage(db_target) as store:
        before = await dump(store)
    async with running(dataclasses.replace(server_config, db_path=db_target)) as server:
        await asyncio.sleep(1.0)  # its start-up work: settling what is unsettled, ending orphans
        after = await dump(server.store)
    assert after["runs"] == before["runs"]  # no run ended, retried or chained again
    # No alert raised again (a delivery's attempts may move: the deliverer tried it).
    assert [d[0] for d in after["deliveries"]] == [d[0] for d in before["deliveries"]]
    assert after["alert_state"] == before["alert_state"]
    assert after["daily_agent_stats"] == before["daily_agent_stats"]
