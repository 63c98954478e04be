"""Shared fixtures: a real database (a SQLite file, or a PostgreSQL schema), the server object,
clients in-process and over HTTP.

A test module marked ``pytest.mark.both_backends`` runs each test that uses the database
(the ``backend`` fixture, through ``db_target``/``server_config``) once on SQLite and once on
PostgreSQL; any other module, on SQLite only. PostgreSQL is the server at
``CRONAGENTS_TEST_POSTGRES_URL``, else at 127.0.0.1:5432 (database ``test``, user ``root``) if
one answers there; else those tests are skipped with the reason. Each PostgreSQL test gets a
schema of its own, dropped after it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import auth
from app.server import Server, ServerConfig, running, serving
from tests.processes import TAG_ENV

pytest_plugins = ["tests.fake_anthropic"]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the developer's own data directory or database."""
    home = tmp_path_factory.mktemp("cronagents-home")
    monkeypatch.setenv("CRONAGENTS_HOME", str(home))
    monkeypatch.delenv("CRONAGENTS_DB", raising=False)
    monkeypatch.delenv("CRONAGENTS_TOKEN", raising=False)


POSTGRES_URL_ENV = "CRONAGENTS_TEST_POSTGRES_URL"
LOCAL_POSTGRES_URL = "postgresql://root@127.0.0.1:5432/test"


@cache
def postgres_url() -> str | None:
    """The PostgreSQL server of the tests, or None when there is none."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        return url
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=0.5).close()
    except OSError:
        return None
    return LOCAL_POSTGRES_URL


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    chosen = any(m.args and m.args[0] == "backend" for m in metafunc.definition.iter_markers("parametrize"))
    if "backend" in metafunc.fixturenames and not chosen:
        both = metafunc.definition.get_closest_marker("both_backends") is not None
        metafunc.parametrize("backend", ["sqlite", "postgres"] if both else ["sqlite"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres`` (see the module docstring)."""
    name: str = request.param
    if name == "postgres" and postgres_url() is None:
        pytest.skip(f"no PostgreSQL: set {POSTGRES_URL_ENV} or start one at 127.0.0.1:5432")
    return name


@pytest.fixture
async def db_target(backend: str, tmp_path: Path) -> AsyncIterator[Path | str]:
    """The test's database, as ``--db`` takes it: a file, or a URL naming a fresh schema."""
    if backend == "sqlite":
        yield tmp_path / "cronagents.db"
        return
    import asyncpg

    url = postgres_url()
    assert url is not None
    schema = f"test_{uuid.uuid4().hex[:16]}"
    yield f"{url}{'&' if '?' in url else '?'}schema={schema}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def run_tag() -> str:
    """A marker in every agent run's environment, to find the run's processes in /proc."""
    return uuid.uuid4().hex


@pytest.fixture
def server_config(tmp_path: Path, fake_anthropic: Any, run_tag: str, db_target: Path | str) -> ServerConfig:
    """A server whose agent runs talk to the fake Messages API, never the real one."""
    return ServerConfig(
        db_path=db_target,
        run_scheduler=False,
        stats_zone="UTC",
        default_timezone="UTC",
        workspaces_dir=tmp_path / "workspaces",
        agent_env={**fake_anthropic.env(tmp_path / "agent"), TAG_ENV: run_tag},
    )


@pytest.fixture
async def server(server_config: ServerConfig) -> AsyncIterator[Server]:
    async with running(server_config) as srv:
        yield srv


@pytest.fixture
async def token(server: Server) -> str:
    _, tok = await auth.create_token(server.store, "Tony")
    return tok


@pytest.fixture
async def client(server: Server, token: str) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client (httpx + ASGI transport) holding a valid token."""
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {token}"},
    ) as c:
        yield c


@pytest.fixture
async def live_url(server: Server) -> AsyncIterator[str]:
    """The same server behind a real uvicorn socket on 127.0.0.1."""
    async with serving(server) as url:
        yield url


@pytest.fixture
async def live_client(live_url: str, token: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=live_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as c:
        yield c


def agent_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Daily Digest",
        "description": "Summarizes open tasks every morning",
        "schedule": "0 9 * * *",
        "prompt": "Review all open tasks and create a summary.",
    }
    body.update(overrides)
    return body


os.environ.setdefault("TZ", "UTC")
