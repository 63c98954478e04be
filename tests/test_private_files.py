"""Everything cronagents keeps is private to its user: transcripts can hold anything."""

from __future__ import annotations

import stat
from pathlib import Path

from app import config
from app.server import Server, ServerConfig, running
from tests.conftest import agent_body


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_database_and_its_directory_are_private(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "cronagents.db"
    cfg = ServerConfig(db_path=db, run_scheduler=False, workspaces_dir=tmp_path / "ws")
    async with running(cfg) as server:
        await server.service.create_agent(agent_body(), None)
        sidecars = [db.with_name(db.name + s) for s in ("-wal", "-shm")]
        assert all(p.exists() for p in sidecars)
        assert {p.name: mode(p) for p in [db, *sidecars]} == {p.name: 0o600 for p in [db, *sidecars]}
    assert mode(db.parent) == 0o700 and mode(db.parent.parent) == 0o700


async def test_existing_files_are_tightened_at_start(tmp_path: Path) -> None:
    home = config.data_dir()
    home.mkdir(parents=True, exist_ok=True, mode=0o755)
    home.chmod(0o755)
    db = home / "cronagents.db"
    log = home / "cronagents.log"
    conf = home / "config.toml"
    workspaces = home / "workspaces"
    (workspaces / "agt_old").mkdir(parents=True)
    for path in (log, conf):
        path.write_text("x")
        path.chmod(0o644)
    workspaces.chmod(0o755)
    (workspaces / "agt_old").chmod(0o755)
    cfg = ServerConfig(db_path=db, run_scheduler=False, workspaces_dir=workspaces)
    async with running(cfg):
        pass
    db.chmod(0o644)
    async with running(cfg):
        pass
    assert mode(home) == 0o700
    assert {p.name: mode(p) for p in (db, log, conf)} == {p.name: 0o600 for p in (db, log, conf)}
    assert mode(workspaces) == 0o700 and mode(workspaces / "agt_old") == 0o700


async def test_a_runs_workspace_is_private(server: Server) -> None:
    path = await server.runner.specs.workspace("agt_new")
    assert mode(path) == 0o700 and mode(path.parent) == 0o700
