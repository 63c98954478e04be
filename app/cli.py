"""The ``cronagents`` command line.

    cronagents [--db PATH] [--port P]          the dashboard, local mode (embedded server)
    cronagents tui --remote URL                the dashboard attached to a headless server
    cronagents serve [--host H] [--port P]     the headless API server, scheduler and runner
    cronagents token create --name NAME        a new API token, printed once on the last line
    cronagents token list | revoke PREFIX
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from app import config
from app.server import (
    LOOPBACK_HOSTS,
    ServerConfig,
    running,
    uvicorn_server,
)
from app.signals import StopRequest, stop_on_signals

DEFAULT_PORT = 8787
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _db_path(args: argparse.Namespace) -> Path:
    return Path(args.db).expanduser() if args.db else config.default_db_path()


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", default=argparse.SUPPRESS, help="database file (env CRONAGENTS_DB)"
    )
    parser = argparse.ArgumentParser(
        prog="cronagents",
        description="Scheduled Claude agents: dashboard, API server and tokens.",
        parents=[common],
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="port of the embedded API server (a free one if taken)")  # fmt: skip
    parser.add_argument("--max-concurrent-runs", type=int, default=4, metavar="N")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", parents=[common], help="run the headless API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--max-concurrent-runs", type=int, default=4, metavar="N",
                       help="runs at once; more wait as 'queued' (default 4)")  # fmt: skip
    serve.add_argument("--no-access-log", action="store_true",
                       help="do not log a line per request (about 20%% more req/s)")  # fmt: skip
    serve.add_argument("--no-scheduler", action="store_true",
                       help="serve the API and run agents by hand only")  # fmt: skip

    tui = sub.add_parser("tui", parents=[common], help="open the dashboard")
    tui.add_argument("--remote", metavar="URL",
                     help="attach to a headless server (token from CRONAGENTS_TOKEN)")  # fmt: skip
    tui.add_argument("--port", type=int, default=DEFAULT_PORT)

    token = sub.add_parser("token", parents=[common], help="manage API tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", parents=[common], help="create a token (printed once)")
    create.add_argument("--name", required=True, help="user the token belongs to")
    tsub.add_parser("list", parents=[common], help="list tokens (prefixes only)")
    revoke = tsub.add_parser("revoke", parents=[common], help="revoke a token by its prefix")
    revoke.add_argument("prefix")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not hasattr(args, "db"):
        args.db = None
    try:
        if args.command == "serve":
            return asyncio.run(serve(args))
        if args.command == "token":
            return asyncio.run(token_command(args))
        from app.tui_main import run_dashboard

        remote = getattr(args, "remote", None)
        return int(run_dashboard(db_path=_db_path(args), port=args.port, remote=remote,
                                 max_concurrent_runs=args.max_concurrent_runs))  # fmt: skip
    except KeyboardInterrupt:
        return 130


async def token_command(args: argparse.Namespace) -> int:
    from app import auth
    from storage import Database
    from storage import users as user_store

    async with Database(_db_path(args)) as db:
        if args.token_command == "create":
            name = args.name.strip()
            if not name or len(name) > 200:
                print("error: --name must be 1-200 characters", file=sys.stderr)
                return 2
            user, token = await auth.create_token(db, name)
            print(f"Created a token for {user.name} ({user.id}). It is shown only once:",
                  file=sys.stderr)  # fmt: skip
            print(token)
            return 0
        if args.token_command == "list":
            rows = await user_store.all_tokens(db)
            if not rows:
                print("no tokens; create one with: cronagents token create --name NAME")
            for r in rows:
                state = "revoked" if r["revoked_at"] else "active"
                from app.timeutil import iso

                print(f"{r['prefix']}…  {r['user_name']:<20} {state:<8} created {iso(r['created_at'])}")
            return 0
        from app.timeutil import now_ms

        count = await user_store.revoke_token(db, args.prefix, now_ms())
        if count == 0:
            print(f"error: no active token with prefix or id {args.prefix!r}", file=sys.stderr)
            return 1
        print(f"revoked {count} token(s)")
        return 0


async def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    log = logging.getLogger("cronagents")
    db_path = _db_path(args)
    cfg = ServerConfig(
        db_path=db_path,
        max_concurrent_runs=max(1, args.max_concurrent_runs),
        run_scheduler=not args.no_scheduler,
    )
    stop = StopRequest(log)
    with stop_on_signals(stop):  # until the runs are recorded and the database is closed
        async with running(cfg) as server:
            from storage import users as user_store

            if args.host not in LOOPBACK_HOSTS and await user_store.count_active_tokens(server.db) == 0:
                log.error(
                    "refusing to listen on %s with no API token: create one first with "
                    "'cronagents token create --name NAME --db %s'", args.host, db_path,
                )  # fmt: skip
                return 2
            web = uvicorn_server(server.app, args.host, args.port, access_log=not args.no_access_log)

            def stop_serving() -> None:
                server.bus.close()
                web.should_exit = True

            stop.on_stop(stop_serving)
            log.info("database %s (pid %d)", db_path, os.getpid())
            await web.serve()
            if not web.started and not stop.requested:
                log.error("could not listen on %s:%d", args.host, args.port)
                return 1
    log.info("stopped")
    return 0
