"""``cronagents doctor``: what a run needs, checked, each problem with its fix.

A check is a function of the :class:`Context` yielding :class:`Finding`s;
:data:`CHECKS` lists them in the order they print. A later feature adds its
own with the :func:`check` decorator (or by appending to :data:`CHECKS`).
The exit status is 1 when any finding is ``fail`` (something needs fixing),
else 0. Nothing secret is printed: credentials show as their kind, their
source and at most a masked prefix.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.metadata
import os
import sqlite3
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from app import claude_cli, config, credentials
from app.ports import PORT_FIX, listen_problem
from storage.backend import describe, is_postgres, sqlite_path
from storage.errors import StorageError
from storage.migrations import MIGRATIONS

__all__ = ["CHECKS", "Context", "Finding", "check", "run_checks"]

Status = Literal["ok", "warn", "fail"]
LABELS: dict[Status, str] = {"ok": "ok", "warn": "warn", "fail": "FAIL"}
ZONE_FILES = ("/etc/localtime", "/etc/timezone")


@dataclass(frozen=True)
class Finding:
    status: Status
    topic: str  # a word or two: "credentials", "database", ...
    message: str  # what was found
    fix: str | None = None  # what to do about it (required for warn and fail)

    def line(self) -> str:
        text = f"{LABELS[self.status]:<5} {self.topic:<12} {self.message}"
        return f"{text}\n{'':18}fix: {self.fix}" if self.fix else text


@dataclass
class Context:
    db: str  # the database as given (a path, or a URL)
    db_explicit: bool  # given by --db or CRONAGENTS_DB, rather than the default
    host: str = "127.0.0.1"
    port: int = 8787
    port_explicit: bool = False
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    cli: Path | None = None  # the bundled CLI, once found
    cli_started: bool = False


Check = Callable[[Context], Iterable[Finding]]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    """Add ``fn`` to the checks ``cronagents doctor`` runs (in definition order)."""
    CHECKS.append(fn)
    return fn


def run_checks(ctx: Context, out: TextIO = sys.stdout, checks: Iterable[Check] | None = None) -> int:
    """Print every finding as it comes; 1 if any is a failure, else 0."""
    failed = False
    for fn in CHECKS if checks is None else checks:
        try:
            findings = list(fn(ctx))
        except Exception as exc:  # a broken check is a finding, not a crash
            findings = [Finding("fail", fn.__name__, f"the check failed: {exc!r}", "report this as a bug")]
        for finding in findings:
            print(finding.line(), file=out, flush=True)
            failed = failed or finding.status == "fail"
    return 1 if failed else 0


# --------------------------------------------------------------------------
# The checks


def _version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@check
def versions(ctx: Context) -> Iterator[Finding]:
    yield Finding(
        "ok",
        "versions",
        f"cronagents {_version_of('cronagents')}, claude-agent-sdk {_version_of('claude-agent-sdk')}, "
        f"Python {sys.version.split()[0]}",
    )


@check
def bundled_cli(ctx: Context) -> Iterator[Finding]:
    cli = claude_cli.bundled_cli()
    if cli is None:
        yield Finding(
            "fail",
            "claude cli",
            "the Claude Code CLI bundled with claude-agent-sdk is missing",
            "reinstall it: pip install --force-reinstall claude-agent-sdk",
        )
        return
    ctx.cli = cli
    version, problem = claude_cli.version(cli)
    if problem:
        yield Finding(
            "fail",
            "claude cli",
            f"{cli} does not run: {problem}",
            "reinstall it (pip install --force-reinstall claude-agent-sdk); "
            f"run `{cli} --version` to see why",
        )
        return
    ctx.cli_started = True
    yield Finding("ok", "claude cli", f"{version} at {cli}")


@check
def claude_credentials(ctx: Context) -> Iterator[Finding]:
    report = credentials.find_credentials(ctx.env)
    status = claude_cli.auth_status(ctx.cli) if ctx.cli is not None and ctx.cli_started else None
    cli_says = ""
    if status is not None:
        method = status.get("authMethod")
        source = status.get("apiKeySource")
        cli_says = f"; the CLI says: {'logged in' if status.get('loggedIn') else 'not logged in'}" + (
            f" ({method}{', ' + str(source) if source else ''})" if status.get("loggedIn") else ""
        )
    for note in report.notes:
        yield Finding("warn", "credentials", note, "run `cronagents login`, or fix the file's permissions")
    logged_in = bool(status.get("loggedIn")) if status is not None else bool(report.found)
    if not report.found and not logged_in:
        yield Finding(
            "fail",
            "credentials",
            f"none found (not in the environment, nor in {report.config_dir}){cli_says}: "
            'agent runs fail with "Not logged in"',
            "run `cronagents login` (a browser login), or set ANTHROPIC_API_KEY; on a server "
            "without a browser, set CLAUDE_CODE_OAUTH_TOKEN to a token from `cronagents login --token`",
        )
        return
    if not logged_in:
        yield Finding(
            "fail",
            "credentials",
            f"found {report.found[0].line()}, but the CLI does not accept it{cli_says}",
            "run `cronagents login` again, or set ANTHROPIC_API_KEY",
        )
        return
    if not report.found:
        yield Finding("ok", "credentials", f"none found by cronagents itself{cli_says}")
        return
    first, *others = report.found
    yield Finding("ok", "credentials", f"{first.line()} (used){cli_says}")
    for other in others:
        yield Finding("ok", "credentials", f"{other.line()} (also present, not used)")
    if report.gateway:
        yield Finding("ok", "gateway", f"ANTHROPIC_BASE_URL: requests go to {report.gateway}")


SCHEMA_VERSION = len(MIGRATIONS)
POSTGRES_FIX = (
    "check the URL (postgresql://user[:password]@host[:port]/database), that the server answers "
    "(pg_isready -h HOST) and that the database exists (createdb NAME)"
)


@check
def database(ctx: Context) -> Iterator[Finding]:
    if is_postgres(ctx.db):
        yield from _postgres(ctx.db)
        return
    if "://" in ctx.db and not ctx.db.startswith("sqlite:"):
        scheme = ctx.db.split("://", 1)[0]
        yield Finding("fail", "database", f"{scheme}: not a database cronagents knows", POSTGRES_FIX)
        return
    path = sqlite_path(ctx.db)
    if not path.parent.is_dir():
        if ctx.db_explicit:
            yield Finding(
                "fail",
                "database",
                f"{path}: its directory {path.parent} does not exist",
                f"create it (mkdir -p {path.parent}) or pick another --db",
            )
        else:
            yield Finding("ok", "database", f"{path} (made, private, at the first start)")
        return
    if not path.exists():
        yield Finding("ok", "database", f"{path} (made, private, at the first start)")
        return
    yield from _private("database", path, 0o600)
    for sidecar in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if sidecar.exists():
            yield from _private("database", sidecar, 0o600, quiet=True)
    yield from _private("database", path.parent, 0o700, quiet=True)
    yield _sqlite_schema(path)


def _schema(backend: str, version: int) -> Finding:
    if version > SCHEMA_VERSION:
        return Finding(
            "fail",
            "database",
            f"{backend}, schema version {version}: newer than this program ({SCHEMA_VERSION})",
            "upgrade cronagents (pip install -U cronagents) on every node sharing the database",
        )
    if version == 0:
        return Finding("ok", "database", f"{backend}, no schema yet (made at the first start)")
    later = "" if version == SCHEMA_VERSION else f" (brought to {SCHEMA_VERSION} at the next start)"
    return Finding("ok", "database", f"{backend}, schema version {version}{later}")


def _sqlite_schema(path: Path) -> Finding:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return Finding("fail", "database", f"{path}: not a SQLite database ({exc})", "pick another --db")
    return _schema("sqlite", version)


def _postgres(url: str) -> Iterator[Finding]:
    from storage.postgres.db import inspect

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a fresh event loop, whoever calls
        try:
            version, server = pool.submit(asyncio.run, inspect(url)).result()
        except StorageError as exc:
            yield Finding("fail", "database", str(exc), POSTGRES_FIX)
            return
    yield Finding("ok", "database", f"{describe(url)} (PostgreSQL {server})")
    yield _schema("postgresql", version)


def _private(topic: str, path: Path, expected: int, quiet: bool = False) -> Iterator[Finding]:
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != os.getuid():
        yield Finding(
            "fail",
            topic,
            f"{path} belongs to another user (uid {info.st_uid})",
            "run cronagents as its owner",
        )
    elif mode & 0o077:
        yield Finding(
            "fail",
            topic,
            f"{path} is {mode:04o}, readable by others (expected {expected:04o})",
            f"chmod {expected:o} {path} (cronagents also tightens it at its next start)",
        )
    elif not os.access(path, os.R_OK | os.W_OK):
        yield Finding("fail", topic, f"{path} is not readable and writable", f"chmod u+rw {path}")
    elif not quiet:
        yield Finding("ok", topic, f"{path} ({mode:04o})")


@check
def port(ctx: Context) -> Iterator[Finding]:
    where = f"{ctx.host}:{ctx.port}"
    problem = listen_problem(ctx.host, ctx.port)
    if problem is None:
        yield Finding("ok", "port", f"{where} is free")
        return
    if _cronagents_answers(ctx.host, ctx.port):
        yield Finding("ok", "port", f"{where} is taken by a running cronagents server")
        return
    fix = f"stop what uses it, or {problem.fix}" if problem.fix == PORT_FIX else problem.fix
    if ctx.port_explicit or problem.fix != PORT_FIX:
        yield Finding("fail", "port", problem.reason, fix)
    else:  # the dashboard then picks a free port itself; only `serve` needs this one
        yield Finding("warn", "port", f"{problem.reason}; the dashboard picks another, `serve` cannot", fix)


def _cronagents_answers(host: str, port: int) -> bool:
    import httpx

    probe = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104 - not a bind
    if ":" in probe:
        probe = f"[{probe}]"
    try:
        answer = httpx.get(f"http://{probe}:{port}/healthz", timeout=2)
        return answer.status_code == 200 and answer.json() == {"status": "ok"}
    except (httpx.HTTPError, ValueError):
        return False


@check
def time_zone(ctx: Context) -> Iterator[Finding]:
    local = config.local_zone_name()
    stats = config.stats_zone_name()
    tz = ctx.env.get("TZ", "").lstrip(":")
    stats_env = ctx.env.get("CRONAGENTS_STATS_TZ", "")
    if tz and tz != local:
        yield Finding(
            "warn", "time zone", f"TZ={tz!r} is not a known zone; using {local}", "set TZ=Area/City"
        )
    if stats_env and stats_env != stats:
        yield Finding(
            "warn",
            "time zone",
            f"CRONAGENTS_STATS_TZ={stats_env!r} is not a known zone; stats use {stats}",
            "set CRONAGENTS_STATS_TZ=Area/City, or unset it",
        )
    if local == "UTC" and not tz and not any(Path(p).exists() for p in ZONE_FILES):
        yield Finding(
            "warn",
            "time zone",
            "the machine's zone could not be told; schedules and stats use UTC",
            "set TZ=Area/City (or give agents a timezone of their own)",
        )
        return
    yield Finding("ok", "time zone", f"{local} (stats: {stats})")


@check
def files(ctx: Context) -> Iterator[Finding]:
    conf = config.config_path()
    new_conf = config.config_dir() / config.CONFIG_FILE
    if conf != new_conf:
        yield Finding(
            "warn",
            "files",
            f"config {conf} is read from the old location",
            f"move it to {new_conf}",
        )
    else:
        yield Finding("ok", "files", f"config {conf}{'' if conf.exists() else ' (none; optional)'}")
    yield Finding("ok", "files", f"dashboard log {config.log_path()}")
    legacy = config.legacy_log_path()
    if legacy is not None:
        yield Finding("ok", "files", f"old log {legacy} is no longer written (delete it when you like)")
