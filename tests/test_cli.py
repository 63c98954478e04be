"""The command line as a user runs it: real subprocesses, a real database file, a real socket."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.server import free_port

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


@pytest.mark.slow
def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    token = cli("token", "create", "--name", "Ada", db=db).stdout.strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--db", str(db)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
        assert httpx.get(f"{url}/api/agents").status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{url}/api/agents", headers=auth, json={
            "name": "x", "schedule": "@daily", "prompt": "p"})  # fmt: skip
        assert created.status_code == 200, created.text
        assert created.json()["data"]["creator"]["name"] == "Ada"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read() if proc.stderr else ""
    assert "shutting down" in err and "stopped" in err
    assert token not in err, "a token must never be logged"
