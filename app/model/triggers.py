"""What starts an agent besides its clock: the ends of other agents' runs (chains) and signed
inbound webhooks (its trigger URL)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field

from app.model.rules import UNIQUE, Row, Stored, Wording

AGENT_ID_MAX_LENGTH = 64
MAX_CHAINED = 20
_AS_JSON = Stored(load=json.loads, dump=json.dumps)


def chain_targets(when: str) -> Any:
    """An ``onSuccess`` / ``onFailure`` field: agents started when a run ends ``when``."""
    return Field(
        [],
        title=f"On {when}, run",
        description=f"Ids of agents started when a run ends in {when} (after its retries), given its "
        'output as input (their runs: trigger "chain", parentRunId); a chain never loops nor passes '
        "5 runs deep",
        examples=[["agt_5f3a9c1e2b7d"]],
    )


AgentIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=AGENT_ID_MAX_LENGTH)]],
    Field(max_length=MAX_CHAINED),
    Wording(type="must be a list of agent ids", item="each agent id"),
    UNIQUE,
    _AS_JSON,
]
"""Ids of other agents (each must exist: checked by the service)."""


def hook_path(agent_id: str) -> str:
    """Where signed inbound webhooks for the agent are received."""
    return f"/hooks/agents/{agent_id}"


def trigger_url(row: Row) -> str | None:
    return hook_path(row["id"]) if row["trigger_secret"] else None
