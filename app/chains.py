"""Chains: the agents a run's end starts (``onSuccess`` / ``onFailure``), and the rules that keep
a chain finite.

When a run's end is settled (:mod:`app.settle`) - a success, or a failure
after its last retry - each agent its agent names for that end gets a run with
trigger ``chain``, ``parentRunId`` the ended run and, as input, its output. A
chain never loops: a target already in the chain (the ended run's agent, or
the agent of any run that led to it) is recorded ``skipped`` with the reason,
and so is a run that would make the chain more than :data:`MAX_CHAIN_DEPTH`
runs deep after the first. The runs are written with the settlement, in one
transaction, so a chain step happens once however many servers settle.
"""

from __future__ import annotations

from app.auth import new_id
from app.model import Agent
from storage.interface import ChainedRun, Row, Storage

MAX_CHAIN_DEPTH = 5
"""Chained runs after the first run of a chain, at most."""


def targets(agent: Agent, status: str) -> list[str]:
    """The agents to start after a run of ``agent`` ended ``status`` for good (after retries)."""
    if status == "success":
        return list(agent.on_success)
    if status in ("error", "budget_exceeded"):
        return list(agent.on_failure)
    return []


async def chained_runs(store: Storage, run: Row, agent: Agent, owner: str) -> list[ChainedRun]:
    """The runs ``run``'s end starts (or the skipped rows saying why not)."""
    wanted = targets(agent, run["status"])
    if not wanted:
        return []
    chain = await store.runs.chain(run["id"])  # this run's agent first
    path = " → ".join(reversed(chain))
    out = []
    for agent_id in wanted:
        skipped = None
        if agent_id in chain:
            skipped = f"skipped: {agent_id} already ran in this chain ({path}); a chain never loops"
        elif len(chain) > MAX_CHAIN_DEPTH:
            skipped = (
                f"skipped: the chain ({path}) is already {len(chain) - 1} runs deep after its first "
                f"(at most {MAX_CHAIN_DEPTH})"
            )
        out.append(
            ChainedRun(
                run_id=new_id("run"),
                agent_id=agent_id,
                parent_run_id=run["id"],
                input=run["output"],
                owner=owner,
                skipped=skipped,
            )
        )
    return out
