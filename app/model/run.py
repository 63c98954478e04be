"""A run of an agent, and one event of its transcript, as the API shows them.

The attribute's name is the storage column; the wire uses the camelCase alias.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from app.model.rules import Instant, Money

RunStatus = Literal["queued", "running", "success", "error", "budget_exceeded", "cancelled", "skipped"]
RunTrigger = Literal["manual", "schedule", "retry", "chain", "webhook"]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)


class Run(BaseModel):
    """One execution of an agent, from queued to its end."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        json_schema_serialization_defaults_required=True,
    )

    id: str = Field(description="The run's id", examples=["run_8e2d4b6a1c3f"])
    agent_id: str = Field(description="The agent run")
    status: RunStatus = Field(
        description="queued: waiting for a free run slot; skipped: a scheduled slot not run "
        "(overlap forbidden, or missed while down)"
    )
    trigger: RunTrigger = Field(
        description="Started by hand (API, dashboard), by the schedule, as a retry of a failed run, by "
        "the end of another agent's run (chain), or by a signed inbound webhook"
    )
    scheduled_for: Instant | None = Field(description="The fire time of a scheduled run")
    output: str | None = Field(description="The final text, or what went wrong")
    cost_usd: Money | None = Field(description="What the run cost, in US dollars")
    input_tokens: int | None = Field(description="Input tokens used")
    output_tokens: int | None = Field(description="Output tokens used")
    num_turns: int | None = Field(description="Assistant turns taken")
    started_at: Instant = Field(description="When the run was queued or started")
    completed_at: Instant | None = Field(description="When the run ended; null while it goes on")
    duration_ms: int | None = Field(description="How long the run took, in milliseconds")
    attempt: int = Field(description="1 for a first run, 2 for its first retry, and so on")
    retry_of: str | None = Field(description="On a retry, the id of the first run it retries; else null")
    parent_run_id: str | None = Field(
        description="On a chained run (and its retries), the run whose end started it; else null"
    )
    input: str | None = Field(
        description="What the run was given ({{input}} in the prompt): a run body's input (JSON "
        "indented as text); null: none"
    )


class RunEvent(BaseModel):
    """One event of a run's transcript; the event's own fields follow its type."""

    model_config = ConfigDict(extra="allow", frozen=True)

    seq: Annotated[int, Field(description="Position in the transcript, from 1")]
    at: Annotated[Instant, Field(description="When it happened")]
    type: Annotated[str, Field(description="assistant_text, tool_use, tool_result, result, ...")]
