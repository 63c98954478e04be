"""``cronagents doctor`` as a user runs it (a real subprocess, the real bundled CLI), and its checks."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import doctor
from app.doctor import Context, Finding, run_checks
from app.server import free_port

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-ant-api03-" + "S3CRET" * 15
NO_CREDENTIALS = {
    "ANTHROPIC_API_KEY": "",
    "ANTHROPIC_AUTH_TOKEN": "",
    "CLAUDE_CODE_OAUTH_TOKEN": "",
    "CLAUDE_CODE_USE_BEDROCK": "",
    "CLAUDE_CODE_USE_VERTEX": "",
    "CLAUDE_CODE_USE_FOUNDRY": "",
    "ANTHROPIC_BASE_URL": "",
}


@pytest.fixture
def user(tmp_path: Path) -> dict[str, str]:
    """A user with no credentials at all, in a known time zone."""
    home = tmp_path / "user"
    (home / ".claude").mkdir(parents=True)
    return {
        **NO_CREDENTIALS,
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "TZ": "Europe/Paris",
        "CRONAGENTS_STATS_TZ": "",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def run_doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "doctor", "--port", str(free_port()), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def lines(out: subprocess.CompletedProcess[str], topic: str) -> list[str]:
    return [line for line in out.stdout.splitlines() if line[6:].startswith(topic)]


def test_no_credentials_fails_and_says_how_to_log_in(user: dict[str, str]) -> None:
    out = run_doctor(user)
    assert out.returncode == 1, out.stdout + out.stderr
    [credentials] = lines(out, "credentials")
    assert credentials.startswith("FAIL") and "none found" in credentials and "not logged in" in credentials
    fix = out.stdout.split(credentials, 1)[1].splitlines()[1]
    assert "fix:" in fix and "cronagents login" in fix and "ANTHROPIC_API_KEY" in fix
    assert "CLAUDE_CODE_OAUTH_TOKEN" in fix
    for topic in ("versions", "claude cli", "database", "port", "time zone", "files"):
        assert all(line.startswith("ok") for line in lines(out, topic)), (topic, out.stdout)
    [cli] = lines(out, "claude cli")
    assert "(Claude Code)" in cli
    assert "Europe/Paris" in lines(out, "time zone")[0]


def test_an_api_key_is_named_never_shown_and_all_is_well(user: dict[str, str]) -> None:
    out = run_doctor({**user, "ANTHROPIC_API_KEY": API_KEY})
    assert out.returncode == 0, out.stdout + out.stderr
    [credentials] = lines(out, "credentials")
    assert credentials.startswith("ok") and "ANTHROPIC_API_KEY" in credentials
    assert "sk-ant-api03-…" in credentials and "the CLI says: logged in" in credentials
    assert "S3CRET" not in out.stdout + out.stderr


def test_a_stored_subscription_login_is_found(user: dict[str, str]) -> None:
    login = {
        "claudeAiOauth": {
            "accessToken": "sk-ant-oat01-" + "T0KEN" * 10,
            "refreshToken": "sk-ant-ort01-" + "R" * 20,
            "expiresAt": int((time.time() + 3600) * 1000),
            "subscriptionType": "pro",
            "scopes": ["user:inference", "user:profile"],
        }
    }
    Path(user["CLAUDE_CONFIG_DIR"], ".credentials.json").write_text(json.dumps(login))
    out = run_doctor(user)
    assert out.returncode == 0, out.stdout + out.stderr
    [credentials] = lines(out, "credentials")
    assert "a Claude subscription login (pro)" in credentials and "claude.ai" in credentials
    assert "T0KEN" not in out.stdout


def test_a_database_readable_by_others_fails_with_the_chmod(user: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "data" / "c.db"
    db.parent.mkdir(mode=0o700)
    db.write_bytes(b"")
    db.chmod(0o644)
    out = run_doctor({**user, "ANTHROPIC_API_KEY": API_KEY}, "--db", str(db))
    assert out.returncode == 1
    database = lines(out, "database")[0]
    assert database.startswith("FAIL") and "0644" in database
    assert f"chmod 600 {db}" in out.stdout
    db.chmod(0o600)
    out = run_doctor({**user, "ANTHROPIC_API_KEY": API_KEY}, "--db", str(db))
    assert out.returncode == 0 and lines(out, "database") == [
        f"ok    database     {db} (0600)",
        "ok    database     sqlite, no schema yet (made at the first start)",
    ]


def test_a_database_in_a_missing_directory_fails(user: dict[str, str], tmp_path: Path) -> None:
    out = run_doctor({**user, "ANTHROPIC_API_KEY": API_KEY}, "--db", str(tmp_path / "nope" / "c.db"))
    assert out.returncode == 1 and "does not exist" in lines(out, "database")[0]
    assert not (tmp_path / "nope").exists()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_taken_port_given_explicitly_fails(busy_port: int) -> None:
    ctx = Context(db="x.db", db_explicit=False, port=busy_port, port_explicit=True)
    [finding] = list(doctor.port(ctx))
    assert finding.status == "fail" and f"port {busy_port} is taken" in finding.message
    assert finding.fix is not None and "--port" in finding.fix
    ctx.port_explicit = False  # the default port: the dashboard would pick another
    [finding] = list(doctor.port(ctx))
    assert finding.status == "warn" and "`serve` cannot" in finding.message


async def test_a_port_taken_by_a_running_cronagents_is_fine(live_url: str) -> None:
    port = int(live_url.rsplit(":", 1)[1])
    ctx = Context(db="x.db", db_explicit=False, port=port, port_explicit=True)
    [finding] = await asyncio.to_thread(lambda: list(doctor.port(ctx)))  # the server answers meanwhile
    assert finding.status == "ok" and "running cronagents server" in finding.message


def test_an_unknown_time_zone_is_a_warning_with_its_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Mars/Olympus_Mons")
    monkeypatch.setenv("CRONAGENTS_STATS_TZ", "Nowhere/Else")
    ctx = Context(db="x.db", db_explicit=False, env=dict(os.environ))
    findings = list(doctor.time_zone(ctx))
    warnings = [f for f in findings if f.status == "warn"]
    assert len(warnings) == 2 and all(f.fix for f in warnings)
    assert "Mars/Olympus_Mons" in warnings[0].message and "Nowhere/Else" in warnings[1].message


def test_a_config_file_at_the_old_place_is_read_and_a_move_suggested(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CRONAGENTS_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    old = tmp_path / "data" / "cronagents" / "config.toml"
    old.parent.mkdir(parents=True)
    old.write_text("[keymap]\n")
    (old.parent / "cronagents.log").write_text("old lines\n")
    findings = list(doctor.files(Context(db="x.db", db_explicit=False)))
    assert findings[0].status == "warn" and str(old) in findings[0].message
    assert findings[0].fix == f"move it to {tmp_path / 'config' / 'cronagents' / 'config.toml'}"
    assert any("no longer written" in f.message for f in findings)


def test_checks_are_a_list_to_extend_and_any_failure_exits_1() -> None:
    def fine(ctx: Context) -> list[Finding]:
        return [Finding("ok", "extra", "all good")]

    def broken(ctx: Context) -> list[Finding]:
        raise RuntimeError("boom")

    def needs_fixing(ctx: Context) -> list[Finding]:
        return [Finding("fail", "extra", "bad", "do this")]

    ctx = Context(db="x.db", db_explicit=False)
    out = io.StringIO()
    assert run_checks(ctx, out, [fine]) == 0
    assert out.getvalue() == "ok    extra        all good\n"
    out = io.StringIO()
    assert run_checks(ctx, out, [fine, needs_fixing]) == 1
    assert out.getvalue().splitlines()[1:] == ["FAIL  extra        bad", " " * 18 + "fix: do this"]
    out = io.StringIO()
    assert run_checks(ctx, out, [broken, fine]) == 1
    assert "the check failed" in out.getvalue() and "all good" in out.getvalue()
    assert doctor.check(fine) is fine and doctor.CHECKS[-1] is fine
    doctor.CHECKS.remove(fine)


def test_the_backend_and_schema_version_are_reported(user: dict[str, str], tmp_path: Path) -> None:
    """SQLite: a database made by this version is at its schema version; one newer fails."""
    import sqlite3

    from storage.migrations import MIGRATIONS

    env = {**user, "ANTHROPIC_API_KEY": API_KEY}
    db = tmp_path / "data" / "c.db"
    db.parent.mkdir(mode=0o700)
    token = subprocess.run(
        [sys.executable, "-m", "app", "token", "create", "--name", "Ann", "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        check=True,
    )
    assert token.returncode == 0
    out = run_doctor(env, "--db", str(db))
    assert f"ok    database     sqlite, schema version {len(MIGRATIONS)}" in lines(out, "database")
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    out = run_doctor(env, "--db", str(db))
    assert out.returncode == 1
    assert f"newer than this program ({len(MIGRATIONS)})" in lines(out, "database")[-1]


@pytest.mark.both_backends
def test_a_postgresql_database_is_reached_and_its_schema_reported(
    user: dict[str, str], db_target: Path | str, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("PostgreSQL")
    from storage.migrations import MIGRATIONS

    env = {**user, "ANTHROPIC_API_KEY": API_KEY}
    out = run_doctor(env, "--db", str(db_target))
    [server, schema] = lines(out, "database")
    assert server.startswith("ok") and "(PostgreSQL " in server
    assert schema == "ok    database     postgresql, no schema yet (made at the first start)"
    subprocess.run(
        [sys.executable, "-m", "app", "token", "create", "--name", "Ann", "--db", str(db_target)],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        check=True,
    )
    out = run_doctor(env, "--db", str(db_target))
    assert lines(out, "database")[1] == f"ok    database     postgresql, schema version {len(MIGRATIONS)}"
    out = run_doctor(env, "--db", "postgresql://root@127.0.0.1:1/test")
    assert out.returncode == 1
    assert "cannot reach PostgreSQL at 127.0.0.1:1/test: connection refused" in lines(out, "database")[0]
    assert "pg_isready" in out.stdout
