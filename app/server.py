"""Wiring: the database, service, runner, scheduler and API as one server object.

The same object serves ``cronagents serve`` (headless) and the dashboard's
embedded server, and the tests build it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from app import config
from app.alerts import Alerts
from app.api import build_api
from app.auth import TokenAuthenticator, new_id
from app.change_feed import ChangeFeed
from app.channel_service import ChannelService
from app.clock import Clock, SystemClock
from app.errors import ConfigError
from app.events import EventBus
from app.inbound import InboundHooks
from app.lease import LEASE_SECONDS, RENEW_SECONDS, ServerLease
from app.notify.deliverer import Deliverer
from app.notify.senders import SmtpConfig
from app.runner import Runner
from app.scheduler import Scheduler
from app.secret_box import SecretBox
from app.service import AgentService
from app.settle import Settler
from app.spend import SpendGate
from app.start_checks import StartChecks
from app.throttle import FailureThrottle
from app.timeutil import DayCalendar
from storage import StorageError
from storage.files import tighten_all
from storage.sqlite import SqliteStorage

log = logging.getLogger("cronagents.server")

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
PUBLIC_URL_ENV = "CRONAGENTS_PUBLIC_URL"


@dataclass
class ServerConfig:
    db_path: Path
    max_concurrent_runs: int = 4
    run_scheduler: bool = True
    stats_zone: str | None = None
    default_timezone: str | None = None
    # Extra environment for every agent run (on top of this process's own).
    agent_env: Mapping[str, str] = field(default_factory=dict)
    workspaces_dir: Path | None = None
    lease_seconds: float = LEASE_SECONDS
    renew_seconds: float = RENEW_SECONDS
    public_url: str | None = None
    """The API's address as alerts link to it (default: ``CRONAGENTS_PUBLIC_URL``)."""
    smtp: SmtpConfig | None = None
    """Where email alerts go (default: ``CRONAGENTS_SMTP_URL``)."""
    clock: Clock | None = None
    """The wall clock of retries, caps and alerts (tests inject a fake one)."""
    secret_key_file: Path | None = None


class Server:
    """Everything behind the API, started and stopped in the right order."""

    def __init__(self, cfg: ServerConfig) -> None:
        self.config = cfg
        self.server_id = new_id("srv")
        self.store = SqliteStorage(cfg.db_path)
        self.store.origin = self.server_id
        self.db = self.store.db  # the SQLite handle, for tests and tools that need SQL
        self.bus = EventBus()
        clock = cfg.clock or SystemClock()
        calendar = DayCalendar(cfg.stats_zone or config.stats_zone_name())
        try:
            smtp = cfg.smtp or SmtpConfig.from_env()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.secrets = SecretBox(key_file=cfg.secret_key_file)
        self.alerts = Alerts(
            self.store, base_url=cfg.public_url or os.environ.get(PUBLIC_URL_ENV), clock=clock.now_ms
        )
        self.gate = SpendGate(self.store, calendar, clock.now_ms)
        self.settler = Settler(self.store, self.alerts, self.gate, self.server_id, clock=clock.now_ms)
        self.runner = Runner(
            self.store,
            self.bus,
            calendar.day_of,
            owner=self.server_id,
            max_concurrent=cfg.max_concurrent_runs,
            agent_env=cfg.agent_env,
            workspaces_dir=cfg.workspaces_dir or config.workspaces_dir(),
            settler=self.settler,
            checks=StartChecks(self.store, self.gate, self.alerts),
            clock=clock,
            secrets=self.secrets,
        )
        self.channels = ChannelService(self.store, self.secrets, clock.now_ms)
        self.service = AgentService(
            self.store,
            self.bus,
            runner=self.runner,
            calendar=calendar,
            default_timezone=cfg.default_timezone or config.local_zone_name(),
            clock=clock.now_ms,
            channels=self.channels,
            checks=self.runner.checks,
            secrets=self.secrets,
        )
        self.deliverer = Deliverer(self.store, self.server_id, self.secrets, smtp=smtp, clock=clock.now_ms)
        self.alerts.on_raised(self.deliverer.wake)
        self.lease = ServerLease(
            self.runner,
            self.store,
            self.bus,
            calendar.day_of,
            self.server_id,
            lease_seconds=cfg.lease_seconds,
            renew_seconds=cfg.renew_seconds,
        )
        self.changes = ChangeFeed(self.service, self.runner, self.store)
        self.authenticator = TokenAuthenticator(self.store)
        # Refused webhooks are throttled as failed tokens are, each in a window of its own.
        self.hooks = InboundHooks(self.service, self.runner, self.secrets, FailureThrottle(), clock.now_ms)
        self.app = build_api(
            self.service, self.channels, self.deliverer, self.authenticator, self.bus, self.hooks
        )
        self.extras: list[Any] = []
        self.scheduler: Scheduler | None = None
        self.clock = clock

    async def start(self) -> None:
        await asyncio.to_thread(tighten_private_files, self.runner.workspaces_dir)
        try:
            await self.secrets.load()
        except (ValueError, OSError) as exc:
            raise ConfigError(f"cannot load the secret key: {exc}") from None
        await self.store.open()
        try:
            await self.service.prepare()
            await self.runner.start()
            await self.lease.start()
            await self.changes.start()
            await self.deliverer.start()
            if self.config.run_scheduler:
                # After the lease ended the runs of dead servers, so that
                # `forbid` does not take them for runs still going.
                self.scheduler = Scheduler(
                    self.service,
                    self.runner,
                    self.store,
                    self.bus,
                    clock=self.clock,
                    missed=self.alerts.missed_slots,
                )
                await self.scheduler.start()
                self.extras.append(self.scheduler)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        self.bus.close()
        for extra in reversed(self.extras):
            await extra.stop()
        self.extras.clear()
        await self.changes.stop()
        await self.runner.stop()
        await self.deliverer.stop()
        with contextlib.suppress(StorageError):
            await self.lease.stop()
        await self.store.close()


def tighten_private_files(*extra: Path) -> None:
    """Make the data and log directories, what lies directly in them, the config
    file and ``extra`` private (0700/0600); blocking (run it in a thread)."""
    tighten_all((config.data_dir(), config.log_dir(), *extra), (config.config_path(),))


@contextlib.asynccontextmanager
async def running(cfg: ServerConfig) -> AsyncIterator[Server]:
    server = Server(cfg)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class QuietUvicorn(uvicorn.Server):
    """uvicorn that leaves signals to us (so shutdown can finish our own cleanup first)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_server(
    app: Any, host: str, port: int, *, log_to_stderr: bool = True, access_log: bool = True
) -> QuietUvicorn:
    cfg = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        log_config=None,
        access_log=log_to_stderr and access_log,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    return QuietUvicorn(cfg)


@contextlib.asynccontextmanager
async def serving(server: Server, host: str = "127.0.0.1", port: int | None = None) -> AsyncIterator[str]:
    """``server``'s API behind a real uvicorn socket (a free port by default); yields its URL.

    Logs go to the root logger, never the console. On exit the event stream
    is closed first (so open SSE responses end) and uvicorn is told to stop,
    then awaited.
    """
    port = port or free_port(host)
    web = uvicorn_server(server.app, host, port, log_to_stderr=False)
    task = asyncio.create_task(web.serve())
    try:
        await wait_until_started(web)
        yield f"http://{host}:{port}"
    finally:
        server.bus.close()
        web.should_exit = True
        async with asyncio.timeout(15):
            await task


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def wait_until_started(server: uvicorn.Server, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not server.started:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the API server did not start")
        await asyncio.sleep(0.01)
