"""``cronagents`` (local mode) and ``cronagents tui --remote URL``: start the dashboard.

Local mode runs the embedded server (API, scheduler, runner) in the dashboard's
own asyncio loop, on 127.0.0.1, with uvicorn logging to a rotated file in the
user log directory (never onto the screen; see :mod:`app.logfile`), and talks
to it over HTTP like any client, with a token it keeps in
``<data dir>/local-token`` (mode 0600). Without an explicit port it listens on
DEFAULT_PORT, or a free port when that one is taken.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from app import config
from app.client import ApiClient, ApiError
from app.credentials import missing_credentials_message
from app.logfile import log_to_file
from app.ports import DEFAULT_PORT
from app.signals import StopRequest, stop_on_signals
from storage.backend import describe
from storage.files import private_dir

__all__ = ["DEFAULT_PORT", "local_token", "log_to_file", "run_dashboard", "run_local", "run_remote"]

TOKEN_FILE = "local-token"
log = logging.getLogger("cronagents.tui")


def _read_token(path: Path) -> str | None:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token or None


def _write_token(path: Path, token: str) -> None:
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)


async def local_token(server: object, base_url: str, path: Path | None = None) -> str:
    """The saved local token if it still works, else a new one (saved, 0600)."""
    from app import auth
    from app.server import Server

    assert isinstance(server, Server)
    path = path or config.data_dir() / TOKEN_FILE
    token = _read_token(path)
    if token is not None:
        probe = ApiClient(base_url, token, timeout=5)
        try:
            await probe.list_agents()
            return token
        except ApiError:
            pass
        finally:
            await probe.aclose()
    _, token = await auth.create_token(server.store, "local")
    _write_token(path, token)
    return token


async def run_local(db_path: Path | str, port: int | None, max_concurrent_runs: int) -> int:
    """The dashboard over its embedded server; a stop signal ends both as ``serve`` ends.

    ``port`` None: DEFAULT_PORT, or a free one if that is taken; a port given is used as is.
    """
    from app.server import ServerConfig, free_port, port_is_free, running, serving

    log_to_file(config.log_path())
    no_credentials = missing_credentials_message()
    if no_credentials:
        log.warning(no_credentials)
    host = "127.0.0.1"
    if port is None:
        port = DEFAULT_PORT if port_is_free(host, DEFAULT_PORT) else free_port(host)
    cfg = ServerConfig(
        db_path=db_path, max_concurrent_runs=max_concurrent_runs, public_url=f"http://{host}:{port}"
    )
    stop = StopRequest(log)
    # Installed before the server starts and kept until it has stopped: its runs are
    # recorded and their processes ended whatever the moment the signal comes.
    with stop_on_signals(stop):
        async with running(cfg) as server, serving(server, host, port) as base_url:
            log.info("dashboard: embedded API on %s, database %s", base_url, describe(db_path))
            client = ApiClient(base_url, await local_token(server, base_url))
            try:
                await _run_app(
                    client, f"local · {base_url}", stop, config.local_zone_name(), notice=no_credentials or ""
                )
            finally:
                await client.aclose()
    log.info("dashboard: stopped")
    return 0


async def run_remote(url: str, token: str) -> int:
    log_to_file(config.log_path())
    client = ApiClient(url, token)
    stop = StopRequest(log)
    with stop_on_signals(stop):
        try:
            try:
                await client.list_agents()
            except ApiError as exc:
                if exc.status == 401:
                    print(
                        f"error: {url} refused the token in CRONAGENTS_TOKEN ({exc.message})", file=sys.stderr
                    )
                    return 2
                # Unreachable: open anyway; the banner says so and it keeps retrying.
            await _run_app(client, f"remote · {url}", stop)
        finally:
            await client.aclose()
    return 0


async def _run_app(
    client: ApiClient, source: str, stop: StopRequest, default_timezone: str = "", notice: str = ""
) -> None:
    """The dashboard until the user quits or a stop signal comes (then it exits as if quit)."""
    from app.tui.app import build_app
    from app.tui.keymap import load_keymap

    if stop.requested:
        return
    app = build_app(
        client, source=source, keymap=load_keymap(), default_timezone=default_timezone, notice=notice
    )
    # Safe at any moment: before the app runs it then never starts, after it ends it is a no-op.
    stop.on_stop(app.exit)
    await app.run_async()


def run_dashboard(db_path: Path | str, port: int | None, remote: str | None, max_concurrent_runs: int) -> int:
    """Entry point for ``app.cli``: local mode when ``remote`` is None (``port``: see run_local)."""
    if remote is not None:
        token = os.environ.get("CRONAGENTS_TOKEN", "").strip()
        if not token:
            print(
                "error: set CRONAGENTS_TOKEN to an API token of the remote server "
                "(make one there with: cronagents token create --name NAME)",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(run_remote(remote, token))
    return asyncio.run(run_local(db_path, port, max_concurrent_runs))
