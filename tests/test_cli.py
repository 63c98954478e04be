"""The command line as a user runs it: real subprocesses, a real database file, a real socket."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
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
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


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
    out = cli(
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        "--no-scheduler",
        db=tmp_path / "c.db",
        check=False,
    )
    assert out.returncode == 2
    assert "refusing to listen on 0.0.0.0" in out.stderr
    assert "token create" in out.stderr


def start_serve(
    db: Path, port: int, env: dict[str, str] | None = None, ignore_sighup: bool = False
) -> subprocess.Popen[str]:
    """``cronagents serve`` in its own process, answering on ``port`` (else the test fails)."""
    command = [sys.executable, "-m", "app", "serve", "--port", str(port), "--db", str(db)]
    if ignore_sighup:  # as nohup starts it: SIGHUP ignored across exec
        command = [
            sys.executable,
            "-c",
            "import os, signal, sys; signal.signal(signal.SIGHUP, "
            "signal.SIG_IGN); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])",
            *command[1:],
        ]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
    )
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
        created = httpx.post(
            f"{url}/api/agents", headers=auth, json={"name": "x", "schedule": "@daily", "prompt": "p"}
        )
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
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=10, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            agent = http.post(
                "/api/agents", json={"name": "slow", "schedule": "@daily", "prompt": "[[fake:slow]]"}
            ).json()["data"]
            run_id = http.post(f"/api/agents/{agent['id']}/run").json()["runId"]
            deadline = time.monotonic() + 30
            while not (
                tagged_processes(run_tag)
                and http.get(f"/api/agents/{agent['id']}/runs/{run_id}").json()["data"]["status"] == "running"
            ):
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


# --------------------------------------------------------------------------
# A command line that behaves: every option honoured or refused, bad values in one line


NO_CREDENTIALS = {  # an empty value counts as unset, for the CLI and for cronagents
    "ANTHROPIC_API_KEY": "",
    "ANTHROPIC_AUTH_TOKEN": "",
    "CLAUDE_CODE_OAUTH_TOKEN": "",
    "CLAUDE_CODE_USE_BEDROCK": "",
    "CLAUDE_CODE_USE_VERTEX": "",
    "CLAUDE_CODE_USE_FOUNDRY": "",
}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``cronagents args`` exactly as given (no --db added)."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def one_error_line(out: subprocess.CompletedProcess[str], *words: str) -> str:
    """The process exited 2 saying why in one line (no usage, no traceback)."""
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith("cronagents"), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def taken_port() -> tuple[Any, int]:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, int(sock.getsockname()[1])


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"cronagents {version('cronagents')}"


HEAVY = ("claude_agent_sdk", "uvicorn", "textual", "starlette", "httpx", "aiosqlite", "mcp")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["serve", "--help"],
        ["token", "create", "--help"],
        ["doctor", "--help"],
        ["login", "--help"],
        ["--version"],
    ],
)
def test_help_and_version_load_neither_the_sdk_nor_the_servers(args: list[str]) -> None:
    code = (
        "import sys\nfrom app.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        f"print('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"


def test_options_before_the_subcommand_are_honoured(tmp_path: Path) -> None:
    from app.cli import parse

    args = parse(["--db", "x.db", "--port", "9999", "--max-concurrent-runs", "7", "serve"])
    assert (args.db, args.port, args.max_concurrent_runs) == ("x.db", 9999, 7)
    args = parse(["--port", "9999", "serve", "--port", "9998"])
    assert args.port == 9998  # the later one wins, as with any repeated option
    assert parse(["--max-concurrent-runs", "3"]).max_concurrent_runs == 3  # the dashboard
    db = tmp_path / "before.db"
    token = run("--db", str(db), "token", "create", "--name", "Ada").stdout.strip().splitlines()[-1]
    assert token.startswith("ca_") and db.exists()
    assert "Ada" in run("token", "--db", str(db), "list").stdout


@pytest.mark.slow
def test_serve_listens_on_a_port_given_before_the_subcommand(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "c.db"),
            "serve",
            "--no-scheduler",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not listen on --port"
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop_process(proc)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "9999", "token", "list"], ["--port", "token"]),
        (["--max-concurrent-runs", "2", "token", "list"], ["--max-concurrent-runs", "token"]),
        (["--max-concurrent-runs", "2", "doctor"], ["--max-concurrent-runs", "doctor"]),
        (["--db", "x.db", "login"], ["--db", "login"]),
        (["tui", "--remote", "http://127.0.0.1:1", "--port", "9999"], ["--port", "--remote"]),
        (["--db", "x.db", "tui", "--remote", "http://127.0.0.1:1"], ["--db", "--remote"]),
        (["token", "list", "--port", "9999"], ["unrecognized", "--port"]),
    ],
)
def test_options_that_mean_nothing_to_the_command_are_refused(args: list[str], words: list[str]) -> None:
    one_error_line(run(*args), *words)


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "70000"],
        ["serve", "--port", "0"],
        ["serve", "--port", "http"],
        ["--port", "-1"],
        ["tui", "--port", "65536"],
    ],
)
def test_an_invalid_port_is_one_line_and_status_2(args: list[str]) -> None:
    one_error_line(run(*args), "--port", "port number (1-65535)")


@pytest.mark.parametrize("command", [["serve"], [], ["tui"]], ids=["serve", "dashboard", "tui"])
def test_a_taken_port_is_one_line_and_status_2(tmp_path: Path, command: list[str]) -> None:
    sock, port = taken_port()
    with sock:
        out = run(*command, "--port", str(port), "--db", str(tmp_path / "c.db"))
    one_error_line(out, f"port {port} is taken", "--port")
    assert not (tmp_path / "c.db").exists(), "nothing may start when the port is taken"


def test_a_host_that_is_not_ours_is_one_line_and_status_2(tmp_path: Path) -> None:
    one_error_line(run("serve", "--host", "nosuch.invalid", "--db", str(tmp_path / "c.db")), "--host")


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_max_concurrent_runs_below_1_is_refused(value: str) -> None:
    one_error_line(run("serve", "--max-concurrent-runs", value), "--max-concurrent-runs")
    one_error_line(run("--max-concurrent-runs", value), "--max-concurrent-runs")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_db_in_a_missing_directory_is_refused_and_nothing_is_created(tmp_path: Path, how: str) -> None:
    db = tmp_path / "missing" / "deeper" / "c.db"
    args, env = (["--db", str(db)], {}) if how == "flag" else ([], {"CRONAGENTS_DB": str(db)})
    for command in (["token", "list"], ["serve"], []):
        one_error_line(run(*command, *args, env=env), str(db.parent), "does not exist")
    assert not (tmp_path / "missing").exists()


def test_the_default_data_directory_is_still_made_private(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    out = run("token", "list", env={"CRONAGENTS_HOME": str(home)})
    assert out.returncode == 0, out.stderr
    assert (home / "cronagents.db").exists()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "cronagents.db").stat().st_mode) == 0o600


@pytest.mark.slow
def test_serve_warns_once_at_start_when_there_are_no_credentials(tmp_path: Path) -> None:
    claude = tmp_path / "claude-config"
    claude.mkdir()
    quiet = {"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(claude)}
    port = free_port()
    proc = start_serve(tmp_path / "c.db", port, env={**NO_CREDENTIALS, **quiet})
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        err = stop_process(proc)
    warnings = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "No Claude credentials" in warnings[0], err
    assert "cronagents login" in warnings[0] and "ANTHROPIC_API_KEY" in warnings[0]
    assert "cronagents doctor" in warnings[0]

    key = {"ANTHROPIC_API_KEY": "sk-ant-api03-" + "k" * 40}
    proc = start_serve(tmp_path / "c.db", free_port(), env={**NO_CREDENTIALS, **quiet, **key})
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        err = stop_process(proc)
    assert "WARNING" not in err and "k" * 40 not in err


def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "notes.txt"
    db.write_text("not a database, just some text that SQLite will refuse to open " * 4)
    out = run("token", "list", "--db", str(db))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    expected = f"cronagents: error: cannot open database {db}: file is not a database"
    assert out.stderr.strip().splitlines() == [expected]
