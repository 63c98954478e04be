"""What a run is given: its prompt with the placeholders filled in, its directory, its environment.

:class:`RunSpecs` turns an agent and its run row into the
:class:`~app.agent_session.SessionSpec` of one Claude Code session: the prompt
rendered for this run (:mod:`app.templates`: the run's input, the time in the
agent's zone, the previous successful output, the agent's name), the agent's
``cwd`` or its own private workspace, and the environment: the server's extra
variables and the agent's secrets, opened here (:mod:`app.agent_secrets`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from app.agent_secrets import open_env
from app.agent_session import SessionSpec
from app.clock import Clock
from app.model import Agent
from app.secret_box import SecretBox, SecretUnreadable
from app.templates import render, uses
from storage.files import private_dir
from storage.interface import Row, Storage


class RunSpecs:
    """Builds the session of each run (see the module docstring)."""

    def __init__(
        self,
        store: Storage,
        clock: Clock,
        *,
        agent_env: Mapping[str, str],
        workspaces_dir: Path,
        secrets: SecretBox | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.agent_env = dict(agent_env)
        self.workspaces_dir = workspaces_dir
        self.secrets = secrets

    async def spec(
        self, agent: Agent, run: Row, *, max_budget_usd: float | None, labels: Mapping[str, str]
    ) -> SessionSpec:
        """The session of ``run`` (its row, as queued) of ``agent``; ``labels`` mark its processes."""
        cwd = agent.cwd or str(await self.workspace(agent.id))
        secrets = self.open_secrets(agent)
        return SessionSpec(
            prompt=await self.prompt(agent, run),
            cwd=cwd,
            max_turns=agent.max_turns,
            max_budget_usd=max_budget_usd,
            model=agent.model,
            allowed_tools=tuple(agent.allowed_tools),
            permission_mode=agent.permission_mode,
            timeout_seconds=float(agent.timeout_seconds),
            env=self.agent_env,
            secrets=secrets,
            labels=labels,
            load_project_settings=agent.load_project_settings,
            mcp_servers=agent.mcp_servers,
        )

    def open_secrets(self, agent: Agent) -> dict[str, str]:
        """The agent's secrets in the clear (a key that cannot open them fails the run, saying so)."""
        if not agent.env:
            return {}
        if self.secrets is None:
            raise SecretUnreadable("this server has no secret key to open the agent's secrets with")
        return open_env({name: value for name, value in agent.env.items() if value is not None}, self.secrets)

    async def prompt(self, agent: Agent, run: Row) -> str:
        """The agent's prompt with its placeholders filled in for this run."""
        last = None
        if uses(agent.prompt, "lastOutput"):
            last = await self.store.runs.last_output(agent.id, run["id"])
        now = datetime.fromtimestamp(self.clock.now_ms() / 1000, ZoneInfo(agent.timezone))
        values = {
            "input": run["input"],
            "now": now.isoformat(timespec="seconds"),
            "lastOutput": last,
            "agent.name": agent.name,
        }
        return render(agent.prompt, values)

    async def workspace(self, agent_id: str) -> Path:
        """The agent's own private directory (made on demand)."""
        path = self.workspaces_dir / agent_id
        await asyncio.to_thread(private_dir, path)
        return path
