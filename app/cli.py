"""The ``cronagents`` command line.

    cronagents [--db PATH] [--port P]          the dashboard, local mode (embedded server)
    cronagents tui --remote URL                the dashboard attached to a headless server
    cronagents serve [--host H] [--port P]     the headless API server, scheduler and runner
    cronagents token create --name NAME        a new API token, printed once on the last line
    cronagents token list | revoke PREFIX
    cronagents login [--console | --token]     log the bundled Claude Code CLI in
    cronagents doctor                          check credentials, CLI, database, port, time zone
    cronagents db copy --from PATH_OR_URL --to PATH_OR_URL [--force]
                                               copy a whole database (SQLite <-> PostgreSQL)
    cronagents --version

``--db``, ``--port`` and ``--max-concurrent-runs`` may come before or after the
subcommand; one the subcommand has no use for is an error, never ignored. A bad
value (a port outside 1-65535 or taken, a run limit below 1, a ``--db`` whose
directory does not exist) is one line on standard error and exit status 2.

Only what the command needs is imported, when it runs: ``--help`` and
``--version`` answer without loading the SDK, uvicorn or Textual.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from app import config
from app.ports import DEFAULT_PORT, listen_problem, port_number
from storage.backend import describe, is_postgres, sqlite_path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_MAX_RUNS = 4
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Options the top-level parser takes for any subcommand, and the subcommands that use them
# (None: the dashboard, no subcommand).
SHARED_OPTIONS: dict[str, tuple[str, set[str | None]]] = {
    "db": ("--db", {None, "tui", "serve", "token", "doctor"}),
    "port": ("--port", {None, "tui", "serve", "doctor"}),
    "max_concurrent_runs": ("--max-concurrent-runs", {None, "tui", "serve"}),
}


class UsageError(Exception):
    """A command line that cannot be honoured: one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (and where to find help) rather than the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


class VersionAction(argparse.Action):
    """``--version``, read from the package metadata only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(f"cronagents {package_version()}")
        parser.exit(0)


def package_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("cronagents")
    except importlib.metadata.PackageNotFoundError:
        return "(unknown: not installed)"


def _port(text: str) -> int:
    try:
        return port_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_limit(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: at least 1 run at a time is needed")
    return value


def _add_shared(parser: argparse.ArgumentParser, *names: str) -> None:
    """The shared options, with no default: a value is in the namespace only when given,
    so one given after the subcommand never hides one given before it."""
    if "db" in names:
        parser.add_argument(
            "--db",
            default=argparse.SUPPRESS,
            metavar="PATH|URL",
            help="database: a SQLite file, or postgresql://user@host/db (env CRONAGENTS_DB)",
        )
    if "port" in names:
        parser.add_argument(
            "--port",
            type=_port,
            default=argparse.SUPPRESS,
            metavar="P",
            help=f"port of the API server (default {DEFAULT_PORT}; the dashboard picks a free one "
            "if the default is taken)",
        )
    if "max_concurrent_runs" in names:
        parser.add_argument(
            "--max-concurrent-runs",
            type=_run_limit,
            default=argparse.SUPPRESS,
            metavar="N",
            help=f"runs at once; more wait as 'queued' (default {DEFAULT_MAX_RUNS})",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="cronagents",
        description="Scheduled Claude agents: dashboard, API server and tokens. "
        "Without a command: the dashboard, with its own embedded server.",
    )
    parser.add_argument("--version", action=VersionAction, help="print the version and exit")
    _add_shared(parser, *SHARED_OPTIONS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the headless API server, scheduler and runner")
    _add_shared(serve, "db", "port", "max_concurrent_runs")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument(
        "--no-access-log", action="store_true", help="do not log a line per request (about 20%% more req/s)"
    )
    serve.add_argument(
        "--no-scheduler", action="store_true", help="serve the API and run agents by hand only"
    )

    tui = sub.add_parser("tui", help="open the dashboard (as without a command), or attach it to a server")
    _add_shared(tui, "db", "port", "max_concurrent_runs")
    tui.add_argument(
        "--remote", metavar="URL", help="attach to a headless server (token from CRONAGENTS_TOKEN)"
    )

    token = sub.add_parser("token", help="manage API tokens")
    _add_shared(token, "db")
    tsub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = tsub.add_parser("create", help="create a token (printed once)")
    _add_shared(create, "db")
    create.add_argument("--name", required=True, help="user the token belongs to")
    _add_shared(tsub.add_parser("list", help="list tokens (prefixes only)"), "db")
    revoke = tsub.add_parser("revoke", help="revoke a token by its prefix")
    _add_shared(revoke, "db")
    revoke.add_argument("prefix")

    login = sub.add_parser(
        "login",
        help="log in with the bundled Claude Code CLI (and how to on a server without a browser)",
    )
    how = login.add_mutually_exclusive_group()
    how.add_argument(
        "--console", action="store_true", help="log in to the Claude Console (API billing) instead"
    )
    how.add_argument(
        "--token",
        action="store_true",
        help="make a long-lived (1-year) subscription token to set as CLAUDE_CODE_OAUTH_TOKEN on a server",
    )

    db = sub.add_parser("db", help="database tools")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    copy = dbsub.add_parser(
        "copy", help="copy everything from one database to another (SQLite <-> PostgreSQL), servers stopped"
    )
    copy.add_argument("--from", dest="source", required=True, metavar="PATH|URL", help="the database to read")
    copy.add_argument("--to", dest="target", required=True, metavar="PATH|URL", help="the database to fill")
    copy.add_argument("--force", action="store_true", help="empty a target that holds data first")

    doctor = sub.add_parser("doctor", help="check credentials, the Claude CLI, database, port and time zone")
    _add_shared(doctor, "db", "port")
    doctor.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address serve would listen on ({DEFAULT_HOST})"
    )
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parsed and checked arguments; exits 2 with one line when they cannot be honoured."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check(args)
    except UsageError as exc:
        parser.error(str(exc))
    return args


def _check(args: argparse.Namespace) -> None:
    command: str | None = args.command
    for dest, (flag, used_by) in SHARED_OPTIONS.items():
        if hasattr(args, dest) and command not in used_by:
            raise UsageError(f"{flag} has no meaning for `cronagents {command}`")
    if getattr(args, "remote", None) is not None:
        for dest in ("db", "port", "max_concurrent_runs"):
            if hasattr(args, dest):
                flag = SHARED_OPTIONS[dest][0]
                raise UsageError(f"{flag} has no meaning with --remote (the remote server has its own)")
    args.port_explicit = hasattr(args, "port")
    if not args.port_explicit:
        args.port = DEFAULT_PORT
    if not hasattr(args, "max_concurrent_runs"):
        args.max_concurrent_runs = DEFAULT_MAX_RUNS
    args.db_explicit = hasattr(args, "db") or bool(os.environ.get("CRONAGENTS_DB"))
    if not hasattr(args, "db"):
        args.db = None
    if command in (None, "tui", "serve", "token") and getattr(args, "remote", None) is None:
        _check_db(args)


def _check_db(args: argparse.Namespace) -> None:
    """A database chosen by --db or CRONAGENTS_DB must lie in an existing directory (the
    default one's directory is made, 0700, at start)."""
    raw = args.db or os.environ.get("CRONAGENTS_DB", "")
    if not raw or is_postgres(raw):
        return
    if "://" in raw and not raw.startswith("sqlite:"):
        scheme = raw.split("://", 1)[0]
        source = "--db" if args.db else "CRONAGENTS_DB"
        raise UsageError(
            f"{source}: unknown database URL scheme {scheme!r} (a path, sqlite:PATH or postgresql://)"
        )
    source = "--db" if args.db else "CRONAGENTS_DB"
    path = sqlite_path(db_path(args))
    if path.is_dir():
        raise UsageError(f"database {path} is a directory; {source} takes a file")
    if not path.parent.is_dir():
        raise UsageError(
            f"the directory of database {path} does not exist: create it first, or pick another {source}"
        )


def db_path(args: argparse.Namespace) -> Path | str:
    """The database chosen: a SQLite file's path, or a ``postgresql://`` URL as given."""
    if not args.db:
        return config.default_db_path()
    return str(args.db) if is_postgres(args.db) else sqlite_path(args.db)


def _fail(message: str, status: int = 2) -> int:
    print(f"cronagents: error: {message}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import asyncio

    from app.errors import ConfigError
    from storage import StorageError

    try:
        if args.command == "serve":
            problem = listen_problem(args.host, args.port)
            if problem is not None:
                return _fail(f"cannot serve: {problem}")
            return asyncio.run(serve(args))
        if args.command == "token":
            return asyncio.run(token_command(args))
        if args.command == "login":
            from app.login import login

            return login(to_console=args.console, long_lived_token=args.token)
        if args.command == "doctor":
            return doctor(args)
        if args.command == "db":
            from app.db_copy import copy_command

            return asyncio.run(copy_command(args.source, args.target, args.force))
        return dashboard(args)
    except StorageError as exc:
        return _fail(str(exc), 1)
    except ConfigError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


def dashboard(args: argparse.Namespace) -> int:
    remote = getattr(args, "remote", None)
    port: int | None = None
    if remote is None and args.port_explicit:
        problem = listen_problem(DEFAULT_HOST, args.port)
        if problem is not None:
            return _fail(f"cannot start the dashboard's server: {problem}")
        port = args.port
    from app.tui_main import run_dashboard

    return int(run_dashboard(db_path(args), port, remote, args.max_concurrent_runs))


def doctor(args: argparse.Namespace) -> int:
    from app.doctor import Context, run_checks

    target = str(args.db) if args.db else str(config.default_db_path())
    ctx = Context(
        db=target,
        db_explicit=args.db_explicit,
        host=args.host,
        port=args.port,
        port_explicit=args.port_explicit,
    )
    return run_checks(ctx)


async def token_command(args: argparse.Namespace) -> int:
    from app import auth
    from app.timeutil import iso, now_ms
    from storage.backend import open_storage

    async with open_storage(db_path(args)) as store:
        if args.token_command == "create":
            name = args.name.strip()
            if not name or len(name) > 200:
                print("error: --name must be 1-200 characters", file=sys.stderr)
                return 2
            user, token = await auth.create_token(store, name)
            print(f"Created a token for {user.name} ({user.id}). It is shown only once:", file=sys.stderr)
            print(token)
            return 0
        if args.token_command == "list":
            rows = await store.tokens.all()
            if not rows:
                print("no tokens; create one with: cronagents token create --name NAME")
            for r in rows:
                state = "revoked" if r["revoked_at"] else "active"
                print(f"{r['prefix']}…  {r['user_name']:<20} {state:<8} created {iso(r['created_at'])}")
            return 0
        count = await store.tokens.revoke(args.prefix, now_ms())
        if count == 0:
            print(f"error: no active token with prefix or id {args.prefix!r}", file=sys.stderr)
            return 1
        print(f"revoked {count} token(s)")
        return 0


async def serve(args: argparse.Namespace) -> int:
    import logging
    import socket

    from app.credentials import missing_credentials_message
    from app.server import LOOPBACK_HOSTS, ServerConfig, running, uvicorn_server
    from app.signals import StopRequest, stop_on_signals

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    log = logging.getLogger("cronagents")
    path = db_path(args)
    no_credentials = missing_credentials_message()
    if no_credentials:
        log.warning(no_credentials)
    shown_host = socket.gethostname() if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    cfg = ServerConfig(
        db_path=path,
        max_concurrent_runs=args.max_concurrent_runs,
        run_scheduler=not args.no_scheduler,
        public_url=f"http://{shown_host}:{args.port}",
    )
    stop = StopRequest(log)
    with stop_on_signals(stop):  # until the runs are recorded and the database is closed
        async with running(cfg) as server:
            if args.host not in LOOPBACK_HOSTS and await server.store.tokens.count_active() == 0:
                log.error(
                    "refusing to listen on %s with no API token: create one first with "
                    "'cronagents token create --name NAME --db %s'",
                    args.host,
                    describe(path),
                )
                return 2
            web = uvicorn_server(server.app, args.host, args.port, access_log=not args.no_access_log)

            def stop_serving() -> None:
                server.bus.close()
                web.should_exit = True

            stop.on_stop(stop_serving)
            log.info("database %s (pid %d)", describe(path), os.getpid())
            try:
                await web.serve()
            except SystemExit:  # uvicorn's way to say it could not listen
                if web.started:
                    raise
            if not web.started and not stop.requested:
                log.error("could not listen on %s:%d (taken since the check?)", args.host, args.port)
                return 2
    log.info("stopped")
    return 0
