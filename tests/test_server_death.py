"""No agent acts after its server dies: ``kill -9`` of a real ``serve`` mid tool call.

The server is a real subprocess; its agent run is the real SDK and bundled CLI
against the fake Messages API, whose scripted Bash tool call is
``sleep N; touch FILE``. Once the ``sleep`` runs, the server gets SIGKILL (or
its whole process group does): within a few seconds no process of the run may
be left, and FILE must never appear.
"""

# The fixture is imported by name, so test parameters "redefine" it.
# ruff: noqa: F811

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.server import free_port
from tests.fake_anthropic import FakeAnthropic, fake_anthropic  # noqa: F401
from tests.processes import TAG_ENV, tagged_processes

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SLEEP_SECONDS = 6
GONE_WITHIN_SECONDS = 3.0


def _wait_until(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.05)


class LiveServer:
    """``python -m app serve`` in its own process group, its runs talking to the fake API."""

    def __init__(self, fake: FakeAnthropic, tmp_path: Path) -> None:
        self.tag = uuid.uuid4().hex
        self.db = tmp_path / "x.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Every variable of the server's environment reaches the agent's CLI.
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            **fake.env(tmp_path / "agent"),
            TAG_ENV: self.tag,
        }
        token = self._cli("token", "create", "--name", "t").stdout.strip().splitlines()[-1]
        self.auth = {"Authorization": f"Bearer {token}"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "serve",
                "--port",
                str(self.port),
                "--db",
                str(self.db),
                "--no-scheduler",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "serve.log").open("w"),
        )
        _wait_until(self._healthy, 30, "serve did not come up")

    def _cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args, "--db", str(self.db)],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    def _healthy(self) -> bool:
        assert self.proc.poll() is None, "serve exited"
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def post(self, path: str, body: object = None) -> dict[str, object]:
        response = httpx.post(f"{self.url}{path}", headers=self.auth, json=body, timeout=10)
        assert response.status_code == 200, response.text
        answer: dict[str, object] = response.json()
        return answer

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        # Never leave anything behind, whatever the test found.
        for pid, _ in tagged_processes(self.tag):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def live_server(fake_anthropic: FakeAnthropic, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(fake_anthropic, tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("whole_group", [False, True], ids=["server-pid", "process-group"])
def test_kill_9_mid_tool_call_leaves_no_process_and_no_side_effect(
    live_server: LiveServer, tmp_path: Path, whole_group: bool
) -> None:
    flag = tmp_path / "the agent acted after its server died"
    command = f"sleep {SLEEP_SECONDS}; touch '{flag}'"
    created = live_server.post(
        "/api/agents",
        {
            "name": "sleeper",
            "schedule": "@daily",
            "prompt": f"Run it. [[fake:bash]] [[command:{command}]]",
            "allowedTools": ["Bash"],
            "permissionMode": "dontAsk",
        },
    )
    agent = created["data"]
    assert isinstance(agent, dict)
    live_server.post(f"/api/agents/{agent['id']}/run")

    def sleeping() -> bool:
        return any(f"sleep {SLEEP_SECONDS}" in cmd for _, cmd in tagged_processes(live_server.tag))

    _wait_until(sleeping, 60, "the Bash tool call did not start")
    started = time.monotonic()
    if whole_group:
        os.killpg(live_server.proc.pid, signal.SIGKILL)
    else:
        live_server.proc.kill()
    live_server.proc.wait(timeout=5)

    deadline = started + GONE_WITHIN_SECONDS
    while tagged_processes(live_server.tag) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert tagged_processes(live_server.tag) == [], "processes of the run outlived the server"
    print(f"every process of the run gone {time.monotonic() - started:.2f} s after the kill")
    # Past the moment the tool call would have touched the file.
    time.sleep(max(0.0, started + SLEEP_SECONDS + 2 - time.monotonic()))
    assert not flag.exists(), "the agent's tool call ran to its end after the server died"
