"""The dashboard in local mode stops like ``cronagents serve`` when told to (SIGTERM) or when its
terminal goes away (SIGHUP): the app exits, its embedded server stops, a running run is recorded
``cancelled: the server stopped`` and no process of the run is left.

Real parts only: ``python -m app`` in a pseudo-terminal (120x36), the real Claude Code CLI
against the fake Messages API, a real socket and a real database file, read after the exit.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.server import free_port
from tests.processes import TAG_ENV, tagged_processes

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXIT_WITHIN_SECONDS = 8.0
CANCELLED_BY_SHUTDOWN = "cancelled: the server stopped"
# Make the pseudo-terminal the child's controlling terminal before running the dashboard, so
# that closing the terminal hangs it up as closing a terminal window does.
WITH_CONTROLLING_TTY = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


@dataclass
class Terminal:
    """The master side of a pseudo-terminal, drained by a thread (a full pty blocks the app)."""

    fd: int
    output: bytearray = field(default_factory=bytearray)
    closed: bool = False

    def drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the other side is gone; EBADF: we closed it
                return
            if not chunk:
                return
            self.output.extend(chunk)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)


@dataclass
class Dashboard:
    proc: subprocess.Popen[bytes]
    terminal: Terminal
    url: str
    db: Path
    tag: str
    headers: dict[str, str]
    home: Path

    def log(self) -> str:
        return (self.home / "cronagents.log").read_text(encoding="utf-8")


def _token(db: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "app", "token", "create", "--name", "t", "--db", str(db)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def in_terminal(
    args: list[str], env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Terminal, threading.Thread]:
    """``python -m app ARGS`` in a new 120x36 pseudo-terminal, its controlling terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", WITH_CONTROLLING_TTY, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    terminal = Terminal(master)
    reader = threading.Thread(target=terminal.drain, name="pty-reader", daemon=True)
    reader.start()
    return proc, terminal, reader


def assert_left_the_alternate_screen(terminal: Terminal) -> None:
    time.sleep(0.2)  # let the reader take the last bytes
    screen = bytes(terminal.output)
    assert b"\x1b[?1049h" in screen, "the dashboard never drew"
    assert screen.rfind(b"\x1b[?1049l") > screen.rfind(b"\x1b[?1049h"), (
        "the terminal was left on the dashboard's alternate screen"
    )


@pytest.fixture
def dashboard(tmp_path: Path, fake_anthropic: Any, run_tag: str) -> Iterator[Dashboard]:
    """``cronagents --db x.db --port P`` running in a 120x36 pseudo-terminal, its API up."""
    db = tmp_path / "x.db"
    home = tmp_path / "home"
    env = {
        **os.environ,
        **fake_anthropic.env(tmp_path / "agent"),
        TAG_ENV: run_tag,
        "CRONAGENTS_HOME": str(home),
        "TERM": "xterm-256color",
        "PYTHONPATH": str(ROOT),
    }
    token = _token(db, env)
    port = free_port()
    proc, terminal, reader = in_terminal(["--db", str(db), "--port", str(port)], env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the dashboard exited: {bytes(terminal.output)[-2000:]!r}"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the embedded API did not come up"
            time.sleep(0.1)
        yield Dashboard(proc, terminal, url, db, run_tag, {"Authorization": f"Bearer {token}"}, home)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid, _ in tagged_processes(run_tag):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        terminal.close()
        reader.join(timeout=5)


def start_slow_run(dash: Dashboard) -> str:
    """A run streaming for a minute, ``running`` with its CLI process up."""
    with httpx.Client(base_url=dash.url, headers=dash.headers, timeout=10) as http:
        created = http.post(
            "/api/agents",
            json={"name": "slow", "schedule": "@daily", "prompt": "[[fake:slow]] take your time"},
        )
        assert created.status_code == 200, created.text
        agent_id = created.json()["data"]["id"]
        started = http.post(f"/api/agents/{agent_id}/run")
        assert started.status_code == 200, started.text
        run_id = str(started.json()["runId"])
        deadline = time.monotonic() + 30
        while True:
            run = http.get(f"/api/agents/{agent_id}/runs/{run_id}").json()["data"]
            if run["status"] == "running" and tagged_processes(dash.tag):
                return run_id
            assert run["status"] in ("queued", "running"), run
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.1)


def wait_exit(proc: subprocess.Popen[bytes], log: Path | None = None) -> tuple[int, float]:
    started = time.monotonic()
    try:
        code = proc.wait(timeout=EXIT_WITHIN_SECONDS + 20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the dashboard did not exit{_diagnosis(proc, log)}")
    return code, time.monotonic() - started


def _diagnosis(proc: subprocess.Popen[bytes], log: Path | None) -> str:
    """Where a stuck dashboard is: its threads' stacks (py-spy, if installed) and its log's end."""
    text = ""
    if shutil.which("py-spy"):
        dump = subprocess.run(
            ["py-spy", "dump", "--pid", str(proc.pid)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        text += f"\n--- py-spy dump ---\n{dump.stdout}{dump.stderr}"
    if log is not None and log.exists():
        text += "\n--- log ---\n" + "\n".join(log.read_text(encoding="utf-8").splitlines()[-40:])
    return text


def recorded_run(db: Path, run_id: str) -> tuple[str, str | None]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status, output FROM runs WHERE id = ?", (run_id,)).fetchone()
    assert row is not None
    return str(row[0]), row[1]


def test_sigterm_stops_the_dashboard_and_cancels_its_run(dashboard: Dashboard) -> None:
    run_id = start_slow_run(dashboard)
    dashboard.proc.send_signal(signal.SIGTERM)
    code, took = wait_exit(dashboard.proc, dashboard.home / "cronagents.log")
    assert code == 0, bytes(dashboard.terminal.output)[-2000:]
    assert took < EXIT_WITHIN_SECONDS, f"took {took:.1f} s to stop"
    assert recorded_run(dashboard.db, run_id) == ("cancelled", CANCELLED_BY_SHUTDOWN)
    assert tagged_processes(dashboard.tag) == []
    assert_left_the_alternate_screen(dashboard.terminal)


def test_closing_the_terminal_stops_the_dashboard_and_cancels_its_run(dashboard: Dashboard) -> None:
    """Closing the terminal window: the kernel hangs the terminal up and sends SIGHUP."""
    run_id = start_slow_run(dashboard)
    dashboard.terminal.close()
    code, took = wait_exit(dashboard.proc, dashboard.home / "cronagents.log")
    assert code == 0
    assert "received SIGHUP, shutting down" in dashboard.log()
    assert took < EXIT_WITHIN_SECONDS, f"took {took:.1f} s to stop"
    assert recorded_run(dashboard.db, run_id) == ("cancelled", CANCELLED_BY_SHUTDOWN)
    assert tagged_processes(dashboard.tag) == []


def test_sighup_stops_the_dashboard_and_cancels_its_run(dashboard: Dashboard) -> None:
    run_id = start_slow_run(dashboard)
    dashboard.proc.send_signal(signal.SIGHUP)
    code, took = wait_exit(dashboard.proc, dashboard.home / "cronagents.log")
    assert code == 0
    assert took < EXIT_WITHIN_SECONDS, f"took {took:.1f} s to stop"
    assert recorded_run(dashboard.db, run_id) == ("cancelled", CANCELLED_BY_SHUTDOWN)
    assert tagged_processes(dashboard.tag) == []


def test_sigterm_closes_a_remote_dashboard_cleanly(tmp_path: Path) -> None:
    """``tui --remote``, here with its server unreachable (it shows a banner and keeps retrying)."""
    env = {
        **os.environ,
        "CRONAGENTS_HOME": str(tmp_path / "home"),
        "TERM": "xterm-256color",
        "PYTHONPATH": str(ROOT),
        "CRONAGENTS_TOKEN": "ca_not_checked_while_unreachable",
    }
    proc, terminal, reader = in_terminal(["tui", "--remote", f"http://127.0.0.1:{free_port()}"], env)
    try:
        deadline = time.monotonic() + 60
        while b"reconnecting" not in terminal.output:
            assert proc.poll() is None, f"the dashboard exited: {bytes(terminal.output)[-2000:]!r}"
            assert time.monotonic() < deadline, "the dashboard never showed its banner"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        code, took = wait_exit(proc)
        assert code == 0
        assert took < EXIT_WITHIN_SECONDS, f"took {took:.1f} s to stop"
        assert_left_the_alternate_screen(terminal)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        terminal.close()
        reader.join(timeout=5)
