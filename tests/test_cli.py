"""The command line as a user runs it: real subprocesses, a real database file, a real socket."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server import free_port
from tests.processes import TAG_ENV, tagged_processes

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, db: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args, "--db", str(db)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=check,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_token_create_prints_the_token_alone_on_its_last_line(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    out = cli("token", "create", "--name", "Ada", db=db)
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("ca_") and len(token) > 30
    listing = cli("token", "list", db=db).stdout
    assert "Ada" in listing and "active" in listing
    assert token not in listing, "the full token must never be shown again"
    assert token[:10] in listing


def test_token_revoke_by_prefix_and_unknown_prefix(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    token = cli("token", "create", "--name", "Ada", db=db).stdout.strip().splitlines()[-1]
    assert "revoked 1" in cli("token", "revoke", token[:10], db=db).stdout
    assert "revoked" in cli("token", "list", db=db).stdout
    bad = cli("token", "revoke", "ca_nothere", db=db, check=False)
    assert bad.returncode == 1 and "no active token" in bad.stderr


def test_token_create_rejects_an_empty_name(tmp_path: Path) -> None:
    bad = cli("token", "create", "--name", "  ", db=tmp_path / "c.db", check=False)
    assert bad.returncode == 2 and "--name" in bad.stderr


def test_serve_refuses_a_public_address_while_no_token_exists(tmp_path: Path) -> None:
    out = cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--no-scheduler",
              db=tmp_path / "c.db", check=False)  # fmt: skip
    assert out.returncode == 2
    assert "refusing to listen on 0.0.0.0" in out.stderr
    assert "token create" in out.stderr


def start_serve(db: Path, port: int, env: dict[str, str] | None = None,
                ignore_sighup: bool = False) -> subprocess.Popen[str]:  # fmt: skip
    """``cronagents serve`` in its own process, answering on ``port`` (else the test fails)."""
    command = [sys.executable, "-m", "app", "serve", "--port", str(port), "--db", str(db)]
    if ignore_sighup:  # as nohup starts it: SIGHUP ignored across exec
        command = [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGHUP, "
                   "signal.SIG_IGN); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])",
                   *command[1:]]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"serve did not come up: {err}")
        time.sleep(0.1)


def stop_process(proc: subprocess.Popen[str]) -> str:
    """Kill ``proc`` if it still runs; its standard error."""
    if proc.poll() is None:
        proc.kill()
    _, err = proc.communicate()
    return err


@pytest.mark.slow
def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    token = cli("token", "create", "--name", "Ada", db=db).stdout.strip().splitlines()[-1]
    port = free_port()
    proc = start_serve(db, port)
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/api/agents").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{url}/api/agents", headers=auth, json={
            "name": "x", "schedule": "@daily", "prompt": "p"})  # fmt: skip
        assert created.status_code == 200, created.text
        assert created.json()["data"]["creator"]["name"] == "Ada"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        err = stop_process(proc)
    assert "shutting down" in err and "stopped" in err
    assert token not in err, "a token must never be logged"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_serve_stop_signal_records_the_running_run_cancelled(
    tmp_path: Path, fake_anthropic: Any, run_tag: str, sig: signal.Signals
) -> None:
    """SIGHUP (the terminal serve was started from is closed) stops it as SIGTERM does."""
    db = tmp_path / "c.db"
    token = cli("token", "create", "--name", "Ada", db=db).stdout.strip().splitlines()[-1]
    port = free_port()
    proc = start_serve(db, port, env={**fake_anthropic.env(tmp_path / "agent"), TAG_ENV: run_tag})
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}) as http:  # fmt: skip
            agent = http.post("/api/agents", json={"name": "slow", "schedule": "@daily",
                                                   "prompt": "[[fake:slow]]"}).json()["data"]  # fmt: skip
            run_id = http.post(f"/api/agents/{agent['id']}/run").json()["runId"]
            deadline = time.monotonic() + 30
            while not (tagged_processes(run_tag) and http.get(
                    f"/api/agents/{agent['id']}/runs/{run_id}").json()["data"]["status"] == "running"):
                assert time.monotonic() < deadline, "the run never got going"
                time.sleep(0.1)
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0
    finally:
        err = stop_process(proc)
    assert f"received {sig.name}, shutting down" in err
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status, output FROM runs WHERE id = ?", (run_id,)).fetchone()
    assert tuple(row) == ("cancelled", "cancelled: the server stopped")
    assert tagged_processes(run_tag) == []


@pytest.mark.slow
def test_serve_started_with_nohup_outlives_sighup(tmp_path: Path) -> None:
    port = free_port()
    proc = start_serve(tmp_path / "c.db", port, ignore_sighup=True)
    try:
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert proc.poll() is None, "a SIGHUP ignored at start (nohup) stopped the server"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop_process(proc)
