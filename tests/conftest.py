"""Shared fixtures: a real database file, the server object, clients in-process and over HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
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


@pytest.fixture
def run_tag() -> str:
    """A marker in every agent run's environment, to find the run's processes in /proc."""
    return uuid.uuid4().hex


@pytest.fixture
def server_config(tmp_path: Path, fake_anthropic: Any, run_tag: str) -> ServerConfig:
    """A server whose agent runs talk to the fake Messages API, never the real one."""
    return ServerConfig(
        db_path=tmp_path / "cronagents.db",
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
